package main

// Hostile conditions at start-up and on the network edge (issue #12,
// findings 7, 11 and 12): the default Caddyfile's direct listener, query
// strings holding credentials, and services that start after the gateway.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// nonLoopbackIPv4 returns an address of this machine that is not loopback.
func nonLoopbackIPv4(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatalf("listing interface addresses: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address to check the listener against")
	return ""
}

// canConnect reports whether a TCP connection to addr succeeds.
func canConnect(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// The default Caddyfile's direct service listener (HTTP_PORT, no rate
// limits) is reachable on loopback only; HTTP_BIND_ADDRESS exposes it on
// purpose.
func TestHostileServiceListenerBindsLoopback(t *testing.T) {
	external := nonLoopbackIPv4(t)
	gatewayPort, servicePort := freePort(t), freePort(t)
	t.Setenv("SITE_ADDRESS", fmt.Sprintf("http://127.0.0.1:%d", gatewayPort))
	t.Setenv("HTTP_PORT", fmt.Sprint(servicePort))
	t.Setenv("ADMIN_ADDRESS", "off")
	t.Setenv("HTTP_BIND_ADDRESS", "unset below") // restored when the test ends
	os.Unsetenv("HTTP_BIND_ADDRESS")
	cfg := defaultCaddyfile(t)
	startGateway(t, gatewayPort, cfg)
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/v1/healthz", servicePort), 5*time.Second)
	if canConnect(fmt.Sprintf("%s:%d", external, servicePort)) {
		t.Fatalf("the direct listener (no rate limits) answers on %s, a non-loopback address", external)
	}

	t.Setenv("HTTP_BIND_ADDRESS", "0.0.0.0")
	loadConfig(t, cfg)
	waitHTTP(t, fmt.Sprintf("http://%s:%d/v1/healthz", external, servicePort), 5*time.Second)
}

// Credentials a client puts in the query string are not accepted there, and
// the default Caddyfile's log filter keeps them out of the logged URI (Caddy
// logs it at debug level for a failed request, here a 413).
func TestHostileQueryStringCredentialsNotLogged(t *testing.T) {
	gatewayPort, servicePort := freePort(t), freePort(t)
	p := startProcess(t, withPorts(defaultCaddyfile(t), gatewayPort, servicePort),
		"LOG_LEVEL=debug", "LOG_FORMAT=json", "MAX_REQUEST_BODY=1KB")
	base := fmt.Sprintf("http://127.0.0.1:%d", gatewayPort)
	waitHTTP(t, base+"/v1/healthz", 20*time.Second)
	g := &gateway{t: t, base: base, client: &http.Client{Timeout: 10 * time.Second}}
	access := guestToken(t, g)
	key := "sk_" + strings.Repeat("Q", 43)
	rememberSecret("access token", access)
	rememberSecret("API key", key)

	query := "?access_token=" + access + "&api_key=" + key + "&token=" + access + "&page=2"
	// Not accepted from the query string: the gateway reads headers only.
	wantError(t, g.do("GET", "/v1/conversations"+query, nil), http.StatusUnauthorized, "missing_credentials")
	// A failed request has its URI logged at debug level.
	wantError(t, g.do("POST", "/v1/chat/completions"+query, strings.Repeat("x", 4<<10), bearerHeader(access)...),
		http.StatusRequestEntityTooLarge, "")
	p.stop(t)

	logs := p.logs.String()
	if !strings.Contains(logs, `"uri":"/v1/chat/completions?`) {
		t.Fatalf("the debug log holds no URI of the refused request; the check would prove nothing\n%.3000s", logs)
	}
	for _, secret := range []string{access, key} {
		if strings.Contains(logs, secret) {
			t.Errorf("a credential from the query string is in the logs")
		}
	}
	if !strings.Contains(logs, `"uri":"/v1/chat/completions?page=2"`) {
		t.Errorf("the logged URI lost more than the credentials; want the other parameters kept")
	}
}

// PostgreSQL down when the gateway starts (containers start in any order):
// the gateway starts anyway, readiness names the database, the routes that
// need it answer 503 database_unavailable, and once PostgreSQL is up it
// migrates and serves without a restart.
func TestHostileStartsBeforePostgres(t *testing.T) {
	pg := initPostgres(t) // initialised, not started
	gatewayPort := freePort(t)
	p := startProcess(t, fmt.Sprintf(`{
	admin off
	log {
		level debug
		format filter {
			wrap json
			request>headers>X-Api-Key delete
		}
	}
	llm {
		database_url %s
		database_connect_timeout 1s
	}
}

http://127.0.0.1:%d {
	route {
		llm_auth
		llm_api
	}
	handle_errors {
		llm_error
	}
}
`, pg.url(), gatewayPort))
	base := fmt.Sprintf("http://127.0.0.1:%d", gatewayPort)
	waitHTTP(t, base+"/v1/healthz", 20*time.Second)
	g := &gateway{t: t, base: base, client: &http.Client{Timeout: 10 * time.Second}}

	e := wantError(t, g.do("GET", "/v1/readyz", nil), http.StatusServiceUnavailable, "")
	if msg, _ := e["message"].(string); !strings.Contains(msg, "database") {
		t.Errorf("readiness while PostgreSQL is down says %q, want it to name the database", msg)
	}
	wantError(t, g.do("POST", "/llm/auth/guest-login", nil), http.StatusServiceUnavailable, "database_unavailable")

	pg.start()
	waitFor(t, 30*time.Second, func() (int, bool) {
		r := g.do("GET", "/v1/readyz", nil)
		return r.Status, r.Status == http.StatusOK
	})
	token := guestToken(t, g)
	r := g.do("POST", "/v1/conversations", map[string]any{"metadata": map[string]string{"topic": "after start"}}, bearerHeader(token)...)
	if r.Status != http.StatusOK && r.Status != http.StatusCreated {
		t.Fatalf("creating a conversation once PostgreSQL is up = %d %s", r.Status, r.Body)
	}
	if strings.Contains(p.logs.String(), `"level":"error"`) {
		t.Errorf("the gateway logged an ERROR while waiting for PostgreSQL:\n%.3000s", p.logs.String())
	}
}

// The OIDC provider down when the gateway starts: valid tokens get 503 (the
// fault is the gateway's, not the token's) rather than 401 invalid_token,
// and are accepted within about a second of the provider coming back — not
// only after the 10 s refetch interval.
func TestHostileOIDCProviderDownAtStart(t *testing.T) {
	var up atomic.Bool
	secrets := &secretSet{}
	provider := newOIDCProvider(t, secrets)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		r.URL.Path = "/realms/jan/protocol/openid-connect/certs"
		provider.serveJWKS(w, r)
	}))
	t.Cleanup(flaky.Close)

	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`auth {
			oidc {
				jwks_url %s/certs
				issuer %s
				audience %s
				algorithms RS256
			}
		}`, flaky.URL, provider.issuer, oidcAudience),
		Routes: "llm_auth",
	}))
	token := provider.token("erin")
	rememberSecret("access token", token)

	r := g.do("GET", "/llm/auth/me", nil, bearerHeader(token)...)
	wantError(t, r, http.StatusServiceUnavailable, "oidc_unavailable")
	if h := r.Header.Get("WWW-Authenticate"); h != "" {
		t.Errorf("a 503 of the gateway's own carries a challenge %q, as if the token were at fault", h)
	}

	up.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	for {
		r := g.do("GET", "/llm/auth/me", nil, bearerHeader(token)...)
		if r.Status == http.StatusOK {
			break
		}
		if r.Status == http.StatusUnauthorized {
			t.Fatalf("a valid token got 401 while the provider is back: %s", r.Body)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the token was still refused (%d %s) seconds after the provider came back", r.Status, r.Body)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
