package main

// Hostile clients against the rate limits and readiness (issue 12, findings
// 2, 4 and 9), replayed through a real Caddy on the default Caddyfile (or a
// test one) against real PostgreSQL and Redis: load must not switch the
// limits off, a client must not choose its IP, minting guests must not
// multiply the guest tier, and a readiness flood must not become a lever.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-llm/gateway/store/storetest"
)

// startHostileDefault starts the default Caddyfile on PostgreSQL and the
// Redis at redisURL, with OIDC off and the environment overrides given.
func startHostileDefault(t *testing.T, redisURL string, env map[string]string) *authEnv {
	t.Helper()
	vars := map[string]string{
		"REDIS_URL": redisURL, "DATABASE_URL": storetest.NewPostgresDatabase(t), "DB_POSTGRESQL_WRITE_DSN": "",
		"JWKS_URL": "", "KEYCLOAK_BASE_URL": "", "LOG_LEVEL": "error",
	}
	for k, v := range env {
		vars[k] = v
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	// The Caddyfile's own defaults for the rest: {$X:default} takes the
	// default only when X is unset.
	for _, k := range []string{"TRUSTED_PROXIES", "RATE_LIMIT_POLICY", "RATE_LIMIT_PER_IP", "RATE_LIMIT_GUEST", "RATE_LIMIT_GUEST_LOGIN"} {
		if _, ok := vars[k]; !ok {
			t.Setenv(k, "") // restored when the test ends
			os.Unsetenv(k)
		}
	}
	gw, svc := freePort(t), freePort(t)
	return &authEnv{gateway: startGateway(t, gw, withPorts(defaultCaddyfile(t), gw, svc)), secrets: &secretSet{}}
}

// concurrentStatuses sends n requests at once and counts their statuses;
// every request must get an answer.
func concurrentStatuses(t *testing.T, n int, newRequest func(i int) *http.Request) (statusCounts, time.Duration) {
	t.Helper()
	counts, _, took := concurrentBodies(t, n, newRequest, nil)
	return counts, took
}

// concurrentBodies is concurrentStatuses that also counts the responses
// whose body contains want (when not empty).
func concurrentBodies(t *testing.T, n int, newRequest func(i int) *http.Request, want []byte) (statusCounts, int, time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := statusCounts{}
	withWant := 0
	var failures []string
	for i := range n {
		req := newRequest(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := client.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err.Error())
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			counts[resp.StatusCode]++
			if len(want) > 0 && bytes.Contains(body, want) {
				withWant++
			}
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests got no answer; first: %s", len(failures), n, failures[0])
	}
	return counts, withWant, took
}

// chatRequest builds a chat completion request with the credentials.
func chatRequest(t testing.TB, base string, headers ...string) *http.Request {
	t.Helper()
	body, _ := json.Marshal(rateChatRequest)
	req, err := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// Finding 2: 800 chat completions at once from one guest, on the default
// Caddyfile with Redis up, get at most the guest tier's 10 through (plus
// what refilled meanwhile, one per 6 s); the rest are 429, never a request
// waved through because the gateway's own Redis pool was drained.
func TestHostileConcurrentChatsFromOneGuest(t *testing.T) {
	const requests, limit = 800, 10
	rs := startRedis(t, 0)
	// The per-IP limit is raised so that the guest tier is what the burst
	// meets.
	e := startHostileDefault(t, rs.url(), map[string]string{"RATE_LIMIT_PER_IP": "100000/min"})
	guest := e.guestLogin(t)

	counts, took := concurrentStatuses(t, requests, func(int) *http.Request {
		return chatRequest(t, e.base, bearerHeader(guest.Access)...)
	})
	refilled := int(took / (time.Minute / limit))
	t.Logf("%d concurrent chat completions from one guest against %d/min in %s: %v", requests, limit, took.Round(time.Millisecond), counts)
	if counts[http.StatusOK] > limit+refilled || counts[http.StatusOK] == 0 {
		t.Fatalf("%d of %d passed against a limit of %d (%d refilled in %s): the limit was switched off by load",
			counts[http.StatusOK], requests, limit, refilled, took.Round(time.Millisecond))
	}
	if !counts.only(http.StatusOK, http.StatusTooManyRequests) {
		t.Fatalf("statuses %v, want only 200 and 429", counts)
	}
}

// Finding 2: with Redis killed, fail_open (the default) keeps the limits in
// process: a guest that used 4 of its 10 chat completions through Redis gets
// exactly 6 more, and 429 after; the per-IP limit holds the same way.
func TestHostileRedisKilledLocalLimitsHold(t *testing.T) {
	rs := startRedis(t, 0)
	e := startHostileDefault(t, rs.url(), map[string]string{"RATE_LIMIT_PER_IP": "30/min"})
	guest := e.guestLogin(t) // 1 request of the per-IP 30
	creds := bearerHeader(guest.Access)
	for i := range 4 {
		if r := e.do("POST", "/v1/chat/completions", rateChatRequest, creds...); r.Status != http.StatusOK {
			t.Fatalf("chat %d with Redis up: %d %s", i+1, r.Status, r.Body)
		}
	}
	rs.stop()

	statuses := statusCounts{}
	var first429 response
	began := time.Now()
	for range 20 {
		r := e.do("POST", "/v1/chat/completions", rateChatRequest, creds...)
		statuses[r.Status]++
		if r.Status == http.StatusTooManyRequests && first429.Status == 0 {
			first429 = r
		}
	}
	refilled := int(time.Since(began) / (time.Minute / 10))
	t.Logf("20 chats with Redis down after 4 with Redis up: %v", statuses)
	if statuses[http.StatusOK] < 6 || statuses[http.StatusOK] > 6+refilled || !statuses.only(http.StatusOK, http.StatusTooManyRequests) {
		t.Fatalf("with Redis down: %v; want 6 × 200 (the guest tier's 10 less the 4 used) and the rest 429", statuses)
	}
	wantError(t, first429, http.StatusTooManyRequests, "rate_limit_exceeded")
	if h := readRateHeaders(t, first429); h.Limit != 10 || h.Remaining != 0 || h.RetryAfter < 1 {
		t.Fatalf("429 with Redis down: limit %d remaining %d Retry-After %d", h.Limit, h.Remaining, h.RetryAfter)
	}

	// The per-IP limit (30/min, of which 25 are used) holds too, on a route
	// the guest tier does not cover.
	ip := statusCounts{}
	for range 10 {
		ip[e.do("GET", "/v1/models", nil, creds...).Status]++
	}
	refilled = int(time.Since(began) / (time.Minute / 30))
	if ip[http.StatusOK] < 5 || ip[http.StatusOK] > 5+refilled || !ip.only(http.StatusOK, http.StatusTooManyRequests) {
		t.Fatalf("per-IP limit with Redis down: %v; want 5 × 200 and the rest 429", ip)
	}
}

// Finding 4: with the default Caddyfile no proxy is trusted, so a client
// that rotates X-Forwarded-For and X-Real-IP stays one client: it gets the
// per-IP limit (100/min) and no more, and guest login its own 5 per minute.
func TestHostileForgedForwardedForDefaultConfig(t *testing.T) {
	rs := startRedis(t, 0)
	e := startHostileDefault(t, rs.url(), nil)
	forged := func(i int) []string {
		addr := fmt.Sprintf("203.0.%d.%d", i/250, i%250+1)
		return []string{"X-Forwarded-For", addr, "X-Real-IP", addr}
	}

	logins := statusCounts{}
	for i := range 10 {
		logins[e.do("POST", "/llm/auth/guest-login", nil, forged(i)...).Status]++
	}
	if logins[http.StatusCreated] != 5 || logins[http.StatusTooManyRequests] != 5 {
		t.Errorf("10 guest logins with rotating forged addresses: %v; want 5 × 201 and 5 × 429", logins)
	}

	// 10 requests of the 100 are used; 90 more pass, then 429.
	passed := 0
	for i := range 120 {
		r := e.do("GET", "/v1/conversations", nil, forged(100+i)...)
		if r.Status == http.StatusTooManyRequests {
			h := readRateHeaders(t, r)
			if h.LimitMinute != 100 || h.RemainingMinute != 0 {
				t.Fatalf("429: Limit-Minute %d Remaining-Minute %d; want 100 and 0", h.LimitMinute, h.RemainingMinute)
			}
			break
		}
		wantError(t, r, http.StatusUnauthorized, "missing_credentials")
		passed++
	}
	if passed < 90 || passed > 92 { // 90, and what refilled at 1 per 600ms
		t.Fatalf("%d requests with rotating forged addresses passed the per-IP limit; want 90 (the 100/min less the 10 logins)", passed)
	}
}

// Finding 4: behind a trusted proxy (TRUSTED_PROXIES=127.0.0.1/32 here),
// the client IP is the right-most address of X-Forwarded-For that is not a
// trusted proxy: what a client writes to the left of it, or in X-Real-IP,
// changes nothing. Control: each right-most address is its own client.
func TestHostileTrustedProxyRightmostAddress(t *testing.T) {
	rs := startRedis(t, 0)
	e := startHostileDefault(t, rs.url(), map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"})
	login := func(xff, realIP string) int {
		return e.do("POST", "/llm/auth/guest-login", nil, "X-Forwarded-For", xff, "X-Real-IP", realIP).Status
	}

	forgedLeft := statusCounts{}
	for i := range 8 {
		forgedLeft[login(fmt.Sprintf("203.0.113.%d, 198.51.100.7, 127.0.0.1", i+1), fmt.Sprintf("203.0.113.%d", i+1))]++
	}
	if forgedLeft[http.StatusCreated] != 5 || forgedLeft[http.StatusTooManyRequests] != 3 {
		t.Fatalf("rotating the left of X-Forwarded-For: %v; want 5 × 201 then 3 × 429 (one client, 198.51.100.7)", forgedLeft)
	}
	control := statusCounts{}
	for i := range 8 {
		control[login(fmt.Sprintf("198.51.100.%d", 20+i), "198.51.100.7")]++
	}
	if control[http.StatusCreated] != 8 {
		t.Fatalf("8 clients behind the proxy: %v; want 8 × 201 (each right-most address its own client)", control)
	}
}

// Finding 4: guests cost nothing to create, so the guest tier also counts
// per client IP: five guests from one address share its 10 chat completions
// per minute, while a guest from another address has its own.
func TestHostileManyGuestsShareGuestTier(t *testing.T) {
	rs := startRedis(t, 0)
	e := startHostileDefault(t, rs.url(), map[string]string{
		"TRUSTED_PROXIES": "127.0.0.1/32", "RATE_LIMIT_GUEST_LOGIN": "100/min",
	})
	from := func(ip string, extra ...string) []string { return append([]string{"X-Forwarded-For", ip}, extra...) }
	var guests []authSession
	for range 5 {
		guests = append(guests, e.wantSession(t, e.do("POST", "/llm/auth/guest-login", nil, from("198.51.100.1")...), http.StatusCreated))
	}
	other := e.wantSession(t, e.do("POST", "/llm/auth/guest-login", nil, from("198.51.100.2")...), http.StatusCreated)

	shared := statusCounts{}
	began := time.Now()
	for round := range 4 {
		for i, g := range guests {
			r := e.do("POST", "/v1/chat/completions", rateChatRequest, from("198.51.100.1", bearerHeader(g.Access)...)...)
			shared[r.Status]++
			if r.Status != http.StatusOK && r.Status != http.StatusTooManyRequests {
				t.Fatalf("guest %d, round %d: %d %s", i+1, round+1, r.Status, r.Body)
			}
		}
	}
	refilled := int(time.Since(began) / (time.Minute / 10))
	t.Logf("5 guests from one address, 4 chats each: %v", shared)
	if shared[http.StatusOK] < 10 || shared[http.StatusOK] > 10+refilled {
		t.Fatalf("5 guests from one address sent 20 chats: %v; want 10 × 200 (one guest tier per address)", shared)
	}
	for i := range 10 {
		if r := e.do("POST", "/v1/chat/completions", rateChatRequest, from("198.51.100.2", bearerHeader(other.Access)...)...); r.Status != http.StatusOK {
			t.Fatalf("the guest from another address, chat %d: %d %s", i+1, r.Status, r.Body)
		}
	}
}

// redisPings returns how many PING commands the Redis at url has served
// since its statistics were last reset.
func redisPings(t testing.TB, c *redis.Client) int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("reading redis command statistics: %v", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_ping:calls="); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}

// Finding 9: readiness is public; a flood of it is answered from one round
// of checks per second on a connection of its own, so it neither pings
// Redis per request nor reports a false "redis down" under the rate
// limiter's load. With Redis down under fail_open the gateway still serves
// (the limits are kept in process), so readiness stays 200 and says
// "degraded"; the outage is logged once, not once per request.
func TestHostileReadyzFlood(t *testing.T) {
	rs := startRedis(t, 0)
	logs := newLogCapture(t)
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port:   port,
		LLM:    fmt.Sprintf("database_url %s\n\t\tredis_url %s\n\t\tredis_timeout 50ms", storetest.NewPostgresDatabase(t), rs.url()),
		Global: logs.global(),
		Site:   logs.site() + "\n\t@chat path /v1/chat/completions",
		Routes: `llm_auth
		llm_rate_limit @chat {
			by principal
			guest 10/min
		}`,
	}))
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rs.port)})
	t.Cleanup(func() { _ = rc.Close() })
	if err := rc.ConfigResetStat(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	guest := guestToken(t, g)

	// The flood: 1500 readiness checks in waves of 300 at once, each wave
	// with 10 chat completions of a guest keeping the rate limiter busy.
	const waves, perWave, chats = 5, 300, 10
	const floods = waves * perWave
	counts, ready := statusCounts{}, 0
	began := time.Now()
	for range waves {
		c, n, _ := concurrentBodies(t, perWave+chats, func(i int) *http.Request {
			if i < chats {
				return chatRequest(t, g.base, bearerHeader(guest)...)
			}
			req, _ := http.NewRequest("GET", g.base+"/v1/readyz", nil)
			return req
		}, []byte(`"redis":"up"`))
		for status, k := range c {
			counts[status] += k
		}
		ready += n
	}
	took := time.Since(began)
	pings := redisPings(t, rc)
	t.Logf("%d readiness checks and 50 chats in waves in %s: %v; Redis served %d PINGs", floods, took.Round(time.Millisecond), counts, pings)
	if counts[http.StatusServiceUnavailable] > 0 || ready != floods {
		t.Fatalf("with Redis up, %d of %d readiness checks reported Redis up (%d × 503); readiness warnings:\n%s",
			ready, floods, counts[http.StatusServiceUnavailable], strings.Join(readinessWarnings(t, logs), "\n"))
	}
	if maxPings := int(took/time.Second) + 2; pings > maxPings {
		t.Fatalf("%d readiness checks in %s cost Redis %d PINGs; want at most %d (one round per second)", floods, took.Round(time.Millisecond), pings, maxPings)
	}

	rs.stop()
	r := waitFor(t, 10*time.Second, func() (response, bool) {
		r := g.do("GET", "/v1/readyz", nil)
		return r, r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"redis":"up"`)
	})
	if r.Status != http.StatusOK {
		t.Fatalf("readiness with Redis down under fail_open = %d %s; want 200 degraded", r.Status, r.Body)
	}
	body := r.JSON(t)
	checks, _ := body["checks"].(map[string]any)
	if body["status"] != "degraded" || checks["redis"] != "down" || checks["database"] != "up" {
		t.Fatalf("readiness with Redis down = %s; want status degraded, redis down, database up", r.Body)
	}
	counts, _ = concurrentStatuses(t, 500, func(int) *http.Request {
		req, _ := http.NewRequest("GET", g.base+"/v1/readyz", nil)
		return req
	})
	if !counts.only(http.StatusOK) {
		t.Fatalf("a readiness flood with Redis down under fail_open: %v; want only 200", counts)
	}

	if warnings := readinessWarnings(t, logs); len(warnings) != 1 {
		t.Fatalf("a readiness flood with Redis down logged %d readiness warnings; want 1 (state changes only):\n%s",
			len(warnings), strings.Join(warnings[:min(len(warnings), 5)], "\n"))
	}
}

// readinessWarnings returns the warnings about readiness in the captured
// logs.
func readinessWarnings(t testing.TB, logs *logCapture) []string {
	t.Helper()
	data, err := os.ReadFile(logs.logs)
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, `"level":"warn"`) && strings.Contains(line, "readiness") {
			warnings = append(warnings, line)
		}
	}
	return warnings
}
