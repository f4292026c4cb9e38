package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// API key format: "sk_" and 43 base64url characters (32 random bytes).
const (
	apiKeyPrefix      = "sk_"
	apiKeyLen         = len(apiKeyPrefix) + opaqueTokenLen
	apiKeyShownPrefix = 8 // characters stored for display: "sk_" and five more
	apiKeyShownSuffix = 4
)

// Bounds of the API key caches.
const (
	validKeyCacheSize   = 100_000
	invalidKeyCacheSize = 4096
	invalidKeyCacheTTL  = 10 * time.Second
	// revocationOverlap is how far back each revocation poll looks before
	// the previous one. It covers a store lookup that was already running
	// when a key was revoked and put the key in the cache after the poll
	// that saw the revocation, and small clock differences between replicas.
	revocationOverlap = 5 * time.Second
)

// apiKeyEntry is a verified API key in the cache.
type apiKeyEntry struct {
	principal *principal.Principal
	keyID     int64
	publicID  string
	expiresAt time.Time // zero when the key never expires

	lastUsed atomic.Int64 // Unix nanoseconds of the latest use
	queued   atomic.Bool  // in the touch queue, waiting to be written
}

// apiKeyVerifier checks API keys. Keys are looked up by their SHA-256 and
// cached: known keys for cacheTTL, unknown ones briefly, so that neither a
// valid key nor a garbage one costs a store read per request. Revocations
// made on any replica reach the cache through a poll of the store, expiry is
// checked on every use, and last-use times are written in batches.
type apiKeyVerifier struct {
	st       store.APIKeyStore
	log      *zap.Logger
	now      func() time.Time
	cacheTTL time.Duration

	valid   *ttlCache[[sha256.Size]byte, *apiKeyEntry]
	invalid *ttlCache[[sha256.Size]byte, struct{}]
	lookups singleflight.Group

	touchMu    sync.Mutex
	touchQueue []*apiKeyEntry

	revokedSince time.Time // owned by the revocation poll
}

func newAPIKeyVerifier(st store.APIKeyStore, cfg Config, log *zap.Logger) *apiKeyVerifier {
	return &apiKeyVerifier{
		st:           st,
		log:          log,
		now:          cfg.Now,
		cacheTTL:     cfg.APIKeyCacheTTL,
		valid:        newTTLCache[[sha256.Size]byte, *apiKeyEntry](validKeyCacheSize),
		invalid:      newTTLCache[[sha256.Size]byte, struct{}](invalidKeyCacheSize),
		revokedSince: cfg.Now(),
	}
}

// authenticate returns the principal of an API key.
func (a *apiKeyVerifier) authenticate(ctx context.Context, key string) (*principal.Principal, error) {
	if !wellFormedAPIKey(key) {
		return nil, errInvalidAPIKey
	}
	sum := hashString(key)
	now := a.now()
	if e, ok := a.valid.get(sum, now); ok {
		return a.use(e, now)
	}
	if _, ok := a.invalid.get(sum, now); ok {
		return nil, errInvalidAPIKey
	}
	e, err := a.lookup(ctx, sum)
	if err != nil {
		return nil, err
	}
	return a.use(e, now)
}

// use accepts a known key unless it has expired, and notes its use.
func (a *apiKeyVerifier) use(e *apiKeyEntry, now time.Time) (*principal.Principal, error) {
	if !e.expiresAt.IsZero() && !now.Before(e.expiresAt) {
		return nil, errAPIKeyExpired
	}
	e.lastUsed.Store(now.UnixNano())
	// Only the first use after a flush takes the lock.
	if !e.queued.Load() && e.queued.CompareAndSwap(false, true) {
		a.touchMu.Lock()
		a.touchQueue = append(a.touchQueue, e)
		a.touchMu.Unlock()
	}
	return e.principal, nil
}

// lookup reads a key from the store and caches the answer. Concurrent
// lookups of one key share a single store read.
func (a *apiKeyVerifier) lookup(ctx context.Context, sum [sha256.Size]byte) (*apiKeyEntry, error) {
	v, err, _ := a.lookups.Do(string(sum[:]), func() (any, error) {
		// Detached from the request: other requests may wait on this read.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		k, u, err := a.st.GetAPIKeyByHash(ctx, sum[:])
		now := a.now()
		switch {
		case errors.Is(err, store.ErrNotFound):
			a.invalid.put(sum, struct{}{}, now.Add(invalidKeyCacheTTL), now)
			return nil, errInvalidAPIKey
		case err != nil:
			return nil, storeFailure(a.log, "looking up an API key", err)
		case k.RevokedAt != nil:
			a.invalid.put(sum, struct{}{}, now.Add(invalidKeyCacheTTL), now)
			return nil, errInvalidAPIKey
		}
		e := newAPIKeyEntry(k, u)
		a.valid.put(sum, e, now.Add(a.cacheTTL), now)
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*apiKeyEntry), nil
}

func newAPIKeyEntry(k store.APIKey, u store.User) *apiKeyEntry {
	e := &apiKeyEntry{
		principal: &principal.Principal{
			UserID:       u.ID,
			UserPublicID: u.PublicID,
			Kind:         principal.KindAPIKey,
			Method:       principal.MethodAPIKey,
			APIKeyID:     k.ID,
			Issuer:       u.Issuer,
			Username:     u.Username,
			Email:        u.Email,
		},
		keyID:    k.ID,
		publicID: k.PublicID,
	}
	if k.ExpiresAt != nil {
		e.expiresAt = *k.ExpiresAt
	}
	return e
}

// remember caches a key just created, so that its first use on this replica
// needs no store read.
func (a *apiKeyVerifier) remember(key string, k store.APIKey, u store.User) {
	now := a.now()
	a.valid.put(hashString(key), newAPIKeyEntry(k, u), now.Add(a.cacheTTL), now)
}

// forget drops a revoked key from this replica's cache at once; the other
// replicas learn of it from their revocation poll.
func (a *apiKeyVerifier) forget(publicID string) {
	a.valid.deleteFunc(func(_ [sha256.Size]byte, e *apiKeyEntry) bool { return e.publicID == publicID })
}

// pollRevoked drops the keys revoked since the last poll from the cache.
func (a *apiKeyVerifier) pollRevoked(ctx context.Context) error {
	start := a.now()
	hashes, err := a.st.ListAPIKeysRevokedSince(ctx, a.revokedSince.Add(-revocationOverlap))
	if err != nil {
		return err // the next poll covers this one's window as well
	}
	for _, h := range hashes {
		var sum [sha256.Size]byte
		if copy(sum[:], h) == sha256.Size {
			a.valid.delete(sum)
		}
	}
	a.revokedSince = start
	return nil
}

// flushTouches writes the last-use times noted since the last flush.
func (a *apiKeyVerifier) flushTouches(ctx context.Context) error {
	a.touchMu.Lock()
	queue := a.touchQueue
	a.touchQueue = nil
	a.touchMu.Unlock()
	if len(queue) == 0 {
		return nil
	}
	lastUsed := make(map[int64]time.Time, len(queue))
	for _, e := range queue {
		// Unqueue before reading the time: a use racing with this flush
		// either is read here or queues the entry again.
		e.queued.Store(false)
		t := time.Unix(0, e.lastUsed.Load())
		if prev, ok := lastUsed[e.keyID]; !ok || t.After(prev) {
			lastUsed[e.keyID] = t
		}
	}
	if err := a.st.TouchAPIKeys(ctx, lastUsed); err != nil {
		// Keep the times for the next flush. Each entry is queued at most
		// once, so the queue stays bounded by the cache.
		a.touchMu.Lock()
		for _, e := range queue {
			if e.queued.CompareAndSwap(false, true) {
				a.touchQueue = append(a.touchQueue, e)
			}
		}
		a.touchMu.Unlock()
		return err
	}
	return nil
}

// wellFormedAPIKey reports whether key has the shape of the gateway's API
// keys, so that garbage is refused without a hash or a cache lookup.
func wellFormedAPIKey(key string) bool {
	return len(key) == apiKeyLen && key[:len(apiKeyPrefix)] == apiKeyPrefix && isBase64URL(key[len(apiKeyPrefix):])
}

// newAPIKey returns a new random API key.
func newAPIKey() string { return apiKeyPrefix + newOpaqueToken() }
