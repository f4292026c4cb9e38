package main

// Rate limiting through a real Caddy with a real Redis: the tiers and their
// headers, the spec's default numbers in the default Caddyfile, exactness
// across replicas, client IPs that cannot be spoofed, and what happens while
// Redis is down.

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store/storetest"
)

// rateChatRequest is a chat completion request for the spec's model.
var rateChatRequest = map[string]any{
	"model":      "jan-v1-4b",
	"messages":   []map[string]string{{"role": "user", "content": "Hello!"}},
	"max_tokens": 1,
}

// rateChatStreamRequest is the same request, streamed.
var rateChatStreamRequest = map[string]any{
	"model":      "jan-v1-4b",
	"messages":   []map[string]string{{"role": "user", "content": "Hello!"}},
	"max_tokens": 1,
	"stream":     true,
}

// Each tier lets its number of requests through, counting X-RateLimit-Remaining
// down by one, with X-RateLimit-Reset at the time the bucket is full again;
// the next request is a 429 in the spec's shape with Retry-After, and after
// Retry-After a request passes again. The per-IP limit in front adds its
// -Minute headers to every response, and routes outside the tiers' matcher
// carry only the per-IP limit.
func TestRateLimitTiers(t *testing.T) {
	rs := startRedis(t, 0)
	e := &authEnv{secrets: &secretSet{}}
	e.oidc = newOIDCProvider(t, e.secrets)
	port := freePort(t)
	e.gateway = startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM:  redisConfig(rs.url(), time.Second, time.Second) + "\n\t\tauth {\n\t\t\t" + e.oidc.llmAuthBlock() + "\n\t\t}",
		Site: "@tiered path /v1/conversations /v1/conversations/*\n\t@not_health not path /v1/healthz /v1/readyz /v1/version",
		// The per-IP limit is the spec's 100 per minute (one request
		// refills every 600 ms). The tiers' periods are short so that
		// Retry-After can be waited out: each refills one request every
		// two seconds.
		Routes: `llm_rate_limit @not_health {
			by ip
			limit 100/min
		}
		llm_auth
		llm_rate_limit @tiered {
			by principal
			guest 3/6s
			user 4/8s
			api_key 5/10s
		}`,
	}))

	// send sends a request and notes when, for checkIP.
	var lastSent, lastReceived time.Time
	send := func(method, path string, creds ...string) (response, time.Time, time.Time) {
		r, sent, received := timedDo(e.gateway, method, path, nil, creds...)
		lastSent, lastReceived = sent, received
		return r, sent, received
	}
	// checkIP checks the per-IP headers of the last response: the count
	// goes down by one per request, plus what refilled in between (one
	// request per 600 ms; nothing, between requests sent back to back).
	const ipEmission = time.Minute / 100
	ipRemaining, ipSent := -1, time.Time{}
	checkIP := func(t *testing.T, r response) {
		t.Helper()
		h := readRateHeaders(t, r)
		if h.LimitMinute != 100 {
			t.Fatalf("X-RateLimit-Limit-Minute = %d, want the per-IP 100", h.LimitMinute)
		}
		if ipRemaining >= 0 {
			// The bucket's level is fractional and Remaining rounds it
			// down: part of a refill may already have accrued before the
			// previous response, so any time between the two may complete
			// one (ceil, not floor).
			lo := ipRemaining - 1
			elapsed := lastReceived.Sub(ipSent)
			hi := min(lo+int((elapsed+ipEmission-1)/ipEmission), 99)
			if h.RemainingMinute < lo || h.RemainingMinute > hi {
				t.Fatalf("X-RateLimit-Remaining-Minute = %d after %d, want %d to %d: one less per request, plus what refilled",
					h.RemainingMinute, ipRemaining, lo, hi)
			}
		}
		ipRemaining, ipSent = h.RemainingMinute, lastSent
	}

	// An unauthenticated route carries the per-IP limit in both header sets.
	login, _, _ := send("POST", "/llm/auth/guest-login")
	checkIP(t, login)
	if h := readRateHeaders(t, login); h.Limit != 100 || h.Remaining != h.RemainingMinute || h.Remaining != 99 {
		t.Fatalf("guest login: X-RateLimit-Limit %d, Remaining %d; want the per-IP limit (100, 99)", h.Limit, h.Remaining)
	}
	guest := e.wantSession(t, login, http.StatusCreated)
	alice := e.oidc.token("alice")
	key, _ := e.createAPIKey(t, alice, map[string]string{"name": "tier"})["key"].(string)
	ipRemaining = -1 // the key creation went through the per-IP limit unchecked

	// A route outside the tiers' matcher: only the per-IP limit applies.
	me, _, _ := send("GET", "/llm/auth/me", bearerHeader(guest.Access)...)
	checkIP(t, me)
	if h := readRateHeaders(t, me); h.Limit != 100 {
		t.Fatalf("/llm/auth/me: X-RateLimit-Limit = %d, want only the per-IP limit (100)", h.Limit)
	}

	for _, tier := range []struct {
		name   string
		creds  []string
		rate   int
		period time.Duration
	}{
		{"guest", bearerHeader(guest.Access), 3, 6 * time.Second},
		{"user", bearerHeader(alice), 4, 8 * time.Second},
		{"api_key", []string{"X-API-Key", key}, 5, 10 * time.Second},
	} {
		t.Run(tier.name, func(t *testing.T) {
			run := &bucketRun{t: t, what: tier.name, limit: tier.rate, emission: tier.period / time.Duration(tier.rate)}
			refusal, h := run.exhaust(func() (response, time.Time, time.Time) {
				return send("GET", "/v1/conversations", tier.creds...)
			}, func(r response) {
				if r.Status != http.StatusOK {
					t.Fatalf("request %d: status %d %s", run.passed+1, r.Status, r.Body)
				}
				checkIP(t, r)
			})
			checkIP(t, refusal)

			time.Sleep(time.Duration(h.RetryAfter) * time.Second)
			ipRemaining = -1 // the per-IP bucket refilled meanwhile
			r, _, _ := send("GET", "/v1/conversations", tier.creds...)
			if r.Status != http.StatusOK {
				t.Fatalf("after waiting Retry-After (%ds): status %d %s", h.RetryAfter, r.Status, r.Body)
			}
			checkIP(t, r)
			if h := readRateHeaders(t, r); h.Remaining != 0 {
				t.Fatalf("after Retry-After: Remaining = %d, want 0 (one request refilled, one taken)", h.Remaining)
			}
		})
	}
}

// The default Caddyfile enforces the spec's numbers: 100 requests per minute
// per client IP, and on chat completions 10 per minute for guests, 60 per
// minute for users and 1000 per hour for API keys. Client IPs come from
// X-Forwarded-For here: the default Caddyfile trusts no proxy, and
// TRUSTED_PROXIES makes it trust loopback.
func TestRateLimitDefaultCaddyfileNumbers(t *testing.T) {
	rs := startRedis(t, 0)
	e := startDefaultWithOIDC(t, rs.url(), map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"})
	oidc, from := e.oidc, forwardedFrom

	// Per IP: 100 per minute, on every route but health; unauthenticated
	// requests count too.
	ipRun := &bucketRun{t: t, what: "per IP", limit: 100, emission: time.Minute / 100, minute: true}
	ipRun.exhaust(func() (response, time.Time, time.Time) {
		return timedDo(e.gateway, "GET", "/v1/conversations", nil, from("10.9.0.1")...)
	}, func(r response) { wantError(t, r, http.StatusUnauthorized, "missing_credentials") })
	if r := e.do("GET", "/v1/healthz", nil, from("10.9.0.1")...); r.Status != http.StatusOK {
		t.Fatalf("health is limited: %d", r.Status)
	}

	guest := e.wantSession(t, e.do("POST", "/llm/auth/guest-login", nil, from("10.9.1.1")...), http.StatusCreated)
	alice := oidc.token("alice")
	key, _ := e.createAPIKey(t, alice, nil)["key"].(string)

	chatStatuses := statusCounts{}
	tiers := []struct {
		name   string
		creds  []string
		limit  int
		period time.Duration
		ip     func(i int) string
	}{
		{"guest", bearerHeader(guest.Access), 10, time.Minute, func(int) string { return "10.9.1.1" }},
		{"user", bearerHeader(alice), 60, time.Minute, func(int) string { return "10.9.2.1" }},
		// More requests than one IP may send: each from its own address.
		{"api_key", []string{"X-API-Key", key}, 1000, time.Hour, func(i int) string { return fmt.Sprintf("10.20.%d.%d", i/250, i%250+1) }},
	}
	for _, tier := range tiers {
		run := &bucketRun{t: t, what: tier.name, limit: tier.limit, emission: tier.period / time.Duration(tier.limit)}
		i := 0
		run.exhaust(func() (response, time.Time, time.Time) {
			// Every other request streams: the limit's headers come with
			// the stream's headers.
			i++
			body := rateChatRequest
			if i%2 == 1 {
				body = rateChatStreamRequest
			}
			return timedDo(e.gateway, "POST", "/v1/chat/completions", body, from(tier.ip(i), tier.creds...)...)
		}, func(r response) {
			chatStatuses[r.Status]++
			if r.Status == http.StatusOK && i%2 == 1 && !strings.HasPrefix(r.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("%s request %d: a stream was asked for, got Content-Type %q", tier.name, i, r.Header.Get("Content-Type"))
			}
		})
	}
	t.Logf("chat completion statuses below the limits: %v", chatStatuses)
	// Before chat completions existed, the limits applied to their 404s;
	// now that they are served, every request within the limits succeeds.
	if chatStatuses[http.StatusOK] > 0 && !chatStatuses.only(http.StatusOK) {
		t.Fatalf("chat completions are served, yet requests within the limits got %v", chatStatuses)
	}
}

// Two gateway processes sharing one Redis enforce one limit exactly: of 300
// requests sent at once, spread over both, exactly the limit pass.
//
// The limit is 60 per hour rather than the user tier's 60 per minute: GCRA
// refills one request per period / limit, every second at 60 per minute,
// and a burst that lasts longer than that on a busy machine rightly lets a
// refilled request through. One per minute keeps the count exact.
func TestRateLimitExactAcrossReplicas(t *testing.T) {
	const limit, requests = 60, 300
	rs := startRedis(t, 0)
	secrets := &secretSet{}
	oidc := newOIDCProvider(t, secrets)
	dsn := storetest.NewPostgresDatabase(t)
	var bases []string
	for range 2 {
		port := freePort(t)
		// fail_closed and generous Redis timeouts: a decision that cannot
		// be made must show up as a 503 here, not pass uncounted. (With the
		// default 250ms dial timeout, a burst like this one on a cold pool
		// of a busy machine can fail dials and open the circuit breaker;
		// see the report of issue 4.)
		startProcess(t, testCaddyfile(t, siteOptions{
			Port: port,
			LLM: fmt.Sprintf("database_url %s\n\t\t%s\n\t\tauth {\n\t\t\t%s\n\t\t}",
				dsn, redisConfig(rs.url(), 2*time.Second, 2*time.Second), oidc.llmAuthBlock()),
			Site: "@tiered path /v1/conversations",
			Routes: fmt.Sprintf(`llm_auth
		llm_rate_limit @tiered {
			by principal
			user %d/hour
			fail_closed
		}`, limit),
		}))
		bases = append(bases, fmt.Sprintf("http://127.0.0.1:%d", port))
	}
	token := oidc.token("alice")
	for _, base := range bases {
		waitHTTP(t, base+"/v1/healthz", 90*time.Second)
		// Map the OIDC subject to its user on both replicas first, so that
		// only the limiter is under test.
		g := &gateway{t: t, base: base, client: http.DefaultClient}
		if r := g.do("GET", "/llm/auth/me", nil, bearerHeader(token)...); r.Status != http.StatusOK {
			t.Fatalf("replica %s: /me = %d %s", base, r.Status, r.Body)
		}
	}

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: requests}}
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := statusCounts{}
	perReplica := [2]statusCounts{{}, {}}
	var remaining []int
	var failures []string
	for i := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replica := i % 2
			req, _ := http.NewRequest("GET", bases[replica]+"/v1/conversations", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			<-start
			resp, err := client.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err.Error())
				return
			}
			resp.Body.Close()
			counts[resp.StatusCode]++
			perReplica[replica][resp.StatusCode]++
			if resp.StatusCode == http.StatusOK {
				var n int
				fmt.Sscan(resp.Header.Get("X-RateLimit-Remaining"), &n)
				remaining = append(remaining, n)
			}
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)

	t.Logf("%d concurrent requests over 2 replicas against %d/hour in %s: %v (replica A %v, replica B %v)",
		requests, limit, took.Round(time.Millisecond), counts, perReplica[0], perReplica[1])
	if len(failures) > 0 {
		t.Fatalf("%d requests failed: %s", len(failures), failures[0])
	}
	if counts[http.StatusOK] != limit || counts[http.StatusTooManyRequests] != requests-limit || !counts.only(http.StatusOK, http.StatusTooManyRequests) {
		t.Fatalf("statuses %v, want exactly %d × 200 and %d × 429", counts, limit, requests-limit)
	}
	if perReplica[0][http.StatusOK] == 0 || perReplica[1][http.StatusOK] == 0 {
		t.Errorf("one replica let nothing through (%v, %v): is the load spread?", perReplica[0], perReplica[1])
	}
	// Every admitted request saw its own place in the bucket.
	sort.Ints(remaining)
	want := make([]int, limit)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(remaining, want) {
		t.Errorf("X-RateLimit-Remaining of the admitted requests = %v, want each of 0..%d once", remaining, limit-1)
	}
}

// A client that talks to the gateway directly cannot reset its per-IP limit
// by sending X-Forwarded-For or X-Real-IP when the gateway does not trust its
// address as a proxy. When it does trust it (the control case), the
// forwarded address is the client, so each made-up address gets its own
// bucket: the test tells the two apart.
func TestRateLimitIgnoresSpoofedClientIP(t *testing.T) {
	rs := startRedis(t, 0)
	for i, tc := range []struct {
		name    string
		servers string
		trusted bool
	}{
		{"no trusted proxies", "client_ip_headers X-Forwarded-For X-Real-IP", false},
		{"trusted proxies exclude loopback", "trusted_proxies static 10.0.0.0/8 192.168.0.0/16\n\t\t\tclient_ip_headers X-Forwarded-For X-Real-IP", false},
		{"loopback trusted (control)", "trusted_proxies static private_ranges\n\t\t\tclient_ip_headers X-Forwarded-For X-Real-IP", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t)
			g := startGateway(t, port, testCaddyfile(t, siteOptions{
				Port:   port,
				LLM:    redisConfig(rs.url(), time.Second, time.Second),
				Global: "servers {\n\t\t\t" + tc.servers + "\n\t\t}",
				Site:   "@not_health not path /v1/healthz /v1/readyz /v1/version",
				Routes: fmt.Sprintf(`llm_rate_limit @not_health {
			by ip
			limit 3/min
			name spoof%d
		}
		llm_auth`, i),
			}))
			statuses := statusCounts{}
			var last response
			for n := 1; n <= 6; n++ {
				addr := fmt.Sprintf("203.0.113.%d", n)
				last = g.do("POST", "/llm/auth/guest-login", nil,
					"X-Forwarded-For", addr+", 198.51.100.7", "X-Real-IP", addr)
				statuses[last.Status]++
				if last.Status >= 500 {
					t.Fatalf("request %d: %d %s", n, last.Status, last.Body)
				}
			}
			if tc.trusted {
				if statuses[http.StatusCreated] != 6 {
					t.Fatalf("trusted proxy: statuses %v, want 6 × 201 (each forwarded address its own client)", statuses)
				}
				return
			}
			if statuses[http.StatusCreated] != 3 || statuses[http.StatusTooManyRequests] != 3 {
				t.Fatalf("statuses %v, want 3 × 201 then 3 × 429: forwarded addresses must not reset the limit", statuses)
			}
			wantError(t, last, http.StatusTooManyRequests, "rate_limit_exceeded")
			if h := readRateHeaders(t, last); h.LimitMinute != 3 || h.RemainingMinute != 0 || h.RetryAfter < 1 {
				t.Fatalf("429: Limit-Minute %d Remaining-Minute %d Retry-After %d", h.LimitMinute, h.RemainingMinute, h.RetryAfter)
			}
		})
	}
}

// While Redis is down, a fail_open limit lets requests through at almost no
// cost in latency and a fail_closed one refuses them with 503; once Redis is
// back on the same port, both limits apply again.
func TestRateLimitRedisOutage(t *testing.T) {
	const openLimit, closedLimit = 20, 3
	rs := startRedis(t, 0)
	port := freePort(t)
	e := &authEnv{secrets: &secretSet{}}
	e.gateway = startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		// A stopped Redis refuses connections at once: the timeout does
		// not come into play, and a generous one keeps the phases with
		// Redis up exact on a busy machine.
		LLM:  redisConfig(rs.url(), 500*time.Millisecond, 500*time.Millisecond),
		Site: "@open path /v1/conversations\n\t@closed path /v1/projects",
		Routes: fmt.Sprintf(`llm_auth
		llm_rate_limit @open {
			by principal
			guest %d/min
			name open
			fail_open
		}
		llm_rate_limit @closed {
			by principal
			guest %d/min
			name closed
			fail_closed
		}`, openLimit, closedLimit),
	}))
	guest := e.guestLogin(t)
	creds := bearerHeader(guest.Access)

	// exhaust sends requests until the limit refuses one, and returns the
	// latencies of those that passed.
	exhaust := func(t *testing.T, path string, limit int) []time.Duration {
		t.Helper()
		var took []time.Duration
		run := &bucketRun{t: t, what: path, limit: limit, emission: time.Minute / time.Duration(limit)}
		run.exhaust(func() (response, time.Time, time.Time) {
			r, sent, received := timedDo(e.gateway, "GET", path, nil, creds...)
			took = append(took, received.Sub(sent))
			return r, sent, received
		}, func(r response) {
			if r.Status != http.StatusOK {
				t.Fatalf("%s request %d: %d %s", path, run.passed+1, r.Status, r.Body)
			}
		})
		return took[:len(took)-1]
	}

	// With Redis up: the limits apply; the open route's latencies are the
	// baseline.
	baseline := exhaust(t, "/v1/conversations", openLimit)
	exhaust(t, "/v1/projects", closedLimit)
	base := latencyPercentile(baseline, 50)

	rs.stop()

	// fail_open: the in-process limiter takes over with the same limit,
	// carrying on from this node's count: the guest, who used its limit
	// through Redis, stays refused; a new guest gets the limit and no more.
	var added []time.Duration
	for i := range 5 {
		r, sent, received := timedDo(e.gateway, "GET", "/v1/conversations", nil, creds...)
		wantError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded")
		if i == 0 {
			added = append(added, received.Sub(sent)-base)
		}
	}
	fresh := bearerHeader(e.guestLogin(t).Access)
	outageRun := &bucketRun{t: t, what: "fail_open with Redis down", limit: openLimit, emission: time.Minute / openLimit}
	outageRun.exhaust(func() (response, time.Time, time.Time) {
		r, sent, received := timedDo(e.gateway, "GET", "/v1/conversations", nil, fresh...)
		added = append(added, received.Sub(sent)-base)
		return r, sent, received
	}, func(r response) {
		if r.Status != http.StatusOK {
			t.Fatalf("fail_open with Redis down, request %d: %d %s", outageRun.passed+1, r.Status, r.Body)
		}
	})
	worst := slices.Max(added)
	t.Logf("fail_open with Redis down: baseline p50 %s (Redis up); added latency over %d requests: p50 %s, p99 %s, max %s",
		base, len(added), latencyPercentile(added, 50), latencyPercentile(added, 99), worst)
	if worst >= 50*time.Millisecond {
		t.Errorf("a request's added latency with Redis down was %s, want under 50ms", worst)
	}

	// fail_closed: refused with 503 in the spec's shape, unless the node's
	// own count already refuses the request (Redis counted at least as
	// much): the guest that used its limit before the outage gets 429.
	for range 5 {
		r := e.do("GET", "/v1/projects", nil, fresh...)
		wantError(t, r, http.StatusServiceUnavailable, "rate_limiter_unavailable")
	}
	wantError(t, e.do("GET", "/v1/projects", nil, creds...), http.StatusTooManyRequests, "rate_limit_exceeded")

	// Redis back on the same port, empty: once the limiter reaches it again,
	// both limits apply from a full bucket.
	startRedis(t, rs.port)
	restarted := time.Now()
	closedRun := &bucketRun{t: t, what: "fail_closed after Redis came back", limit: closedLimit, emission: time.Minute / closedLimit}
	for {
		r, sent, received := timedDo(e.gateway, "GET", "/v1/projects", nil, fresh...)
		if r.Status == http.StatusOK {
			closedRun.pass(r, sent, received) // the first request counted again
			break
		}
		wantError(t, r, http.StatusServiceUnavailable, "rate_limiter_unavailable")
		if time.Since(restarted) > 10*time.Second {
			t.Fatal("the limiter did not reach the restarted Redis within 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("limits applied again %s after Redis restarted", time.Since(restarted).Round(time.Millisecond))
	closedRun.exhaust(func() (response, time.Time, time.Time) {
		return timedDo(e.gateway, "GET", "/v1/projects", nil, fresh...)
	}, func(r response) {
		if r.Status != http.StatusOK {
			t.Fatalf("fail_closed after Redis came back: %d %s", r.Status, r.Body)
		}
	})
	creds = bearerHeader(e.guestLogin(t).Access)
	exhaust(t, "/v1/conversations", openLimit)
}

// A Redis that hangs (it accepts connections but never answers) costs a
// request at most the configured redis_timeout, and only until the circuit
// breaker opens; fail_open requests keep passing, and the limit applies
// again once Redis answers.
func TestRateLimitHungRedis(t *testing.T) {
	const (
		limit     = 100
		timeout   = 50 * time.Millisecond // the default Caddyfile's redis_timeout
		threshold = 5                     // failures in a row that open the breaker
	)
	rs := startRedis(t, 0)
	port := freePort(t)
	e := &authEnv{secrets: &secretSet{}}
	e.gateway = startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM:  redisConfig(rs.url(), timeout, time.Second),
		Site: "@tiered path /v1/conversations",
		Routes: fmt.Sprintf(`llm_auth
		llm_rate_limit @tiered {
			by principal
			guest %d/min
			fail_open
		}`, limit),
	}))
	creds := bearerHeader(e.guestLogin(t).Access)
	latencies := func(n int) []time.Duration {
		var took []time.Duration
		for i := range n {
			r, sent, received := timedDo(e.gateway, "GET", "/v1/conversations", nil, creds...)
			if r.Status != http.StatusOK {
				t.Fatalf("request %d: %d %s", i+1, r.Status, r.Body)
			}
			took = append(took, received.Sub(sent))
		}
		return took
	}
	base := latencyPercentile(latencies(20), 50)

	if err := rs.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("pausing redis-server: %v", err)
	}
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			_ = rs.cmd.Process.Signal(syscall.SIGCONT)
		}
	})
	hung := latencies(40)
	var added []time.Duration
	slow := 0
	for _, d := range hung {
		added = append(added, d-base)
		if d-base >= timeout*9/10 { // waited for the timeout
			slow++
		}
	}
	t.Logf("fail_open with Redis hung (redis_timeout %s): baseline p50 %s; added latency over 40 requests: p50 %s, max %s; %d requests waited for the timeout",
		timeout, base, latencyPercentile(added, 50), slices.Max(added), slow)
	if worst := slices.Max(added); worst > timeout+40*time.Millisecond {
		t.Errorf("a request waited %s more with Redis hung; redis_timeout %s should bound it", worst, timeout)
	}
	if slow > threshold+1 {
		t.Errorf("%d requests waited for the timeout; the circuit breaker should open after %d", slow, threshold)
	}

	if err := rs.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("resuming redis-server: %v", err)
	}
	resumed = true
	deadline := time.Now().Add(10 * time.Second)
	for sent := 61; ; sent++ {
		// Redis counted the 20 requests before it hung; the in-process
		// limiter all 60. A count well above what is left in process
		// comes from Redis.
		r := e.do("GET", "/v1/conversations", nil, creds...)
		if h := readRateHeaders(t, r); r.Status == http.StatusOK && h.Remaining > limit-sent+20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the limiter did not use the resumed Redis within 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
