package auth

import (
	"context"
	"crypto/elliptic"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store/memory"
)

func TestOIDCToken(t *testing.T) {
	env := newUserEnv(t, nil, Config{})
	p, resp, data := whoamiAs(t, env.srv, bearer(env.token))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	if p.Kind != principal.KindUser || p.Method != principal.MethodJWT || p.Issuer != env.prov.issuer ||
		p.Username != "alice" || p.Email != "alice@example.com" || !strings.HasPrefix(p.UserPublicID, "usr_") {
		t.Errorf("principal %+v", p)
	}
	resp, data = call(t, env.srv, "GET", PathMe, "", bearer(env.token))
	me := decode[meResponse](t, data)
	if resp.StatusCode != http.StatusOK || me.Name != "Alice Example" || me.Subject != testSubject || me.Kind != "user" || me.AuthMethod != "jwt" || me.Issuer != env.prov.issuer {
		t.Errorf("me: status %d: %s", resp.StatusCode, data)
	}
}

func TestOIDCSubjectMapsToOneUser(t *testing.T) {
	cs := newCountingStore(memory.New())
	env := newUserEnv(t, cs, Config{})
	now := time.Now()
	userOf := func(claims jwt.MapClaims) int64 {
		t.Helper()
		p, resp, data := whoamiAs(t, env.srv, bearer(env.prov.mint(t, "rsa-0", claims)))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, data)
		}
		return p.UserID
	}
	base := env.prov.claims(now)
	first := userOf(base)
	for i := range 5 { // new tokens, same subject and profile
		if id := userOf(with(base, map[string]any{"jti": string(rune('a' + i))})); id != first {
			t.Fatalf("token %d mapped to user %d, want %d", i, id, first)
		}
	}
	if n := cs.get("UpsertUser"); n != 1 {
		t.Fatalf("UpsertUser called %d times for one subject, want 1", n)
	}
	// A changed profile is written once.
	changed := with(base, map[string]any{"email": "alice@new.example", "jti": "x"})
	if id := userOf(changed); id != first {
		t.Fatalf("changed email mapped to another user")
	}
	userOf(with(changed, map[string]any{"jti": "y"}))
	if n := cs.get("UpsertUser"); n != 2 {
		t.Fatalf("UpsertUser called %d times after one profile change, want 2", n)
	}
	// Another subject is another user.
	if id := userOf(with(base, map[string]any{"sub": "kc-user-2"})); id == first {
		t.Fatal("two subjects mapped to one user")
	}
}

func TestOIDCKeyRotationRefetchesRateLimited(t *testing.T) {
	// A long refetch interval that the test ages by hand rather than sleeps
	// out: the ten requests below surely fall within it, and no time is
	// spent waiting.
	prov := newTestProvider(t)
	oc := prov.config()
	oc.RefetchInterval = time.Hour
	svc := newService(t, nil, Config{OIDC: oc})
	srv := newServer(t, svc)
	token := prov.mint(t, "rsa-0", prov.claims(time.Now()))
	if _, resp, data := whoamiAs(t, srv, bearer(token)); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	fetch := svc.oidc.keys.fetch
	fetch.age() // let the start-up fetch age

	prov.addKey("rsa-new", "RS256", testRSAKey(1), false)
	rotated := prov.mint(t, "rsa-new", prov.claims(time.Now()))
	before := prov.fetches.Load()
	for range 10 { // the provider has not published the key yet
		_, resp, data := whoamiAs(t, srv, bearer(rotated))
		wantError(t, resp, data, http.StatusUnauthorized, "invalid_token")
	}
	if n := prov.fetches.Load() - before; n != 1 {
		t.Fatalf("10 tokens with an unknown kid caused %d fetches, want 1", n)
	}

	prov.publish("rsa-new")
	fetch.age()
	if _, resp, data := whoamiAs(t, srv, bearer(rotated)); resp.StatusCode != http.StatusOK {
		t.Fatalf("token of the rotated key: status %d: %s", resp.StatusCode, data)
	}
	if n := prov.fetches.Load() - before; n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

// age makes the refresher's latest run look one interval old, as if the
// test had slept the interval out.
func (r *refresher) age() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = r.started.Add(-r.interval)
}

func TestOIDCTokenWithoutKID(t *testing.T) {
	env := newUserEnv(t, nil, Config{})
	noKID := func(jti string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, with(env.prov.claims(time.Now()), map[string]any{"jti": jti}))
		signed, err := tok.SignedString(testRSAKey(0))
		if err != nil {
			t.Fatal(err)
		}
		suiteSecrets.add(signed)
		return signed
	}
	// One signing key in the set: it verifies tokens that name none.
	if _, resp, data := whoamiAs(t, env.srv, bearer(noKID("1"))); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	// Two: which one is meant is unknown, so no token without kid passes.
	env.prov.addKey("rsa-second", "RS256", testRSAKey(1), true)
	if err := env.svc.oidc.keys.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, resp, data := whoamiAs(t, env.srv, bearer(noKID("2")))
	wantError(t, resp, data, http.StatusUnauthorized, "invalid_token")
}

func TestOIDCAlgorithmsArePinned(t *testing.T) {
	prov := newTestProvider(t)
	prov.addKey("ec-0", "ES256", newECKey(t, elliptic.P256()), true)
	prov.addKey("ec-384", "ES384", newECKey(t, elliptic.P384()), true)
	cfg := prov.config()
	cfg.Algorithms = []string{"ES256"}
	srv := newServer(t, newService(t, nil, Config{OIDC: cfg}))
	now := time.Now()
	tests := []struct {
		name, kid string
		ok        bool
	}{
		{"ES256 allowed", "ec-0", true},
		{"RS256 not configured", "rsa-0", false},
		{"ES384 not configured", "ec-384", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, data := whoamiAs(t, srv, bearer(prov.mint(t, tt.kid, prov.claims(now))))
			if tt.ok {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, data)
				}
				return
			}
			wantError(t, resp, data, http.StatusUnauthorized, "invalid_token")
		})
	}
}

func TestOIDCProviderDownAtStart(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	prov := newTestProvider(t)
	cfg := prov.config()
	cfg.JWKSURL = down.URL
	s := newService(t, nil, Config{OIDC: cfg}) // starts anyway
	srv := newServer(t, s)
	// No key set was ever fetched: the token cannot be judged, a 503.
	_, resp, data := whoamiAs(t, srv, bearer(prov.mint(t, "rsa-0", prov.claims(time.Now()))))
	wantError(t, resp, data, http.StatusServiceUnavailable, "oidc_unavailable")
	// Gateway tokens keep working.
	if _, resp, data := whoamiAs(t, srv, bearer(guestLogin(t, srv).AccessToken)); resp.StatusCode != http.StatusOK {
		t.Fatalf("guest token: status %d: %s", resp.StatusCode, data)
	}
}

func TestConfigValidation(t *testing.T) {
	valid := OIDCConfig{JWKSURL: "https://idp.example/certs", Issuer: "https://idp.example", Audience: "account"}
	oidc := func(change func(*OIDCConfig)) *OIDCConfig {
		c := valid
		change(&c)
		return &c
	}
	tests := []struct {
		name string
		cfg  Config
		want string // in the error; "" for a valid config
	}{
		{"defaults", Config{}, ""},
		{"valid OIDC", Config{OIDC: &valid}, ""},
		{"HS256", Config{OIDC: oidc(func(c *OIDCConfig) { c.Algorithms = []string{"RS256", "HS256"} })}, "HS256"},
		{"none", Config{OIDC: oidc(func(c *OIDCConfig) { c.Algorithms = []string{"none"} })}, "none"},
		{"no issuer", Config{OIDC: oidc(func(c *OIDCConfig) { c.Issuer = "" })}, "issuer"},
		{"no audience", Config{OIDC: oidc(func(c *OIDCConfig) { c.Audience = "" })}, "audience is required"},
		{"any audience on purpose", Config{OIDC: oidc(func(c *OIDCConfig) { c.Audience, c.AllowAnyAudience = "", true })}, ""},
		{"no JWKS URL", Config{OIDC: oidc(func(c *OIDCConfig) { c.JWKSURL = "" })}, "jwks_url"},
		{"file JWKS URL", Config{OIDC: oidc(func(c *OIDCConfig) { c.JWKSURL = "file:///etc/keys" })}, "jwks_url"},
		{"issuer clash", Config{Issuer: "https://idp.example", OIDC: &valid}, "differ"},
		{"negative TTL", Config{AccessTTL: -time.Second}, "access_ttl"},
		{"negative leeway", Config{OIDC: oidc(func(c *OIDCConfig) { c.Leeway = -time.Second })}, "leeway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Logger = suiteLogger
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := New(ctx, memory.New(), tt.cfg)
			if s != nil {
				defer s.Close()
			}
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("New error %v, want one about %q", err, tt.want)
			}
		})
	}
	if _, err := New(context.Background(), nil, Config{}); err == nil {
		t.Error("New without a store succeeded")
	}
}
