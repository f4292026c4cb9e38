package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

// userEnv is a Service with OIDC on, its test server, and the access token
// of an OIDC user (guests may not create API keys).
type userEnv struct {
	svc   *Service
	srv   *httptest.Server
	prov  *testProvider
	token string
}

func newUserEnv(t testing.TB, st store.Store, cfg Config) userEnv {
	t.Helper()
	prov := newTestProvider(t)
	cfg.OIDC = prov.config()
	svc := newService(t, st, cfg)
	now := time.Now()
	if cfg.Now != nil {
		now = cfg.Now()
	}
	return userEnv{svc: svc, srv: newServer(t, svc), prov: prov, token: prov.mint(t, "rsa-0", prov.claims(now))}
}

func TestAPIKeyLifecycle(t *testing.T) { testAPIKeyLifecycle(t, memory.New()) }

func testAPIKeyLifecycle(t *testing.T, st store.Store) {
	env := newUserEnv(t, st, Config{})
	user, resp, data := whoamiAs(t, env.srv, bearer(env.token))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OIDC user: status %d: %s", resp.StatusCode, data)
	}

	resp, data = call(t, env.srv, "POST", PathAPIKeys, `{"name":"laptop"}`, bearer(env.token))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d: %s", resp.StatusCode, data)
	}
	created := decode[apiKeyJSON](t, data)
	suiteSecrets.add(created.Key)
	key := created.Key
	if !strings.HasPrefix(key, "sk_") || len(key) != apiKeyLen {
		t.Fatalf("key %d characters, want sk_ and %d", len(key), apiKeyLen-3)
	}
	if created.Name != "laptop" || created.Prefix != key[:8] || created.Suffix != key[len(key)-4:] ||
		!strings.HasPrefix(created.ID, "key_") || created.Status != "active" || created.ExpiresAt != nil || created.CreatedAt.IsZero() {
		t.Errorf("created key %+v", created)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Error("the response showing the key may be cached")
	}

	resp, data = call(t, env.srv, "GET", PathAPIKeys, "", bearer(env.token))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list: status %d: %s", resp.StatusCode, data)
	}
	if strings.Contains(string(data), key[3:]) || strings.Contains(string(data), `"key"`) || strings.Contains(string(data), "hash") {
		t.Fatalf("list shows the key or its hash: %s", data)
	}
	list := decode[apiKeyList](t, data)
	if len(list.Items) != 1 || list.Items[0].ID != created.ID || list.Items[0].Prefix != created.Prefix {
		t.Fatalf("list = %s", data)
	}
	for _, field := range []string{`"id"`, `"name"`, `"prefix"`, `"suffix"`, `"created_at"`, `"expires_at"`, `"last_used_at"`} {
		if !strings.Contains(string(data), field) {
			t.Errorf("list item lacks %s: %s", field, data)
		}
	}

	for _, header := range []string{"X-API-Key: " + key, bearer(key)} {
		p, resp, data := whoamiAs(t, env.srv, header)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s…: status %d: %s", header[:12], resp.StatusCode, data)
		}
		if p.Kind != principal.KindAPIKey || p.Method != principal.MethodAPIKey || p.UserID != user.UserID || p.APIKeyID == 0 {
			t.Errorf("principal %+v, want the user's, by API key", p)
		}
	}

	resp, data = call(t, env.srv, "DELETE", PathAPIKeys+"/"+created.ID, "", bearer(env.token))
	if resp.StatusCode != http.StatusNoContent || len(data) != 0 {
		t.Fatalf("delete: status %d: %s", resp.StatusCode, data)
	}
	// Refused at once on this replica, in both headers.
	for _, header := range []string{"X-API-Key: " + key, bearer(key)} {
		_, resp, data := whoamiAs(t, env.srv, header)
		wantError(t, resp, data, http.StatusUnauthorized, "invalid_api_key")
	}
	resp, data = call(t, env.srv, "DELETE", PathAPIKeys+"/"+created.ID, "", bearer(env.token))
	wantError(t, resp, data, http.StatusNotFound, "not_found")
	resp, data = call(t, env.srv, "GET", PathAPIKeys, "", bearer(env.token))
	if list := decode[apiKeyList](t, data); len(list.Items) != 0 {
		t.Errorf("revoked key still listed: %s", data)
	}
}

func TestAPIKeyOfAnotherUserCannotBeDeleted(t *testing.T) {
	env := newUserEnv(t, nil, Config{})
	k := createKey(t, env.srv, bearer(env.token), `{}`)

	claims := env.prov.claims(time.Now())
	claims["sub"] = "kc-user-2"
	other := env.prov.mint(t, "rsa-0", claims)
	resp, data := call(t, env.srv, "DELETE", PathAPIKeys+"/"+k.ID, "", bearer(other))
	wantError(t, resp, data, http.StatusNotFound, "not_found")
	if _, resp, data := whoamiAs(t, env.srv, "X-API-Key: "+k.Key); resp.StatusCode != http.StatusOK {
		t.Fatalf("key deleted by another user: status %d: %s", resp.StatusCode, data)
	}
	resp, data = call(t, env.srv, "GET", PathAPIKeys, "", bearer(other))
	if list := decode[apiKeyList](t, data); len(list.Items) != 0 {
		t.Errorf("another user's key is listed: %s", data)
	}
}

func TestGuestsAndKeysCannotCreateKeys(t *testing.T) {
	env := newUserEnv(t, nil, Config{})
	guest := guestLogin(t, env.srv)
	resp, data := call(t, env.srv, "POST", PathAPIKeys, `{"name":"x"}`, bearer(guest.AccessToken))
	wantError(t, resp, data, http.StatusForbidden, "guest_not_allowed")
	if msg := apiError(t, data).Message; !strings.Contains(msg, "guest") || !strings.Contains(msg, "sign in") {
		t.Errorf("message %q does not say why", msg)
	}
	resp, data = call(t, env.srv, "GET", PathAPIKeys, "", bearer(guest.AccessToken))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(data)) != `{"items":[]}` {
		t.Errorf("guest list: status %d: %s", resp.StatusCode, data)
	}

	k := createKey(t, env.srv, bearer(env.token), ``)
	resp, data = call(t, env.srv, "POST", PathAPIKeys, `{}`, "X-API-Key: "+k.Key)
	wantError(t, resp, data, http.StatusForbidden, "api_key_not_allowed")

	resp, data = call(t, env.srv, "POST", PathAPIKeys, `{}`)
	wantError(t, resp, data, http.StatusUnauthorized, "missing_credentials")
}

func TestAPIKeyCreateValidation(t *testing.T) {
	clock := newFakeClock()
	env := newUserEnv(t, nil, Config{Now: clock.Now})
	future := clock.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	tests := []struct {
		name    string
		body    string
		status  int
		code    string
		expires time.Duration // wanted expiry from now, when created; 0 = none
	}{
		{"empty body", ``, http.StatusCreated, "", 0},
		{"no expiry", `{"name":"ci"}`, http.StatusCreated, "", 0},
		{"expires_in seconds", `{"expires_in":3600}`, http.StatusCreated, "", time.Hour},
		{"expires_in duration", `{"expires_in":"720h"}`, http.StatusCreated, "", 720 * time.Hour},
		{"expires_in digits", `{"expires_in":"60"}`, http.StatusCreated, "", time.Minute},
		{"expires_at RFC 3339", `{"expires_at":"` + future.Format(time.RFC3339) + `"}`, http.StatusCreated, "", 48 * time.Hour},
		{"expires_at unix", `{"expires_at":` + strconv.FormatInt(future.Unix(), 10) + `}`, http.StatusCreated, "", 48 * time.Hour},
		{"null expiry", `{"expires_at":null,"expires_in":null}`, http.StatusCreated, "", 0},
		{"both", `{"expires_at":"` + future.Format(time.RFC3339) + `","expires_in":60}`, http.StatusBadRequest, "invalid_expiry", 0},
		{"negative expires_in", `{"expires_in":-5}`, http.StatusBadRequest, "invalid_expiry", 0},
		{"zero expires_in", `{"expires_in":0}`, http.StatusBadRequest, "invalid_expiry", 0},
		{"word expires_in", `{"expires_in":"soon"}`, http.StatusBadRequest, "invalid_expiry", 0},
		{"past expires_at", `{"expires_at":"2001-01-01T00:00:00Z"}`, http.StatusBadRequest, "invalid_expiry", 0},
		{"bad expires_at", `{"expires_at":"tomorrow"}`, http.StatusBadRequest, "invalid_expiry", 0},
		{"far expires_in", `{"expires_in":"100000h"}`, http.StatusBadRequest, "invalid_expiry", 0},
		{"long name", `{"name":"` + strings.Repeat("n", 101) + `"}`, http.StatusBadRequest, "invalid_name", 0},
		{"invalid json", `{"name":`, http.StatusBadRequest, "invalid_json", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := call(t, env.srv, "POST", PathAPIKeys, tt.body, bearer(env.token))
			if tt.status != http.StatusCreated {
				wantError(t, resp, data, tt.status, tt.code)
				return
			}
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %d: %s", resp.StatusCode, data)
			}
			k := decode[apiKeyJSON](t, data)
			suiteSecrets.add(k.Key)
			switch {
			case tt.expires == 0 && k.ExpiresAt != nil:
				t.Errorf("expires_at %v, want none", k.ExpiresAt)
			case tt.expires != 0 && (k.ExpiresAt == nil || k.ExpiresAt.Sub(clock.Now()).Round(time.Second) != tt.expires):
				t.Errorf("expires_at %v, want in %v", k.ExpiresAt, tt.expires)
			}
		})
	}
}

func TestAPIKeyExpiresOnEveryUse(t *testing.T) {
	clock := newFakeClock()
	env := newUserEnv(t, nil, Config{Now: clock.Now})
	k := createKey(t, env.srv, bearer(env.token), `{"expires_in":60}`)
	if _, resp, data := whoamiAs(t, env.srv, "X-API-Key: "+k.Key); resp.StatusCode != http.StatusOK {
		t.Fatalf("fresh key: status %d: %s", resp.StatusCode, data)
	}
	clock.Advance(61 * time.Second) // still in the cache: expiry is checked on use
	_, resp, data := whoamiAs(t, env.srv, "X-API-Key: "+k.Key)
	wantError(t, resp, data, http.StatusUnauthorized, "api_key_expired")

	// The token of the OIDC user has expired by now as well; use a new one.
	token := env.prov.mint(t, "rsa-0", env.prov.claims(clock.Now()))
	_, data = call(t, env.srv, "GET", PathAPIKeys, "", bearer(token))
	if list := decode[apiKeyList](t, data); len(list.Items) != 1 || list.Items[0].Status != "expired" {
		t.Errorf("list: %s", data)
	}
}

func TestAPIKeyWithOneCharacterChangedIsRefused(t *testing.T) {
	env := newUserEnv(t, nil, Config{})
	k := createKey(t, env.srv, bearer(env.token), `{}`)
	for _, i := range []int{3, 20, len(k.Key) - 1} {
		changed := []byte(k.Key)
		if changed[i] == 'A' {
			changed[i] = 'B'
		} else {
			changed[i] = 'A'
		}
		for _, header := range []string{"X-API-Key: " + string(changed), bearer(string(changed))} {
			_, resp, data := whoamiAs(t, env.srv, header)
			wantError(t, resp, data, http.StatusUnauthorized, "invalid_api_key")
		}
	}
}

func TestUnknownAPIKeysAreCachedBriefly(t *testing.T) {
	cs := newCountingStore(memory.New())
	s := newService(t, cs, Config{})
	garbage := "sk_" + newOpaqueToken()
	for range 20 {
		if _, err := s.apiKeys.authenticate(context.Background(), garbage); err != errInvalidAPIKey {
			t.Fatalf("err = %v, want invalid_api_key", err)
		}
	}
	if n := cs.get("GetAPIKeyByHash"); n != 1 {
		t.Errorf("20 uses of one unknown key read the store %d times, want 1", n)
	}
	for _, malformed := range []string{"sk_", "sk_short", "sk_" + strings.Repeat("!", 43), "pk_" + newOpaqueToken(), "sk_" + newOpaqueToken() + "x"} {
		if _, err := s.apiKeys.authenticate(context.Background(), malformed); err != errInvalidAPIKey {
			t.Fatalf("err = %v, want invalid_api_key", err)
		}
	}
	if n := cs.get("GetAPIKeyByHash"); n != 1 {
		t.Errorf("malformed keys read the store (%d reads)", n)
	}
}

func TestAPIKeyLastUsedIsBatched(t *testing.T) {
	cs := newCountingStore(memory.New())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prov := newTestProvider(t)
	svc, err := New(ctx, cs, Config{Logger: suiteLogger, OIDC: prov.config(), TouchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, svc)
	token := prov.mint(t, "rsa-0", prov.claims(time.Now()))
	user, _, _ := whoamiAs(t, srv, bearer(token))
	k := createKey(t, srv, bearer(token), `{}`)

	for range 50 {
		if _, resp, data := whoamiAs(t, srv, bearer(k.Key)); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, data)
		}
	}
	if n := cs.get("TouchAPIKeys"); n != 0 {
		t.Fatalf("last use written %d times before the flush", n)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if n := cs.get("TouchAPIKeys"); n != 1 {
		t.Fatalf("Close wrote last use %d times, want 1", n)
	}
	keys, err := cs.ListAPIKeys(ctx, user.UserID)
	if err != nil || len(keys) != 1 || keys[0].LastUsedAt == nil || time.Since(*keys[0].LastUsedAt) > time.Minute {
		t.Fatalf("last_used_at not recorded: %+v, %v", keys, err)
	}
}

func TestAPIKeyLastUsedIsFlushedPeriodically(t *testing.T) {
	env := newUserEnv(t, nil, Config{TouchInterval: 50 * time.Millisecond})
	k := createKey(t, env.srv, bearer(env.token), `{}`)
	if _, resp, data := whoamiAs(t, env.srv, bearer(k.Key)); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, data := call(t, env.srv, "GET", PathAPIKeys, "", bearer(env.token))
		list := decode[apiKeyList](t, data)
		if len(list.Items) == 1 && list.Items[0].LastUsedAt != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("last_used_at never appeared: %s", data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testRevocationAcrossReplicas checks that a key revoked through one Service
// is refused by another on the same store within one second, although the
// other had it cached.
func testRevocationAcrossReplicas(t *testing.T, stA, stB store.Store) {
	prov := newTestProvider(t)
	cfg := Config{OIDC: prov.config()}
	a, b := newService(t, stA, cfg), newService(t, stB, cfg)
	srvA, srvB := newServer(t, a), newServer(t, b)
	token := prov.mint(t, "rsa-0", prov.claims(time.Now()))

	k := createKey(t, srvA, bearer(token), `{"name":"shared"}`)
	for range 3 { // cached on b
		if _, resp, data := whoamiAs(t, srvB, "X-API-Key: "+k.Key); resp.StatusCode != http.StatusOK {
			t.Fatalf("replica b: status %d: %s", resp.StatusCode, data)
		}
	}
	resp, data := call(t, srvA, "DELETE", PathAPIKeys+"/"+k.ID, "", bearer(token))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: status %d: %s", resp.StatusCode, data)
	}
	revoked := time.Now()
	for {
		_, resp, data := whoamiAs(t, srvB, "X-API-Key: "+k.Key)
		if resp.StatusCode == http.StatusUnauthorized {
			wantError(t, resp, data, http.StatusUnauthorized, "invalid_api_key")
			t.Logf("replica b refused the key %v after the revocation", time.Since(revoked).Round(time.Millisecond))
			return
		}
		if time.Since(revoked) > time.Second {
			t.Fatalf("replica b still accepts the key %v after it was revoked", time.Since(revoked))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRevocationAcrossReplicasMemory(t *testing.T) {
	st := memory.New()
	testRevocationAcrossReplicas(t, st, st)
}
