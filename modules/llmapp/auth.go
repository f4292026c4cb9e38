package llmapp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/auth"
	"github.com/caddy-llm/gateway/store"
)

// AuthConfig configures authentication: the gateway's own tokens (guest
// login, refresh), API keys, and optionally external OIDC tokens.
type AuthConfig struct {
	// Issuer is the "iss" of the access tokens the gateway signs
	// (default "caddy-llm-gateway"). It must differ from the OIDC issuer.
	Issuer string `json:"issuer,omitempty"`
	// AccessTTL is the lifetime of gateway access tokens (default 15m).
	AccessTTL caddy.Duration `json:"access_ttl,omitempty"`
	// RefreshTTL is the lifetime of refresh tokens (default 720h).
	RefreshTTL caddy.Duration `json:"refresh_ttl,omitempty"`
	// KeyRotation is the age at which the signing key is replaced
	// (default 168h). Keys are kept in the store, shared by all replicas.
	KeyRotation caddy.Duration `json:"key_rotation,omitempty"`
	// RevocationPoll is how often revoked API keys are looked up, which
	// bounds how long a revoked key keeps working on any replica
	// (default 500ms).
	RevocationPoll caddy.Duration `json:"revocation_poll,omitempty"`
	// GuestRetention is how long a guest is kept after its last guest login
	// or refresh (default 720h); it is then deleted with everything it owns.
	GuestRetention caddy.Duration `json:"guest_retention,omitempty"`
	// RefreshTokenRetention is how long a refresh token is kept after it
	// expired (default 0: deleted once expired).
	RefreshTokenRetention caddy.Duration `json:"refresh_token_retention,omitempty"`
	// RetentionInterval is how often the retention rules run (default 1h);
	// replicas sharing a database take turns.
	RetentionInterval caddy.Duration `json:"retention_interval,omitempty"`
	// OIDC enables access tokens of an external OpenID Connect provider
	// (Keycloak). It is off when its JWKS URL is empty.
	OIDC *OIDCConfig `json:"oidc,omitempty"`
}

// OIDCConfig configures external OIDC tokens.
type OIDCConfig struct {
	// JWKSURL is the provider's key set (the spec's JWKS_URL).
	JWKSURL string `json:"jwks_url,omitempty"`
	// KeycloakBaseURL and KeycloakRealm give the key set's URL when JWKSURL
	// is empty: <base>/realms/<realm>/protocol/openid-connect/certs.
	KeycloakBaseURL string `json:"keycloak_base_url,omitempty"`
	KeycloakRealm   string `json:"keycloak_realm,omitempty"`
	// Issuer is the "iss" tokens must carry (the spec's ISSUER).
	Issuer string `json:"issuer,omitempty"`
	// Audience is the "aud" tokens must carry (the spec's ACCOUNT). It is
	// required while OIDC is on, unless AllowAnyAudience is set.
	Audience string `json:"audience,omitempty"`
	// AllowAnyAudience accepts OIDC tokens whatever their "aud" when
	// Audience is empty. Without it, OIDC on with no audience refuses to
	// start: an unset ACCOUNT must not turn the check off silently. Set it
	// only when the provider issues tokens for this gateway alone.
	AllowAnyAudience bool `json:"allow_any_audience,omitempty"`
	// Algorithms are the accepted signature algorithms (default RS256).
	Algorithms []string `json:"algorithms,omitempty"`
	// Leeway is the tolerated clock skew (default 30s).
	Leeway caddy.Duration `json:"leeway,omitempty"`
}

// jwksURL returns the key set's URL, or "" when OIDC is off.
func (o *OIDCConfig) jwksURL() string {
	if o == nil {
		return ""
	}
	if o.JWKSURL != "" {
		return o.JWKSURL
	}
	if o.KeycloakBaseURL != "" {
		realm := o.KeycloakRealm
		if realm == "" {
			realm = "jan"
		}
		return strings.TrimRight(o.KeycloakBaseURL, "/") + "/realms/" + realm + "/protocol/openid-connect/certs"
	}
	return ""
}

func (c *AuthConfig) serviceConfig(logger *zap.Logger) auth.Config {
	cfg := auth.Config{Logger: logger, SecureRequest: clientUsedHTTPS}
	if c == nil {
		return cfg
	}
	cfg.Issuer = c.Issuer
	cfg.AccessTTL = time.Duration(c.AccessTTL)
	cfg.RefreshTTL = time.Duration(c.RefreshTTL)
	cfg.KeyRotation = time.Duration(c.KeyRotation)
	cfg.RevocationPoll = time.Duration(c.RevocationPoll)
	cfg.GuestRetention = time.Duration(c.GuestRetention)
	cfg.RefreshTokenRetention = time.Duration(c.RefreshTokenRetention)
	cfg.RetentionInterval = time.Duration(c.RetentionInterval)
	if u := c.OIDC.jwksURL(); u != "" {
		cfg.OIDC = &auth.OIDCConfig{
			JWKSURL:          u,
			Issuer:           c.OIDC.Issuer,
			Audience:         c.OIDC.Audience,
			AllowAnyAudience: c.OIDC.AllowAnyAudience,
			Algorithms:       c.OIDC.Algorithms,
			Leeway:           time.Duration(c.OIDC.Leeway),
		}
	}
	return cfg
}

// The auth service keeps caches (verified keys, OIDC key sets) and
// background loops (revocation polling, last-use batching): it is shared
// across reloads that keep its settings.
var authPool = caddy.NewUsagePool()

type authKey struct {
	store  storeKey
	config string // the AuthConfig as JSON
}

type pooledAuth struct {
	*auth.Service
	cancel context.CancelFunc
}

func (p pooledAuth) Destruct() error {
	err := p.Service.Close()
	p.cancel()
	return err
}

func acquireAuth(key authKey, st store.Store, cfg auth.Config) (*auth.Service, error) {
	val, _, err := authPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		// The service outlives the config that created it, so its loops
		// run on a context of its own, ended when the pool lets it go.
		ctx, cancel := context.WithCancel(context.Background())
		svc, err := auth.New(ctx, st, cfg)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("starting auth service: %w", err)
		}
		return pooledAuth{Service: svc, cancel: cancel}, nil
	})
	if err != nil {
		return nil, err
	}
	return val.(pooledAuth).Service, nil
}

func authKeyFor(sk storeKey, c *AuthConfig) authKey {
	b, _ := json.Marshal(c)
	return authKey{store: sk, config: string(b)}
}

func releaseAuth(key authKey) {
	_, _ = authPool.Delete(key)
}
