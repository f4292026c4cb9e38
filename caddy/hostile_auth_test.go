package main

// Hostile clients against authentication (issue #12, findings 11): through a
// real Caddy on PostgreSQL, each test plays the attack and checks what the
// client sees.

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-llm/gateway/store/storetest"
)

// An API key cannot list, create or revoke its owner's keys: a leaked key
// must not be able to see the others, mint more, or lock its owner out.
func TestHostileAPIKeyCannotManageKeys(t *testing.T) {
	e := startAuthGateway(t, authOptions{})
	session := e.oidc.token("alice")
	first := e.createAPIKey(t, session, map[string]string{"name": "first"})
	other := e.createAPIKey(t, session, map[string]string{"name": "other"})
	key := first["key"].(string)

	for _, creds := range [][]string{bearerHeader(key), {"X-API-Key", key}} {
		wantError(t, e.do("GET", "/llm/auth/api-keys", nil, creds...), http.StatusForbidden, "api_key_not_allowed")
		wantError(t, e.do("POST", "/llm/auth/api-keys", map[string]string{"name": "minted"}, creds...), http.StatusForbidden, "api_key_not_allowed")
		wantError(t, e.do("DELETE", "/llm/auth/api-keys/"+other["id"].(string), nil, creds...), http.StatusForbidden, "api_key_not_allowed")
	}
	// The key still works for the API, and the owner's session still
	// manages both keys.
	if r := e.do("GET", "/v1/models", nil, bearerHeader(key)...); r.Status != http.StatusOK {
		t.Fatalf("the key on /v1/models = %d %s", r.Status, r.Body)
	}
	list := e.do("GET", "/llm/auth/api-keys", nil, bearerHeader(session)...)
	if list.Status != http.StatusOK || strings.Count(string(list.Body), `"id":"key_`) != 2 {
		t.Fatalf("the owner's list = %d %s, want both keys", list.Status, list.Body)
	}
}

// A key created with a lifetime of a nanosecond (or any under a second) is
// refused instead of being handed out already expired.
func TestHostileAPIKeyBornExpiredIsRefused(t *testing.T) {
	e := startAuthGateway(t, authOptions{})
	session := e.oidc.token("bob")
	for _, body := range []map[string]any{
		{"expires_in": "1ns"},
		{"expires_in": 0.5},
		{"expires_in": "999ms"},
		{"expires_at": time.Now().Add(100 * time.Millisecond).UTC().Format(time.RFC3339Nano)},
	} {
		r := e.do("POST", "/llm/auth/api-keys", body, bearerHeader(session)...)
		e.secrets.add(apiKeyPattern.FindString(string(r.Body)))
		wantError(t, r, http.StatusBadRequest, "invalid_expiry")
	}
	e.createAPIKey(t, session, map[string]any{"expires_in": "1m"})
}

// The per-user cap of 100 keys holds against concurrent creates: the count
// and the insert are one step in the store.
func TestHostileAPIKeyCapHoldsUnderConcurrency(t *testing.T) {
	e := startAuthGateway(t, authOptions{})
	session := e.oidc.token("carol")
	const before, burst = 90, 40
	for i := range before {
		e.createAPIKey(t, session, map[string]string{"name": fmt.Sprint("k", i)})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range burst {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", e.base+"/llm/auth/api-keys", strings.NewReader(`{"name":"burst"}`))
			req.Header.Set("Authorization", "Bearer "+session)
			req.Header.Set("Content-Type", "application/json")
			resp, err := e.client.Do(req)
			if err != nil {
				t.Errorf("create: %v", err)
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			rememberSecretsIn(body)
			e.secrets.add(apiKeyPattern.FindString(string(body)))
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusCreated] != 100-before || statuses[http.StatusBadRequest] != burst-(100-before) {
		t.Errorf("%d concurrent creates over %d keys: statuses %v, want %d created and %d refused", burst, before, statuses, 100-before, burst-(100-before))
	}
	list := e.do("GET", "/llm/auth/api-keys", nil, bearerHeader(session)...)
	if n := strings.Count(string(list.Body), `"id":"key_`); n != 100 {
		t.Errorf("the user holds %d keys, want the cap of 100", n)
	}
}

// A GET to logout carrying only the refresh cookie — what any web page can
// make a browser send with a link or an image — does not end the session.
// POST with the cookie does, and GET with the token in Authorization still
// works for clients that send it explicitly.
func TestHostileLogoutByCrossSiteGET(t *testing.T) {
	e := startAuthGateway(t, authOptions{})
	s := e.guestLogin(t)
	r := e.do("GET", "/llm/auth/logout", nil, "Cookie", "refresh_token="+s.Refresh)
	wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	if r.Header.Get("Allow") != "POST" {
		t.Errorf("Allow = %q, want POST", r.Header.Get("Allow"))
	}
	next := e.wantSession(t, e.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": s.Refresh}), http.StatusOK)

	if r := e.do("POST", "/llm/auth/logout", nil, "Cookie", "refresh_token="+next.Refresh); r.Status != http.StatusOK {
		t.Fatalf("POST logout with the cookie = %d %s", r.Status, r.Body)
	}
	wantError(t, e.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": next.Refresh}), http.StatusUnauthorized, "")

	other := e.guestLogin(t)
	if r := e.do("GET", "/llm/auth/logout", nil, bearerHeader(other.Refresh)...); r.Status != http.StatusOK {
		t.Fatalf("GET logout with the token in Authorization = %d %s", r.Status, r.Body)
	}
}

// Behind a TLS-terminating proxy the server trusts, the refresh cookie is
// Secure; X-Forwarded-Proto from a peer that is not a trusted proxy is
// ignored.
func TestHostileRefreshCookieSecureBehindTrustedProxy(t *testing.T) {
	dsn := storetest.NewPostgresDatabase(t)
	t.Cleanup(func() { _ = caddy.Stop() })
	for _, tc := range []struct {
		trusted    string
		header     string
		wantSecure bool
	}{
		{"127.0.0.1/32", "https", true},
		{"127.0.0.1/32", "", false},
		{"10.0.0.0/8", "https", false}, // the loopback peer is not trusted
	} {
		port := freePort(t)
		loadConfig(t, testCaddyfile(t, siteOptions{
			Port:   port,
			Global: fmt.Sprintf("servers {\n\t\ttrusted_proxies static %s\n\t}", tc.trusted),
			LLM:    "database_url " + dsn,
			Routes: "llm_auth",
		}))
		g := &gateway{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port), client: &http.Client{}}
		g.waitReady()
		var hdr []string
		if tc.header != "" {
			hdr = []string{"X-Forwarded-Proto", tc.header}
		}
		r := g.do("POST", "/llm/auth/guest-login", nil, hdr...)
		if r.Status != http.StatusCreated {
			t.Fatalf("guest login = %d %s", r.Status, r.Body)
		}
		if c := refreshCookie(t, r); c.Secure != tc.wantSecure {
			t.Errorf("trusted %s, X-Forwarded-Proto %q: cookie Secure = %v, want %v", tc.trusted, tc.header, c.Secure, tc.wantSecure)
		}
	}
}

// OIDC on without an audience (ACCOUNT unset) refuses to start instead of
// silently accepting tokens the provider issued for any other client;
// allow_any_audience says so on purpose.
func TestHostileOIDCWithoutAudienceRefusesToStart(t *testing.T) {
	secrets := &secretSet{}
	p := newOIDCProvider(t, secrets)
	port := freePort(t)
	cfg := func(extra string) string {
		return testCaddyfile(t, siteOptions{
			Port: port,
			LLM: fmt.Sprintf(`auth {
			oidc {
				jwks_url %s
				issuer %s
				%s
			}
		}`, p.jwksURL(), p.issuer, extra),
			Routes: "llm_auth",
		})
	}
	err := caddy.Load(adapt(t, cfg("")), true)
	if err == nil {
		_ = caddy.Stop()
		t.Fatal("the gateway started with OIDC on and no audience")
	}
	if !strings.Contains(err.Error(), "audience is required") {
		t.Fatalf("start-up error = %v, want one saying the audience is required", err)
	}

	// The default Caddyfile with JWKS_URL and ISSUER but no ACCOUNT, as a
	// deployment that forgot it would run it.
	t.Setenv("JWKS_URL", p.jwksURL())
	t.Setenv("ISSUER", p.issuer)
	t.Setenv("ACCOUNT", "")
	if err := caddy.Load(adapt(t, withPorts(defaultCaddyfile(t), freePort(t), freePort(t))), true); err == nil {
		_ = caddy.Stop()
		t.Fatal("the default Caddyfile started with OIDC on and ACCOUNT unset")
	}

	g := startGateway(t, port, cfg("allow_any_audience"))
	claims := p.claims("dave")
	claims["aud"] = []string{"another-client"}
	tok := p.sign(claims, rsaSignerKID, p.key)
	rememberSecret("access token", tok)
	if r := g.do("GET", "/llm/auth/me", nil, bearerHeader(tok)...); r.Status != http.StatusOK {
		t.Fatalf("with allow_any_audience, a token of another audience = %d %s", r.Status, r.Body)
	}
}
