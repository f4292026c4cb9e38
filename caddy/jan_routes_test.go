package main

// Jan's own clients against the default Caddyfile: the /auth/* alias its
// collections start with, the root probes, 404s for unknown paths before
// authentication, and X-Request-Id on every answer.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// startDefaultGateway runs the default Caddyfile in process, with env set
// for the time of the test, and returns the gateway and the service
// listener's base URL. Its debug logs go to the package's log file, which is
// checked for every secret the tests saw.
func startDefaultGateway(t *testing.T, env ...string) (*gateway, string) {
	t.Helper()
	t.Setenv("LOG_LEVEL", "debug")
	// In process, the in-process limiter's buckets outlive a reload by a
	// moment (the pools' release delay), so guests logged in by the test
	// before would count against this one's 5/min guest-login limit from
	// 127.0.0.1. Tests of that limit pass their own value.
	t.Setenv("RATE_LIMIT_GUEST_LOGIN", "1000/min")
	for i := 0; i+1 < len(env); i += 2 {
		t.Setenv(env[i], env[i+1])
	}
	const levelLine = "\t\tlevel {$LOG_LEVEL:info}\n"
	cfg := defaultCaddyfile(t)
	if !strings.Contains(cfg, levelLine) {
		t.Fatalf("the default Caddyfile's global log block has no line %q; update this test", levelLine)
	}
	cfg = strings.Replace(cfg, levelLine, levelLine+"\t\toutput file "+logFile+"\n", 1)
	// The provider pool keys providers by their config text and keeps an
	// unloaded config's providers for a moment (releaseDelay): a test whose
	// upstream differs from the previous test's must differ in text too,
	// not only in the environment, which is fixed for a real process.
	if u := os.Getenv("INFERENCE_BASE_URL"); u != "" {
		cfg = strings.ReplaceAll(cfg, "{env.INFERENCE_BASE_URL}", u)
	}
	gw, svc := freePort(t), freePort(t)
	g := startGateway(t, gw, withPorts(cfg, gw, svc))
	return g, fmt.Sprintf("http://127.0.0.1:%d", svc)
}

// Jan's collections start with POST /auth/guest-login and go on under
// /auth/...: every auth route answers there as under /llm/auth/..., on both
// sites; probes find /healthz and /readyz at the root.
func TestJanAuthAliasAndRootProbes(t *testing.T) {
	g, service := startDefaultGateway(t, "RATE_LIMIT_PER_IP", "1000/min")
	for _, base := range []string{g.base, service} {
		g.base = base
		login := g.do("POST", "/auth/guest-login", nil)
		if login.Status != http.StatusCreated {
			t.Fatalf("%s POST /auth/guest-login = %d %s", base, login.Status, login.Body)
		}
		m := login.JSON(t)
		access, _ := m["access_token"].(string)
		refresh, _ := m["refresh_token"].(string)
		user, _ := m["user_id"].(string)
		if access == "" || refresh == "" || !strings.HasPrefix(user, "usr_") {
			t.Fatalf("guest login through /auth lacks its tokens: %s", login.Body)
		}

		me := g.do("GET", "/auth/me", nil, bearerHeader(access)...)
		if me.Status != http.StatusOK || me.JSON(t)["id"] != user {
			t.Fatalf("%s GET /auth/me = %d %s, want the guest %s", base, me.Status, me.Body, user)
		}
		// Guests hold no API keys: the alias answers exactly as the route.
		for _, path := range []string{"/auth/api-keys", "/llm/auth/api-keys"} {
			r := g.do("GET", path, nil, bearerHeader(access)...)
			want := g.do("GET", "/llm/auth/api-keys", nil, bearerHeader(access)...)
			if r.Status == http.StatusNotFound || r.Status != want.Status {
				t.Fatalf("%s GET %s = %d %s, want %d as /llm/auth/api-keys", base, path, r.Status, r.Body, want.Status)
			}
		}
		ref := g.do("POST", "/auth/refresh-token", map[string]string{"refresh_token": refresh})
		if ref.Status != http.StatusOK {
			t.Fatalf("%s POST /auth/refresh-token = %d %s", base, ref.Status, ref.Body)
		}
		newRefresh, _ := ref.JSON(t)["refresh_token"].(string)
		if out := g.do("POST", "/auth/logout", nil, "Cookie", "refresh_token="+newRefresh); out.Status >= 300 {
			t.Fatalf("%s POST /auth/logout = %d %s", base, out.Status, out.Body)
		}
		// Logged out: the refresh token no longer works through either path.
		if again := g.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": newRefresh}); again.Status != http.StatusUnauthorized {
			t.Fatalf("refresh after /auth/logout = %d %s, want 401", again.Status, again.Body)
		}

		for path, status := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
			r := g.do("GET", path, nil)
			if r.Status != http.StatusOK || r.JSON(t)["status"] != status {
				t.Fatalf("%s GET %s = %d %s, want 200 %q", base, path, r.Status, r.Body, status)
			}
		}
	}
}

// The root probes are health routes: the per-IP limit does not count them,
// so a probe every second never gets a 429.
func TestRootProbesAreNotRateLimited(t *testing.T) {
	g, _ := startDefaultGateway(t, "RATE_LIMIT_PER_IP", "2/min")
	for i := range 5 {
		for _, path := range []string{"/healthz", "/readyz"} {
			if r := g.do("GET", path, nil); r.Status != http.StatusOK {
				t.Fatalf("probe %d of %s = %d %s", i, path, r.Status, r.Body)
			}
		}
	}
}

// A path the API does not serve is a 404 in the spec's shape, with or
// without credentials; a known route without credentials stays a 401.
// Paths that are not clean get a JSON 404, not Go's HTML redirect.
func TestUnknownPathsAre404WithoutCredentials(t *testing.T) {
	g, service := startDefaultGateway(t, "RATE_LIMIT_PER_IP", "1000/min")
	token := guestToken(t, g)
	for _, base := range []string{g.base, service} {
		g.base = base
		for _, path := range []string{"/v1/nope", "/v2/models", "/llm/v1/chat/complete", "/auth/nope", "/"} {
			r := g.do("GET", path, nil)
			e := wantError(t, r, http.StatusNotFound, "route_not_found")
			if !strings.HasPrefix(e["message"].(string), "no route for GET /") {
				t.Errorf("%s GET %s: message %q does not name the route", base, path, e["message"])
			}
			wantError(t, g.do("GET", path, nil, bearerHeader(token)...), http.StatusNotFound, "route_not_found")
		}
		wantUnauthorized(t, g.do("GET", "/v1/models", nil), "missing_credentials")
		wantUnauthorized(t, g.do("POST", "/v1/chat/completions", `{}`), "missing_credentials")
		// A known path with another method is still the API's: 401 first.
		wantUnauthorized(t, g.do("DELETE", "/v1/models", nil), "missing_credentials")

		for _, path := range []string{"//v1/models", "/v1//models", "/v1/./models", "/v1/conversations/../models"} {
			for _, creds := range [][]string{nil, bearerHeader(token)} {
				r := rawGet(t, base, path, creds...)
				if r.Status != http.StatusNotFound || !strings.Contains(r.Header.Get("Content-Type"), "application/json") {
					t.Fatalf("%s GET %s (credentials: %v) = %d %s %s, want a JSON 404", base, path, creds != nil, r.Status, r.Header.Get("Content-Type"), r.Body)
				}
				wantError(t, r, http.StatusNotFound, "route_not_found")
			}
		}
	}
}

// rawGet sends a GET with the path exactly as given (Go's client would keep
// it too, but a raw request line leaves no doubt) and reads the answer.
func rawGet(t testing.TB, base, path string, headers ...string) response {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n"
	for i := 0; i+1 < len(headers); i += 2 {
		req += headers[i] + ": " + headers[i+1] + "\r\n"
	}
	if _, err := c.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// postChunked posts body without a Content-Length, as a client streaming
// its upload does, so that only reading it finds it too large.
func postChunked(t testing.TB, url, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest("POST", url, io.NopCloser(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// Every answer carries X-Request-Id: the API's, llm_auth's 401, Caddy's own
// 413 from request_body and the handlers' 413, llm_rate_limit's 429, and the
// 404 of an unknown path. A client's plain id is kept. Both 413s name the
// one limit that applied, in one message.
func TestRequestIDOnEveryAnswer(t *testing.T) {
	g, _ := startDefaultGateway(t, "RATE_LIMIT_PER_IP", "8/min", "MAX_REQUEST_BODY", "1KB")
	wantID := func(what string, r response, want string) {
		t.Helper()
		got := r.Header.Get("X-Request-Id")
		if got == "" || (want != "" && got != want) {
			t.Fatalf("%s (%d): X-Request-Id = %q, want %q (non-empty)", what, r.Status, got, want)
		}
	}

	r := g.do("GET", "/v1/models", nil)
	wantUnauthorized(t, r, "missing_credentials")
	wantID("401 of llm_auth", r, "")
	r = g.do("GET", "/v1/models", nil, "X-Request-Id", "jan-client-42")
	wantID("401 of llm_auth with the client's id", r, "jan-client-42")
	wantID("404 of an unknown path", g.do("GET", "/v1/nope", nil), "")

	token := guestToken(t, g)
	big := `{"title":"` + strings.Repeat("x", 4000) + `"}`
	// Content-Length above request_body's max_size: Caddy's own 413,
	// written by llm_error.
	declared := g.do("POST", "/v1/conversations", big, bearerHeader(token)...)
	e1 := wantError(t, declared, http.StatusRequestEntityTooLarge, "request_too_large")
	wantID("413 of request_body", declared, "")
	// No Content-Length: the handler's read trips request_body's limit.
	chunked := postChunked(t, g.base+"/v1/conversations", big, bearerHeader(token)...)
	e2 := wantError(t, chunked, http.StatusRequestEntityTooLarge, "request_too_large")
	wantID("413 of a handler", chunked, "")
	if e1["message"] != e2["message"] || !strings.Contains(e1["message"].(string), "1000 bytes") {
		t.Fatalf("413 messages differ or do not name the 1KB limit:\n%v\n%v", e1["message"], e2["message"])
	}

	var last response
	for range 20 {
		if last = g.do("GET", "/v1/models", nil, bearerHeader(token)...); last.Status == http.StatusTooManyRequests {
			break
		}
	}
	wantError(t, last, http.StatusTooManyRequests, "rate_limit_exceeded")
	wantID("429 of llm_rate_limit", last, "")
}
