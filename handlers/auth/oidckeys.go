package auth

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// maxJWKSSize caps the size of a fetched key set.
const maxJWKSSize = 1 << 20

// coldRefetchInterval is the shortest time between two fetches of the key
// set while none was ever fetched (the provider was down when the gateway
// started): tokens are then retried against the provider soon after it is
// back, not a full refetch interval later.
const coldRefetchInterval = time.Second

// verificationKey is one public key of the OIDC provider.
type verificationKey struct {
	alg string // the JWK's "alg"; empty when the provider does not pin one
	key crypto.PublicKey
}

// remoteKeySet is the provider's key set as last fetched. It is replaced,
// never changed, so readers need no lock.
type remoteKeySet struct {
	byKID map[string]verificationKey
	// only is the single key of a set that has exactly one, which verifies
	// tokens that name no key id.
	only *verificationKey
}

// remoteKeys fetches and caches the OIDC provider's key set. A token with an
// unknown key id triggers a fetch, at most once per refetch interval; a
// background loop fetches it regularly as well, so that keys the provider
// removed stop verifying.
type remoteKeys struct {
	url    string
	client *http.Client
	log    *zap.Logger

	current atomic.Pointer[remoteKeySet]
	fetch   *refresher
}

func newRemoteKeys(cfg *OIDCConfig, client *http.Client, log *zap.Logger) *remoteKeys {
	rk := &remoteKeys{url: cfg.JWKSURL, client: client, log: log}
	rk.current.Store(&remoteKeySet{})
	rk.fetch = &refresher{interval: cfg.RefetchInterval, coldInterval: coldRefetchInterval, timeout: 15 * time.Second, run: func(ctx context.Context) error {
		err := rk.load(ctx)
		if err != nil {
			// Logged here, once per fetch, rather than by every caller.
			rk.log.Warn("OIDC key set unavailable; keeping the previous keys", zap.Error(err))
		}
		return err
	}}
	return rk
}

// lookup returns the key with the id; an empty id matches the only key of a
// one-key set.
func (rk *remoteKeys) lookup(kid string) (verificationKey, bool) {
	set := rk.current.Load()
	if kid == "" {
		if set.only != nil {
			return *set.only, true
		}
		return verificationKey{}, false
	}
	k, ok := set.byKID[kid]
	return k, ok
}

// load fetches the key set and makes it current. On failure the previous set
// stays in use.
func (rk *remoteKeys) load(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rk.url, nil)
	if err != nil {
		return fmt.Errorf("fetching OIDC key set: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := rk.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching OIDC key set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching OIDC key set: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return fmt.Errorf("reading OIDC key set: %w", err)
	}
	if len(body) > maxJWKSSize {
		return fmt.Errorf("reading OIDC key set: larger than %d bytes", maxJWKSSize)
	}
	var doc jwksDocument
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("decoding OIDC key set: %w", err)
	}
	set := &remoteKeySet{byKID: make(map[string]verificationKey, len(doc.Keys))}
	var usable []verificationKey
	for i, raw := range doc.Keys {
		jwk, err := parsePublicJWK(raw)
		if err != nil {
			rk.log.Debug("skipping OIDC key", zap.Int("index", i), zap.Error(err))
			continue
		}
		if jwk.Use != "" && jwk.Use != "sig" {
			continue // encryption keys, as Keycloak publishes next to its signing keys
		}
		k := verificationKey{alg: jwk.Algorithm, key: jwk.Key}
		usable = append(usable, k)
		if jwk.KeyID != "" {
			set.byKID[jwk.KeyID] = k
		}
	}
	if len(usable) == 1 {
		set.only = &usable[0]
	}
	rk.current.Store(set)
	rk.log.Debug("fetched OIDC key set", zap.Int("keys", len(usable)))
	return nil
}
