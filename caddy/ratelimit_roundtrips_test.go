package main

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// scriptCalls returns how many scripts (EVALSHA, EVAL) Redis has run, from
// its own statistics: a Redis of the test's own, so that nothing else counts.
func scriptCalls(t testing.TB, client *redis.Client) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := client.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "cmdstat_evalsha" && name != "cmdstat_eval") {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(stats, "calls="), ",")
		c, err := strconv.ParseInt(calls, 10, 64)
		if err != nil {
			t.Fatalf("reading %q: %v", line, err)
		}
		n += c
	}
	return n
}

// The default Caddyfile decides all of a request's rate limits (per IP,
// guest login per IP, per principal, a guest's per-IP guest tier) in one
// Redis round trip, whatever the route, with the same headers as when each
// limit asked Redis on its own.
func TestRateLimitOneRoundTripPerRequest(t *testing.T) {
	rs := startRedis(t, 0)
	e := startDefaultWithOIDC(t, rs.url(), map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"})
	oidc, from := e.oidc, forwardedFrom
	client := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(rs.url(), "redis://"), "/0")})
	t.Cleanup(func() { _ = client.Close() })

	guest := e.wantSession(t, e.do("POST", "/llm/auth/guest-login", nil, from("10.30.0.1")...), http.StatusCreated)
	key, _ := e.createAPIKey(t, oidc.token("alice"), nil)["key"].(string)

	tests := []struct {
		name       string
		method     string
		path       string
		body       any
		headers    []string
		status     int
		wantLimit  int // X-RateLimit-Limit: the principal's tier, else the IP's
		wantMinute int // X-RateLimit-Limit-Minute: the last per-IP limit's
	}{
		{"chat with an API key (per IP, per key)", "POST", "/v1/chat/completions", rateChatRequest, from("10.30.1.1", "X-API-Key", key), http.StatusOK, 1000, 100},
		{"streamed chat with an API key", "POST", "/v1/chat/completions", rateChatStreamRequest, from("10.30.1.1", "X-API-Key", key), http.StatusOK, 1000, 100},
		{"chat as a guest (per IP, guest, guest tier per IP)", "POST", "/v1/chat/completions", rateChatRequest, from("10.30.0.1", bearerHeader(guest.Access)...), http.StatusOK, 10, 100},
		{"other route with an API key (per IP)", "GET", "/v1/models", nil, from("10.30.1.1", "X-API-Key", key), http.StatusOK, 100, 100},
		{"guest login (per IP, guest login per IP)", "POST", "/llm/auth/guest-login", nil, from("10.30.2.1"), http.StatusCreated, 100, 5},
		{"no credentials (per IP)", "GET", "/v1/conversations", nil, from("10.30.3.1"), http.StatusUnauthorized, 100, 100},
		{"bad credentials (per IP)", "GET", "/v1/conversations", nil, from("10.30.3.1", "X-API-Key", "sk_nope"), http.StatusUnauthorized, 100, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The first request of a route may load the script.
			e.do(tc.method, tc.path, tc.body, tc.headers...)
			before := scriptCalls(t, client)
			r := e.do(tc.method, tc.path, tc.body, tc.headers...)
			if got := scriptCalls(t, client) - before; got != 1 {
				t.Errorf("%d Redis round trips, want 1", got)
			}
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			h := readRateHeaders(t, r)
			if h.Limit != tc.wantLimit || h.LimitMinute != tc.wantMinute {
				t.Fatalf("headers %+v: want X-RateLimit-Limit %d and -Minute %d", h, tc.wantLimit, tc.wantMinute)
			}
		})
	}
}

// redis_url unix:///path reaches Redis over a unix socket: the limits are
// decided there (its scripts count the requests), with the same headers.
func TestRateLimitRedisOverUnixSocket(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "redis.sock")
	cmd := exec.Command("redis-server", "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	client := redis.NewClient(&redis.Options{Network: "unix", Addr: socket})
	t.Cleanup(func() { _ = client.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for client.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer on its socket")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Setenv("REDIS_URL", "unix://"+socket)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("DB_POSTGRESQL_WRITE_DSN", "")
	t.Setenv("LOG_LEVEL", "error")
	gw, svc := freePort(t), freePort(t)
	g := startGateway(t, gw, withPorts(defaultCaddyfile(t), gw, svc))

	before := scriptCalls(t, client)
	for i := range 3 {
		r := g.do("GET", "/v1/conversations", nil)
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", r.Status)
		}
		if got, want := r.Header.Get("X-RateLimit-Remaining-Minute"), strconv.Itoa(99-i); got != want {
			t.Fatalf("request %d: X-RateLimit-Remaining-Minute %q, want %s", i+1, got, want)
		}
	}
	// The first decision may load the script: EVALSHA, then EVAL.
	if got := scriptCalls(t, client) - before; got < 3 || got > 4 {
		t.Fatalf("the socket's Redis ran %d scripts for 3 requests, want 3 (4 with loading)", got)
	}
}

// A per-IP limit decided together with the principal's still refuses first:
// once a client's address is over its limit, every request of it is a 429
// with the per-IP headers, whatever its credentials (bad ones are not even
// looked at), and the principal's own bucket is not charged.
func TestRateLimitDeferredPerIPStillRefusesFirst(t *testing.T) {
	rs := startRedis(t, 0)
	e := startDefaultWithOIDC(t, rs.url(), map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32", "RATE_LIMIT_PER_IP": "3/hour"})
	key, _ := e.createAPIKey(t, e.oidc.token("alice"), nil)["key"].(string)
	from := forwardedFrom

	chat := func(ip string) response {
		return e.do("POST", "/v1/chat/completions", rateChatRequest, from(ip, "X-API-Key", key)...)
	}
	if r := chat("10.40.0.1"); r.Status != http.StatusOK || readRateHeaders(t, r).Remaining != 999 {
		t.Fatalf("first chat: %d, headers %v", r.Status, r.Header)
	}
	for i := range 2 {
		if r := e.do("GET", "/v1/conversations", nil, from("10.40.0.1", "X-API-Key", "sk_wrong")...); r.Status != http.StatusUnauthorized {
			t.Fatalf("bad key %d: status %d, want 401", i+1, r.Status)
		}
	}
	for _, r := range []response{
		chat("10.40.0.1"),
		e.do("GET", "/v1/conversations", nil, from("10.40.0.1", "X-API-Key", "sk_wrong")...),
		e.do("POST", "/llm/auth/guest-login", nil, from("10.40.0.1")...),
	} {
		wantError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded")
		h := readRateHeaders(t, r)
		if h.LimitMinute != -1 || h.Limit != 3 || h.Remaining != 0 || h.RetryAfter < 1 {
			t.Fatalf("refusal headers %+v: want the per-IP limit's (3, none left, Retry-After)", h)
		}
	}
	// The key's bucket lost only the first request.
	if r := chat("10.40.0.2"); r.Status != http.StatusOK || readRateHeaders(t, r).Remaining != 998 {
		t.Fatalf("chat from another address: %d, X-RateLimit-Remaining %q, want 200 and 998", r.Status, r.Header.Get("X-RateLimit-Remaining"))
	}
}
