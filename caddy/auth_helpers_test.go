package main

// Helpers of the authentication and rate-limit tests: an OpenID Connect
// provider on loopback, a gateway wired for authentication whose logs are
// captured at debug level, and a record of every secret the tests handled,
// which must never show up in those logs.

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddy-llm/gateway/store/storetest"
)

// oidcAudience is the audience (the spec's ACCOUNT) the test provider's
// tokens are issued for.
const oidcAudience = "account"

// RSA key generation is slow; the tests share two keys: the provider's
// published signing key and a rogue key it never publishes.
var (
	rsaOnce             sync.Once
	rsaSigner, rsaRogue *rsa.PrivateKey
	errRSAKeys          error
)

// Key ids of the provider's published key and of the rogue key.
const (
	rsaSignerKID = "kc-rsa-1"
	rsaRogueKID  = "kc-rogue-1"
)

func testRSAKeys(t testing.TB) (signer, rogue *rsa.PrivateKey) {
	t.Helper()
	rsaOnce.Do(func() {
		if rsaSigner, errRSAKeys = rsa.GenerateKey(rand.Reader, 2048); errRSAKeys != nil {
			return
		}
		rsaRogue, errRSAKeys = rsa.GenerateKey(rand.Reader, 2048)
	})
	if errRSAKeys != nil {
		t.Fatalf("generating RSA keys: %v", errRSAKeys)
	}
	return rsaSigner, rsaRogue
}

// oidcProvider plays Keycloak: it serves its public key as a JWKS on
// loopback and mints RS256 access tokens.
type oidcProvider struct {
	t       testing.TB
	srv     *httptest.Server
	issuer  string
	key     *rsa.PrivateKey
	rogue   *rsa.PrivateKey
	secrets *secretSet
	fetches atomic.Int32
}

func newOIDCProvider(t testing.TB, secrets *secretSet) *oidcProvider {
	t.Helper()
	p := &oidcProvider{t: t, secrets: secrets}
	p.key, p.rogue = testRSAKeys(t)
	p.srv = httptest.NewServer(http.HandlerFunc(p.serveJWKS))
	t.Cleanup(p.srv.Close)
	p.issuer = p.srv.URL + "/realms/jan"
	return p
}

func (p *oidcProvider) jwksURL() string {
	return p.srv.URL + "/realms/jan/protocol/openid-connect/certs"
}

// llmAuthBlock is the oidc block of the llm option's auth block.
func (p *oidcProvider) llmAuthBlock() string {
	return fmt.Sprintf(`oidc {
				jwks_url %s
				issuer %s
				audience %s
				algorithms RS256
			}`, p.jwksURL(), p.issuer, oidcAudience)
}

func (p *oidcProvider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	p.fetches.Add(1)
	if r.URL.Path != "/realms/jan/protocol/openid-connect/certs" {
		http.NotFound(w, r)
		return
	}
	b64 := base64.RawURLEncoding.EncodeToString
	pub := p.key.PublicKey
	doc := map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": rsaSignerKID, "use": "sig", "alg": "RS256",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

// claims returns valid claims for the subject, issued now.
func (p *oidcProvider) claims(subject string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss":                p.issuer,
		"sub":                subject,
		"aud":                []string{oidcAudience},
		"exp":                now.Add(10 * time.Minute).Unix(),
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"preferred_username": subject,
		"email":              subject + "@example.com",
		"typ":                "Bearer",
		"jti":                rand.Text(), // every token differs, even within a second
	}
}

// token mints a valid access token for the subject.
func (p *oidcProvider) token(subject string) string {
	return p.sign(p.claims(subject), rsaSignerKID, p.key)
}

// sign signs claims with RS256 and records the token as a secret.
func (p *oidcProvider) sign(claims jwt.MapClaims, kid string, key *rsa.PrivateKey) string {
	p.t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(key)
	if err != nil {
		p.t.Fatalf("signing an OIDC token: %v", err)
	}
	p.secrets.add(signed)
	return signed
}

// secretSet records every credential a test handled.
type secretSet struct {
	mu   sync.Mutex
	list []string
}

func (s *secretSet) add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range secrets {
		if v != "" {
			s.list = append(s.list, v)
		}
	}
}

func (s *secretSet) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.list...)
}

// needles returns what must not appear in logs for one secret: the secret
// itself and its secret part on its own (a JWT's signature, the random part
// of an API key past its displayed prefix and before its displayed suffix),
// so that a log line holding a piece of it is caught too.
func needles(secret string) []string {
	out := []string{secret}
	switch {
	case strings.Count(secret, ".") == 2:
		if sig := secret[strings.LastIndexByte(secret, '.')+1:]; len(sig) >= 16 {
			out = append(out, sig)
		}
	case strings.HasPrefix(secret, "sk_") && len(secret) > 20:
		out = append(out, secret[8:len(secret)-4])
	}
	return out
}

// assertNoSecretsIn fails the test if any recorded secret appears in the
// text.
func assertNoSecretsIn(t testing.TB, what, text string, secrets *secretSet) {
	t.Helper()
	list := secrets.all()
	if len(list) == 0 {
		t.Errorf("%s: no secrets were recorded; the log check would prove nothing", what)
	}
	for _, s := range list {
		for _, n := range needles(s) {
			if strings.Contains(text, n) {
				line := text[strings.LastIndexByte(text[:strings.Index(text, n)], '\n')+1:]
				if i := strings.IndexByte(line, '\n'); i >= 0 {
					line = line[:i]
				}
				t.Errorf("%s contain a credential (%d characters); the line, with it masked:\n%s",
					what, len(s), strings.ReplaceAll(line, n, "<SECRET>"))
				break // one report per credential
			}
		}
	}
}

// credentialLogFilter is the log format that keeps API keys out of Caddy's
// logs. Caddy logs the request headers of every request in the access log,
// and of every request a handler failed with an error (such as a 413 from
// request_body) in its error log at debug level. It redacts Authorization
// and Cookie itself, but not X-API-Key, which carries the gateway's API keys;
// a deployment that logs at debug level or writes access logs needs this
// filter in those logs (see the report of issue 3: the default Caddyfile
// should carry it).
const credentialLogFilter = `format filter {
			wrap json
			request>headers>X-Api-Key delete
			request>uri query {
				delete access_token
				delete api_key
			}
		}`

// logCapture sends a Caddy config's logs to files of the test's own: every
// logger at debug level, and the site's access log.
type logCapture struct {
	logs   string // Caddy's own logs, at debug level
	access string // the access log
}

func newLogCapture(t testing.TB) *logCapture {
	dir := t.TempDir()
	return &logCapture{logs: filepath.Join(dir, "caddy.log"), access: filepath.Join(dir, "access.log")}
}

// global is the global option that captures every logger at debug level.
func (c *logCapture) global() string {
	return fmt.Sprintf(`log capture {
		output file %s
		level DEBUG
		%s
	}`, c.logs, credentialLogFilter)
}

// site is the site directive that writes the access log.
func (c *logCapture) site() string {
	return fmt.Sprintf(`log {
		output file %s
		%s
	}`, c.access, credentialLogFilter)
}

// check asserts that the logs were captured at debug level and hold none of
// the secrets.
func (c *logCapture) check(t testing.TB, what string, secrets *secretSet) {
	t.Helper()
	logs, err := os.ReadFile(c.logs)
	if err != nil {
		t.Errorf("reading %s's logs: %v", what, err)
		return
	}
	access, err := os.ReadFile(c.access)
	if err != nil {
		t.Errorf("reading %s's access log: %v", what, err)
		return
	}
	// Prove the capture works: it holds debug entries and the access log
	// holds requests.
	if !strings.Contains(string(logs), `"level":"debug"`) {
		t.Errorf("%s's logs hold no debug entries; is the capture working?\n%.2000s", what, logs)
	}
	if !strings.Contains(string(access), `"msg":"handled request"`) {
		t.Errorf("%s's access log holds no requests; is the capture working?\n%.2000s", what, access)
	}
	assertNoSecretsIn(t, what+"'s debug logs", string(logs), secrets)
	assertNoSecretsIn(t, what+"'s access log", string(access), secrets)
}

// authEnv is a gateway with authentication, on PostgreSQL and with an OIDC
// provider when started by startAuthGateway.
type authEnv struct {
	*gateway
	oidc    *oidcProvider
	secrets *secretSet
	dsn     string
}

// authOptions shape an authEnv.
type authOptions struct {
	Auth   string // more lines inside llm { auth { … } }
	LLM    string // more lines inside llm { … }
	Routes string // handlers after llm_auth inside route { }
}

// startAuthGateway starts a gateway in this process whose route runs
// llm_auth before the API, as the default Caddyfile does, and which echoes
// what the handlers after llm_auth see of identity headers and placeholders
// in X-Seen-* response headers. Its logs are captured and checked for the
// credentials the test handled when the test ends.
func startAuthGateway(t *testing.T, o authOptions) *authEnv {
	t.Helper()
	e := &authEnv{secrets: &secretSet{}, dsn: storetest.NewPostgresDatabase(t)}
	e.oidc = newOIDCProvider(t, e.secrets)
	logs := newLogCapture(t)
	// Registered before the gateway starts, so that it runs after Caddy
	// stopped and flushed its logs.
	t.Cleanup(func() { logs.check(t, "the gateway", e.secrets) })

	port := freePort(t)
	cfg := testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`database_url %s
		%s
		auth {
			%s
			%s
		}`, e.dsn, o.LLM, e.oidc.llmAuthBlock(), o.Auth),
		Global:  logs.global(),
		Site:    logs.site(),
		MaxBody: "64KB",
		Routes: `llm_auth
		header X-Seen-User-Id "{http.request.header.X-User-Id}"
		header X-Seen-Consumer-Id "{http.request.header.X-Consumer-Id}"
		header X-Seen-Auth-Method "{http.request.header.X-Auth-Method}"
		header X-Seen-Auth-User "{http.auth.user.id}"
		header X-Seen-Auth-Kind "{http.auth.user.kind}"
		` + o.Routes,
	})
	e.gateway = startGateway(t, port, cfg)
	return e
}

// authSession is the answer of guest login or refresh.
type authSession struct {
	Access, Refresh, UserID string
	Body                    map[string]any
	Header                  http.Header
}

// guestLogin logs in a new guest and records its tokens.
func (e *authEnv) guestLogin(t testing.TB) authSession {
	t.Helper()
	return e.wantSession(t, e.do("POST", "/llm/auth/guest-login", nil), http.StatusCreated)
}

// wantSession checks a token answer and records its tokens.
func (e *authEnv) wantSession(t testing.TB, r response, status int) authSession {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	m := r.JSON(t)
	s := authSession{Body: m, Header: r.Header}
	s.Access, _ = m["access_token"].(string)
	s.Refresh, _ = m["refresh_token"].(string)
	s.UserID, _ = m["user_id"].(string)
	e.secrets.add(s.Access, s.Refresh)
	if s.Access == "" || s.Refresh == "" || s.UserID == "" {
		t.Fatalf("token answer lacks access_token, refresh_token or user_id: %v", m)
	}
	return s
}

// createAPIKey creates an API key as the holder of the access token and
// records it.
func (e *authEnv) createAPIKey(t testing.TB, token string, body any) map[string]any {
	t.Helper()
	r := e.do("POST", "/llm/auth/api-keys", body, bearerHeader(token)...)
	if r.Status != http.StatusCreated {
		t.Fatalf("creating an API key: status %d, body %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	key, _ := m["key"].(string)
	e.secrets.add(key)
	if !strings.HasPrefix(key, "sk_") {
		t.Fatalf("created key %q does not start with sk_", key)
	}
	return m
}

// bearerHeader returns the header pair of an Authorization: Bearer credential.
func bearerHeader(credential string) []string {
	return []string{"Authorization", "Bearer " + credential}
}

// wantUnauthorized asserts a 401 in the spec's shape with a
// WWW-Authenticate challenge; code may be empty to accept any.
func wantUnauthorized(t testing.TB, r response, code string) {
	t.Helper()
	if r.Status >= 500 {
		t.Fatalf("status = %d: an attack must never cause a server error; body: %s", r.Status, r.Body)
	}
	e := wantError(t, r, http.StatusUnauthorized, code)
	// RFC 6750 §3: an error code only when credentials were sent.
	want := `Bearer realm="llm", error="invalid_token"`
	if e["code"] == "missing_credentials" {
		want = `Bearer realm="llm"`
	}
	if h := r.Header.Get("WWW-Authenticate"); h != want {
		t.Fatalf("WWW-Authenticate = %q, want %q", h, want)
	}
	for _, h := range []string{"X-Auth-Method", "X-Principal-Id", "X-User-Id"} {
		if v := r.Header.Get(h); v != "" {
			t.Fatalf("a refused request carries %s: %q", h, v)
		}
	}
}
