package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/store"
)

// signingAlgorithm is the JWS algorithm of the gateway's own tokens. Ed25519
// keys are small, fast to sign and verify with, and have no parameters to get
// wrong.
const signingAlgorithm = "EdDSA"

// gatewayKey is one of the gateway's own signing keys.
type gatewayKey struct {
	kid       string
	private   ed25519.PrivateKey
	public    ed25519.PublicKey
	createdAt time.Time
	retiredAt time.Time // zero while the key may sign
}

// keySnapshot is the gateway's key set at one moment. A snapshot is replaced,
// never changed, so that readers need no lock.
type keySnapshot struct {
	signing *gatewayKey            // newest key that is not retired; nil if none
	byKID   map[string]*gatewayKey // every key that still verifies
	jwks    []byte                 // public JWKS document of byKID
}

// keyring holds the gateway's signing keys. The keys live in the store, so
// every replica signs with the same newest key and verifies every other
// replica's tokens; two replicas that create a key at the same moment both
// keep verifying each other's tokens because a token with an unknown key id
// reloads the keys from the store.
type keyring struct {
	st       store.TokenStore
	log      *zap.Logger
	now      func() time.Time
	rotation time.Duration
	// verifyFor is how long a retired key still verifies: the lifetime of
	// the last tokens it signed, plus the clock leeway.
	verifyFor time.Duration

	current atomic.Pointer[keySnapshot]
	reload  *refresher // reloads from the store on an unknown key id
	// ensure loads or creates the keys on demand while there is no
	// signing key (the store was unavailable at start).
	ensure *refresher
}

func newKeyring(st store.TokenStore, cfg Config, log *zap.Logger) *keyring {
	k := &keyring{
		st:        st,
		log:       log,
		now:       cfg.Now,
		rotation:  cfg.KeyRotation,
		verifyFor: cfg.AccessTTL + gatewayLeeway,
	}
	k.current.Store(&keySnapshot{byKID: map[string]*gatewayKey{}, jwks: []byte(`{"keys":[]}`)})
	k.reload = &refresher{interval: keyReloadInterval, timeout: 10 * time.Second, run: k.load}
	k.ensure = &refresher{interval: time.Second, timeout: 10 * time.Second, run: k.maintain}
	return k
}

// keyReloadInterval is the shortest time between two reloads caused by
// unknown key ids. A token with an unknown key id waits for the next reload
// rather than failing, since its key may have been created a moment after
// the last one; the interval bounds both that wait and the store reads that
// made-up key ids can cause.
const keyReloadInterval = 200 * time.Millisecond

// load reads the keys from the store and makes them current.
func (k *keyring) load(ctx context.Context) error {
	recs, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("listing signing keys: %w", err)
	}
	now := k.now()
	snap := &keySnapshot{byKID: make(map[string]*gatewayKey, len(recs))}
	doc := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(recs))}
	for _, rec := range recs { // newest first
		if rec.Algorithm != signingAlgorithm {
			continue
		}
		if rec.RetiredAt != nil && now.Sub(*rec.RetiredAt) > k.verifyFor {
			continue
		}
		key, err := parseSigningKey(rec)
		if err != nil {
			k.log.Warn("skipping unreadable signing key", zap.String("kid", rec.KID), zap.Error(err))
			continue
		}
		snap.byKID[key.kid] = key
		doc.Keys = append(doc.Keys, ed25519JWK(key.kid, key.public))
		if key.retiredAt.IsZero() && (snap.signing == nil || key.createdAt.After(snap.signing.createdAt)) {
			snap.signing = key
		}
	}
	if snap.jwks, err = json.Marshal(doc); err != nil {
		return fmt.Errorf("encoding JWKS: %w", err)
	}
	k.current.Store(snap)
	return nil
}

// maintain reloads the keys from the store, so that keys other replicas
// created or retired are seen, and rotates the signing key when it is due.
func (k *keyring) maintain(ctx context.Context) error {
	if err := k.load(ctx); err != nil {
		return err
	}
	return k.rotateIfDue(ctx)
}

// rotateIfDue creates a new signing key when there is none or the current
// one is older than the rotation period, retires the keys it replaces, and
// reloads. Callers have just loaded the keys, so a key another replica
// created is used rather than replaced.
func (k *keyring) rotateIfDue(ctx context.Context) error {
	now := k.now()
	snap := k.current.Load()
	if s := snap.signing; s != nil && now.Sub(s.createdAt) < k.rotation {
		return nil
	}
	key, err := newGatewayKey(now)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key.private)
	if err != nil {
		return fmt.Errorf("encoding signing key: %w", err)
	}
	err = k.st.CreateSigningKey(ctx, store.SigningKey{
		KID:        key.kid,
		Algorithm:  signingAlgorithm,
		PrivateKey: der,
		CreatedAt:  now,
	})
	if err != nil {
		return fmt.Errorf("storing signing key: %w", err)
	}
	// Retire only older keys: when two replicas rotate at once, the newer of
	// their keys survives on both and the other one still verifies.
	for _, old := range snap.byKID {
		if old.retiredAt.IsZero() && old.createdAt.Before(now) {
			if err := k.st.RetireSigningKey(ctx, old.kid, now); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("retiring signing key: %w", err)
			}
		}
	}
	k.log.Info("created token signing key", zap.String("kid", key.kid))
	return k.load(ctx)
}

// signingKey returns the key to sign with, or nil when there is none.
func (k *keyring) signingKey() *gatewayKey { return k.current.Load().signing }

// lookup returns the verification key with the id.
func (k *keyring) lookup(kid string) *gatewayKey { return k.current.Load().byKID[kid] }

// jwks returns the public JWKS document.
func (k *keyring) jwks() []byte { return k.current.Load().jwks }

func newGatewayKey(now time.Time) (*gatewayKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	kid, err := ed25519Thumbprint(pub)
	if err != nil {
		return nil, err
	}
	return &gatewayKey{kid: kid, private: priv, public: pub, createdAt: now}, nil
}

func parseSigningKey(rec store.SigningKey) (*gatewayKey, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(rec.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("parsing private key: %w", err)
	}
	priv, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is a %T, not Ed25519", parsed)
	}
	key := &gatewayKey{
		kid:       rec.KID,
		private:   priv,
		public:    priv.Public().(ed25519.PublicKey),
		createdAt: rec.CreatedAt,
	}
	if rec.RetiredAt != nil {
		key.retiredAt = *rec.RetiredAt
	}
	return key, nil
}
