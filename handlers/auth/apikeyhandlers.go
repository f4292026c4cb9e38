package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// Limits of API key creation.
const (
	maxAPIKeysPerUser = 100
	maxAPIKeyNameLen  = 100
	maxAPIKeyLifetime = 10 * 365 * 24 * time.Hour
	// minAPIKeyLifetime refuses keys that would be expired by the time
	// their creator reads them ("expires_in": "1ns").
	minAPIKeyLifetime = time.Second
)

// apiKeyJSON is an API key as the API shows it: never the key itself, except
// once in the answer that creates it, and never its hash.
type apiKeyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Suffix     string     `json:"suffix"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Status     string     `json:"status"` // "active" or "expired"
	Key        string     `json:"key,omitempty"`
}

func apiKeyView(k store.APIKey, now time.Time) apiKeyJSON {
	v := apiKeyJSON{
		ID:         k.PublicID,
		Name:       k.Name,
		Prefix:     k.Prefix,
		Suffix:     k.Suffix,
		CreatedAt:  k.CreatedAt.UTC(),
		ExpiresAt:  utcPtr(k.ExpiresAt),
		LastUsedAt: utcPtr(k.LastUsedAt),
		Status:     "active",
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		v.Status = "expired"
	}
	return v
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// createAPIKeyRequest is the body of POST /llm/auth/api-keys. Every field is
// optional. expires_at is an RFC 3339 time or Unix seconds; expires_in is a
// number of seconds or a Go duration such as "720h".
type createAPIKeyRequest struct {
	Name      string          `json:"name"`
	ExpiresAt json.RawMessage `json:"expires_at"`
	ExpiresIn json.RawMessage `json:"expires_in"`
}

// keyManager returns the principal of a request that manages API keys, or
// the error that refuses it. Managing keys takes a session (a
// gateway or OIDC access token): an API key must not be able to list,
// create or revoke its owner's other keys, so a leaked key cannot be used to
// entrench itself or lock its owner out.
func keyManager(r *http.Request) (*principal.Principal, error) {
	p := principal.From(r.Context())
	switch {
	case p == nil:
		return nil, MissingCredentials()
	case p.Method == principal.MethodAPIKey:
		return nil, errKeyCannotManageKeys
	}
	return p, nil
}

func (s *Service) handleCreateAPIKey(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	if p.Kind == principal.KindGuest {
		return errGuestCannotCreateKeys
	}
	var req createAPIKeyRequest
	if aerr := httpx.DecodeJSON(w, r, maxBodySize, &req); aerr != nil {
		return aerr
	}
	name := strings.TrimSpace(req.Name)
	if utf8.RuneCountInString(name) > maxAPIKeyNameLen {
		return apierr.Invalid("name", "invalid_name", "name must be at most "+strconv.Itoa(maxAPIKeyNameLen)+" characters")
	}
	now := s.now()
	expiresAt, aerr := requestedExpiry(req, now)
	if aerr != nil {
		return aerr
	}

	key := newAPIKey()
	sum := hashString(key)
	// The store counts and inserts atomically: concurrent creates cannot
	// pass the cap together.
	rec, err := s.st.CreateAPIKey(r.Context(), store.APIKey{
		UserID:    p.UserID,
		Name:      name,
		Prefix:    key[:apiKeyShownPrefix],
		Suffix:    key[len(key)-apiKeyShownSuffix:],
		Hash:      sum[:],
		ExpiresAt: expiresAt,
	}, maxAPIKeysPerUser)
	if errors.Is(err, store.ErrLimitReached) {
		return apierr.New(http.StatusBadRequest, "api_key_limit_reached",
			"at most "+strconv.Itoa(maxAPIKeysPerUser)+" API keys per user; delete one first")
	}
	if err != nil {
		return storeFailure(s.log, "creating an API key", err)
	}
	s.apiKeys.remember(key, rec, store.User{
		ID:       p.UserID,
		PublicID: p.UserPublicID,
		Issuer:   p.Issuer,
		Username: p.Username,
		Email:    p.Email,
	})
	view := apiKeyView(rec, now)
	view.Key = key
	noStore(w)
	httpx.WriteJSON(w, http.StatusCreated, view)
	return nil
}

// requestedExpiry returns the expiry a create request asks for, nil for
// none.
func requestedExpiry(req createAPIKeyRequest, now time.Time) (*time.Time, *apierr.Error) {
	atSet, inSet := !isJSONNull(req.ExpiresAt), !isJSONNull(req.ExpiresIn)
	var at time.Time
	switch {
	case atSet && inSet:
		return nil, apierr.Invalid("expires_in", "invalid_expiry", "give expires_at or expires_in, not both")
	case atSet:
		var ok bool
		if at, ok = parseTimeJSON(req.ExpiresAt); !ok {
			return nil, apierr.Invalid("expires_at", "invalid_expiry", "expires_at must be an RFC 3339 time or Unix seconds")
		}
	case inSet:
		d, ok := parseDurationJSON(req.ExpiresIn)
		if !ok || d < minAPIKeyLifetime || d > maxAPIKeyLifetime {
			return nil, apierr.Invalid("expires_in", "invalid_expiry", "expires_in must be a number of seconds or a duration such as \"720h\", at least a second and at most ten years")
		}
		at = now.Add(d)
	default:
		return nil, nil
	}
	if at.Sub(now) < minAPIKeyLifetime {
		return nil, apierr.Invalid("expires_at", "invalid_expiry", "expires_at must be at least a second in the future")
	}
	if at.Sub(now) > maxAPIKeyLifetime {
		return nil, apierr.Invalid("expires_at", "invalid_expiry", "expires_at must be at most ten years ahead")
	}
	at = at.UTC()
	return &at, nil
}

func isJSONNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// parseTimeJSON reads an RFC 3339 string or a number of Unix seconds.
func parseTimeJSON(raw json.RawMessage) (time.Time, bool) {
	var str string
	if json.Unmarshal(raw, &str) == nil {
		t, err := time.Parse(time.RFC3339, str)
		return t, err == nil
	}
	var secs float64
	if json.Unmarshal(raw, &secs) != nil || secs <= 0 || secs > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(secs), 0), true
}

// parseDurationJSON reads a number of seconds, or a string holding either a
// Go duration or a number of seconds.
func parseDurationJSON(raw json.RawMessage) (time.Duration, bool) {
	var secs float64
	if json.Unmarshal(raw, &secs) == nil {
		if secs <= 0 || secs > maxAPIKeyLifetime.Seconds() {
			return 0, false
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	var str string
	if json.Unmarshal(raw, &str) != nil {
		return 0, false
	}
	if d, err := time.ParseDuration(str); err == nil {
		return d, true
	}
	n, err := strconv.ParseInt(str, 10, 64)
	if err != nil || n <= 0 || n > int64(maxAPIKeyLifetime/time.Second) {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// apiKeyList is the answer of GET /llm/auth/api-keys.
type apiKeyList struct {
	Items []apiKeyJSON `json:"items"`
}

func (s *Service) handleListAPIKeys(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	keys, err := s.st.ListAPIKeys(r.Context(), p.UserID)
	if err != nil {
		return storeFailure(s.log, "listing API keys", err)
	}
	now := s.now()
	list := apiKeyList{Items: make([]apiKeyJSON, 0, len(keys))}
	for _, k := range keys {
		list.Items = append(list.Items, apiKeyView(k, now))
	}
	httpx.WriteJSON(w, http.StatusOK, list)
	return nil
}

func (s *Service) handleDeleteAPIKey(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	id := r.PathValue("id")
	err := s.st.RevokeAPIKey(r.Context(), p.UserID, id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("API key")
	}
	if err != nil {
		return storeFailure(s.log, "revoking an API key", err)
	}
	s.apiKeys.forget(id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
