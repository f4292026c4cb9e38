package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

// Every Service of the suite logs at debug level into suiteLogs, and every
// secret the suite sees (issued tokens, refresh tokens, API keys, minted
// OIDC tokens) is recorded; TestMain fails the run if one of them appears in
// the logs.
var (
	suiteLogs    lockedBuffer
	suiteLogger  = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&suiteLogs), zapcore.DebugLevel))
	suiteSecrets secretSet
)

func TestMain(m *testing.M) {
	code := m.Run()
	_ = suiteLogger.Sync()
	if code == 0 {
		if leaked := suiteSecrets.foundIn(suiteLogs.String()); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: %d secrets appear in the logs of the suite (%d bytes of logs checked against %d secrets)\n",
				len(leaked), suiteLogs.Len(), suiteSecrets.len())
			code = 1
		}
	}
	os.Exit(code)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// secretSet collects secrets and the fragments of them that must not be
// logged either: a JWT's signature, an API key's random part.
type secretSet struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *secretSet) add(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]bool)
	}
	s.m[secret] = true
	if i := strings.LastIndexByte(secret, '.'); i > 0 && len(secret)-i > 16 {
		s.m[secret[i+1:]] = true
	}
	if rest, ok := strings.CutPrefix(secret, apiKeyPrefix); ok {
		s.m[rest] = true
	}
}

func (s *secretSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// foundIn returns the secrets that occur in logs.
func (s *secretSet) foundIn(logs string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []string
	for secret := range s.m {
		if strings.Contains(logs, secret) {
			found = append(found, secret)
		}
	}
	return found
}

func TestSecretScanFindsLeaks(t *testing.T) {
	var set secretSet
	jwtLike := "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c3JfMSJ9.c2lnbmF0dXJlLW9mLWF0LWxlYXN0LTE2LWJ5dGVz"
	key := "sk_" + newOpaqueToken()
	set.add(jwtLike)
	set.add(key)
	tests := []struct {
		name string
		logs string
		want int
	}{
		{"clean", `{"msg":"rejected credential","reason":"expired"}`, 0},
		{"whole token", `{"token":"` + jwtLike + `"}`, 2},
		{"signature only", `{"sig":"` + jwtLike[strings.LastIndexByte(jwtLike, '.')+1:] + `"}`, 1},
		{"key without prefix", `{"k":"` + key[3:] + `"}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(set.foundIn(tt.logs)); got != tt.want {
				t.Errorf("found %d secrets, want %d", got, tt.want)
			}
		})
	}
}

// fakeClock is an injectable clock for expiry tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newService returns a Service over st (a fresh memory store when nil) that
// is closed when the test ends.
func newService(t testing.TB, st store.Store, cfg Config) *Service {
	t.Helper()
	if st == nil {
		st = memory.New()
	}
	if cfg.Logger == nil {
		cfg.Logger = suiteLogger
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, st, cfg)
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// publicRoutes are the routes the middleware lets through without a
// principal, as llm_auth does.
var publicRoutes = httpx.NewRouteSet(PublicRoutes...)

// middleware is what the Caddy module does in front of the mux: strict
// authentication on protected routes, best effort on public ones.
func middleware(s *Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.Authenticate(r)
		if publicRoutes.Match(r) {
			if err == nil && p != nil {
				r = r.WithContext(principal.With(r.Context(), p))
			}
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			httpx.WriteError(w, r, nil, err, "")
			return
		}
		if p == nil {
			apierr.Write(w, MissingCredentials())
			return
		}
		next.ServeHTTP(w, r.WithContext(principal.With(r.Context(), p)))
	})
}

// whoami is a protected test route that echoes the principal.
func whoami(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, principal.From(r.Context()))
}

// newServer serves s's routes, and GET /whoami, behind middleware.
func newServer(t testing.TB, s *Service) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	s.Register(mux)
	mux.HandleFunc("GET /whoami", whoami)
	srv := httptest.NewServer(middleware(s, mux))
	t.Cleanup(srv.Close)
	return srv
}

// call sends a request; headers are given as "Name: value" strings.
func call(t testing.TB, srv *httptest.Server, method, path, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Add(name, value)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// apiError decodes an error response, failing the test if it is not in the
// specification's shape.
func apiError(t testing.TB, data []byte) apierr.Error {
	t.Helper()
	var env struct {
		Error *apierr.Error `json:"error"`
	}
	if err := json.Unmarshal(data, &env); err != nil || env.Error == nil || env.Error.Message == "" || env.Error.Type == "" || env.Error.Code == "" {
		t.Fatalf("not an error in the spec's shape: %s", data)
	}
	return *env.Error
}

// wantError checks the status and code of an error response.
func wantError(t testing.TB, resp *http.Response, data []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, data)
	}
	if got := apiError(t, data); got.Code != code {
		t.Fatalf("code %q, want %q: %s", got.Code, code, data)
	}
}

func decode[T any](t testing.TB, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	return v
}

// guestLogin logs in as a new guest and records the tokens as secrets.
func guestLogin(t testing.TB, srv *httptest.Server) tokenResponse {
	t.Helper()
	resp, data := call(t, srv, "POST", PathGuestLogin, "")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("guest login: status %d: %s", resp.StatusCode, data)
	}
	tok := decode[tokenResponse](t, data)
	suiteSecrets.add(tok.AccessToken)
	suiteSecrets.add(tok.RefreshToken)
	return tok
}

func bearer(token string) string { return "Authorization: Bearer " + token }

// createKey creates an API key with the credential header and records it.
func createKey(t testing.TB, srv *httptest.Server, auth, body string) apiKeyJSON {
	t.Helper()
	resp, data := call(t, srv, "POST", PathAPIKeys, body, auth)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating API key: status %d: %s", resp.StatusCode, data)
	}
	k := decode[apiKeyJSON](t, data)
	suiteSecrets.add(k.Key)
	return k
}

// whoamiAs returns the principal the server sees for the credential header.
func whoamiAs(t testing.TB, srv *httptest.Server, header string) (principal.Principal, *http.Response, []byte) {
	t.Helper()
	resp, data := call(t, srv, "GET", "/whoami", "", header)
	var p principal.Principal
	if resp.StatusCode == http.StatusOK {
		p = decode[principal.Principal](t, data)
	}
	return p, resp, data
}
