package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"
)

// Defaults of Config and OIDCConfig, used for every zero field.
const (
	DefaultIssuer         = "caddy-llm-gateway"
	DefaultAccessTTL      = 15 * time.Minute
	DefaultRefreshTTL     = 30 * 24 * time.Hour
	DefaultKeyRotation    = 7 * 24 * time.Hour
	DefaultAPIKeyCacheTTL = time.Minute
	DefaultRevocationPoll = 500 * time.Millisecond
	DefaultTouchInterval  = 5 * time.Second

	DefaultGuestRetention    = 30 * 24 * time.Hour
	DefaultRetentionInterval = time.Hour

	DefaultOIDCLeeway          = 30 * time.Second
	DefaultOIDCRefetchInterval = 10 * time.Second
	DefaultOIDCRefreshInterval = 15 * time.Minute
)

// Config configures a Service. Every zero field takes its default.
type Config struct {
	// Issuer is the "iss" of the access tokens the gateway issues itself
	// (guest login and refresh). It must differ from the OIDC issuer: the
	// issuer of a token decides which keys verify it.
	Issuer string
	// Audience is the "aud" of the gateway's own access tokens. Defaults to
	// Issuer.
	Audience string
	// AccessTTL is how long a gateway access token is valid.
	AccessTTL time.Duration
	// RefreshTTL is how long a refresh token is valid. Every refresh issues
	// a new one with a fresh lifetime.
	RefreshTTL time.Duration
	// KeyRotation is the age at which a signing key is replaced by a new
	// one. Retired keys keep verifying until the tokens they signed expired.
	KeyRotation time.Duration
	// OIDC enables external OIDC access tokens. Nil turns them off.
	OIDC *OIDCConfig
	// APIKeyCacheTTL bounds how long a verified API key is trusted without
	// asking the store again. Revocations reach every replica much sooner
	// (see RevocationPoll); this is the backstop when polling fails.
	APIKeyCacheTTL time.Duration
	// RevocationPoll is how often the store is asked for revoked API keys.
	RevocationPoll time.Duration
	// TouchInterval is how often the last-use times of API keys are
	// written to the store, in one batch.
	TouchInterval time.Duration
	// GuestRetention is how long a guest user is kept after its last
	// session activity (guest login or refresh); it is then deleted with
	// everything it owns.
	GuestRetention time.Duration
	// RefreshTokenRetention is how long a refresh token is kept after it
	// expired (default 0: deleted once expired). Keeping used tokens a
	// while longer keeps detecting their reuse that long.
	RefreshTokenRetention time.Duration
	// RetentionInterval is how often the retention rules run. Every
	// replica runs them; the store lets one at a time do the work.
	RetentionInterval time.Duration
	// HTTPClient fetches the OIDC key set. Defaults to a client with a 10 s
	// timeout.
	HTTPClient *http.Client
	// SecureRequest reports whether the client reached the gateway over
	// HTTPS, which decides the refresh cookie's Secure attribute. Behind a
	// TLS-terminating proxy the request itself is plain HTTP: the caller
	// (the Caddy module) then trusts X-Forwarded-Proto from trusted proxies
	// only. Defaults to r.TLS != nil.
	SecureRequest func(r *http.Request) bool
	// Logger receives the service's logs. Defaults to a no-op logger.
	Logger *zap.Logger
	// Now returns the current time; tests inject a clock. Defaults to
	// time.Now.
	Now func() time.Time
}

// OIDCConfig configures the verification of access tokens issued by an
// external OpenID Connect provider such as Keycloak.
type OIDCConfig struct {
	// JWKSURL is where the provider publishes its public keys, for example
	// http://keycloak:8085/realms/jan/protocol/openid-connect/certs.
	JWKSURL string
	// Issuer is the provider's "iss", for example
	// http://localhost:8090/realms/jan.
	Issuer string
	// Audience is the "aud" tokens must carry (the spec's ACCOUNT, for
	// example "account"). It is required unless AllowAnyAudience is set.
	Audience string
	// AllowAnyAudience accepts tokens without checking their "aud" when
	// Audience is empty. It is only safe when the provider issues tokens for
	// this gateway alone; without it, an empty Audience is a configuration
	// error rather than a check silently turned off.
	AllowAnyAudience bool
	// Algorithms are the accepted signature algorithms. Defaults to RS256.
	// Only asymmetric algorithms are allowed: RS256, RS384, RS512, PS256,
	// PS384, PS512, ES256, ES384, ES512 and EdDSA.
	Algorithms []string
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway time.Duration
	// RefetchInterval is the shortest time between two fetches of the key
	// set caused by tokens with an unknown key id.
	RefetchInterval time.Duration
	// RefreshInterval is how often the key set is fetched in the
	// background, so that keys the provider removed stop verifying.
	RefreshInterval time.Duration
}

// oidcAlgorithms are the algorithms OIDCConfig.Algorithms may name. HMAC and
// "none" are absent on purpose: a public key set cannot verify them safely.
var oidcAlgorithms = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// withDefaults returns a copy of c with every zero field set, or an error
// when a field is invalid.
func (c Config) withDefaults() (Config, error) {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.Audience == "" {
		c.Audience = c.Issuer
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"access_ttl", &c.AccessTTL, DefaultAccessTTL},
		{"refresh_ttl", &c.RefreshTTL, DefaultRefreshTTL},
		{"key_rotation", &c.KeyRotation, DefaultKeyRotation},
		{"api_key_cache_ttl", &c.APIKeyCacheTTL, DefaultAPIKeyCacheTTL},
		{"revocation_poll", &c.RevocationPoll, DefaultRevocationPoll},
		{"touch_interval", &c.TouchInterval, DefaultTouchInterval},
		{"guest_retention", &c.GuestRetention, DefaultGuestRetention},
		{"refresh_token_retention", &c.RefreshTokenRetention, 0},
		{"retention_interval", &c.RetentionInterval, DefaultRetentionInterval},
	} {
		if *d.v < 0 {
			return c, fmt.Errorf("%s must not be negative", d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.SecureRequest == nil {
		c.SecureRequest = func(r *http.Request) bool { return r.TLS != nil }
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.OIDC != nil {
		o, err := c.OIDC.withDefaults()
		if err != nil {
			return c, fmt.Errorf("oidc: %w", err)
		}
		if o.Issuer == c.Issuer {
			return c, errors.New("oidc: issuer must differ from the gateway's own issuer")
		}
		c.OIDC = &o
	}
	return c, nil
}

func (o OIDCConfig) withDefaults() (OIDCConfig, error) {
	if o.Issuer == "" {
		return o, errors.New("issuer is required")
	}
	if o.Audience == "" && !o.AllowAnyAudience {
		return o, errors.New("audience is required (the spec's ACCOUNT): tokens the provider issued for other clients would pass; set allow_any_audience to accept tokens of any audience on purpose")
	}
	u, err := url.Parse(o.JWKSURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, errors.New("jwks_url must be an http or https URL")
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = []string{"RS256"}
	}
	o.Algorithms = append([]string(nil), o.Algorithms...)
	for _, alg := range o.Algorithms {
		if !oidcAlgorithms[alg] {
			return o, fmt.Errorf("algorithm %q is not allowed (use RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA)", alg)
		}
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"leeway", &o.Leeway, DefaultOIDCLeeway},
		{"refetch_interval", &o.RefetchInterval, DefaultOIDCRefetchInterval},
		{"refresh_interval", &o.RefreshInterval, DefaultOIDCRefreshInterval},
	} {
		if *d.v < 0 {
			return o, fmt.Errorf("%s must not be negative", d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	return o, nil
}
