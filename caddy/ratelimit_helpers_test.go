package main

import (
	"math"
	"net/http"
	"sort"
	"strconv"
	"testing"
	"time"
)

// rateHeaders are the rate-limit headers of one response.
type rateHeaders struct {
	Limit, Remaining             int
	Reset                        int64 // Unix seconds
	RetryAfter                   int   // seconds; -1 when absent
	LimitMinute, RemainingMinute int   // -1 when absent
}

// readRateHeaders parses the rate-limit headers of r; the plain three must
// be present.
func readRateHeaders(t testing.TB, r response) rateHeaders {
	t.Helper()
	num := func(name string, required bool) int64 {
		v := r.Header.Get(name)
		if v == "" {
			if required {
				t.Fatalf("response %d lacks %s; headers %v", r.Status, name, r.Header)
			}
			return -1
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			t.Fatalf("%s = %q is not a non-negative whole number", name, v)
		}
		return n
	}
	return rateHeaders{
		Limit:           int(num("X-RateLimit-Limit", true)),
		Remaining:       int(num("X-RateLimit-Remaining", true)),
		Reset:           num("X-RateLimit-Reset", true),
		RetryAfter:      int(num("Retry-After", false)),
		LimitMinute:     int(num("X-RateLimit-Limit-Minute", false)),
		RemainingMinute: int(num("X-RateLimit-Remaining-Minute", false)),
	}
}

// wantResetAround asserts that reset, in Unix seconds rounded up, is when a
// bucket that needs refill more time is full again, for a request sent
// between sent and received.
func wantResetAround(t testing.TB, reset int64, sent, received time.Time, refill time.Duration) {
	t.Helper()
	earliest := sent.Add(refill).Unix()
	latest := int64(math.Ceil(float64(received.Add(refill).UnixNano())/1e9)) + 1
	if reset < earliest || reset > latest {
		t.Fatalf("X-RateLimit-Reset = %d, want between %d and %d (the bucket is full again %s after the request)",
			reset, earliest, latest, refill)
	}
}

// wantRetryAfter asserts Retry-After of a refusal that followed a burst
// which emptied the bucket, begun at first: one request refills emission
// after the burst's first request, so the wait is that time less what has
// passed since, in whole seconds rounded up, at least one.
func wantRetryAfter(t testing.TB, got int, first, received time.Time, emission time.Duration) {
	t.Helper()
	ceil := func(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }
	lo, hi := ceil(emission-received.Sub(first)), ceil(emission)
	if got < lo || got > hi {
		t.Fatalf("Retry-After = %d, want %d to %d (one request refills every %s)", got, lo, hi, emission)
	}
}

// bucketRun checks a run of requests against one bucket until it refuses
// one. GCRA refills one request every emission (period / limit), also while
// the run lasts: a run that outlasts an emission interval (a slow machine)
// may see one more request through per interval, and never more. A run
// shorter than one interval must pass exactly limit requests.
type bucketRun struct {
	t        testing.TB
	what     string
	limit    int
	emission time.Duration
	minute   bool // count with the per-IP -Minute headers

	first  time.Time // when the first request was sent
	passed int
}

// refilled returns how many requests the bucket refilled since the run
// began, at most.
func (b *bucketRun) refilled(at time.Time) int { return int(at.Sub(b.first) / b.emission) }

// counts returns the limit and remaining count the run checks.
func (b *bucketRun) counts(h rateHeaders) (int, int) {
	if b.minute {
		return h.LimitMinute, h.RemainingMinute
	}
	return h.Limit, h.Remaining
}

// pass checks a request that passed: one less remaining, give or take what
// refilled, and X-RateLimit-Reset when the bucket is full again.
func (b *bucketRun) pass(r response, sent, received time.Time) rateHeaders {
	b.t.Helper()
	if b.passed == 0 {
		b.first = sent
	}
	b.passed++
	h := readRateHeaders(b.t, r)
	limit, remaining := b.counts(h)
	refilled := b.refilled(received)
	if b.passed > b.limit+refilled {
		b.t.Fatalf("%s: request %d passed; a limit of %d refilling every %s allows at most %d by now",
			b.what, b.passed, b.limit, b.emission, b.limit+refilled)
	}
	lo, hi := b.limit-b.passed, min(b.limit-b.passed+refilled, b.limit-1)
	if limit != b.limit || remaining < lo || remaining > hi || h.RetryAfter != -1 {
		b.t.Fatalf("%s: request %d passed with limit %d, remaining %d, Retry-After %d; want %d, %d to %d, none (remaining equal to the limit means the decision was made by the failure policy)",
			b.what, b.passed, limit, remaining, h.RetryAfter, b.limit, lo, hi)
	}
	if !b.minute {
		wantResetAround(b.t, h.Reset, b.first, received, time.Duration(b.passed)*b.emission)
	}
	return h
}

// refused checks the refusal that ends the run: a 429 in the spec's shape
// with nothing remaining, Retry-After until the next request refills, and
// X-RateLimit-Reset when the bucket is full again.
func (b *bucketRun) refused(r response, received time.Time) rateHeaders {
	b.t.Helper()
	e := wantError(b.t, r, http.StatusTooManyRequests, "rate_limit_exceeded")
	if e["type"] != "rate_limit_error" {
		b.t.Fatalf("%s: error.type = %v, want rate_limit_error", b.what, e["type"])
	}
	if b.passed < b.limit {
		b.t.Fatalf("%s: refused after %d requests, want at least %d", b.what, b.passed, b.limit)
	}
	h := readRateHeaders(b.t, r)
	if limit, remaining := b.counts(h); limit != b.limit || remaining != 0 {
		b.t.Fatalf("%s: 429 with limit %d, remaining %d; want %d and 0", b.what, limit, remaining, b.limit)
	}
	// The next request refills one emission after the bucket's time,
	// which each passed request moved on by one emission.
	wantRetryAfter(b.t, h.RetryAfter, b.first, received, time.Duration(b.passed-b.limit+1)*b.emission)
	if !b.minute {
		wantResetAround(b.t, h.Reset, b.first, received, time.Duration(b.passed)*b.emission)
	}
	return h
}

// exhaust sends requests until the bucket refuses one; send returns each
// response with when it was sent and answered, and check (optional) checks
// a response that passed. It returns the refusal and its headers.
func (b *bucketRun) exhaust(send func() (response, time.Time, time.Time), check func(r response)) (response, rateHeaders) {
	b.t.Helper()
	for {
		r, sent, received := send()
		if r.Status == http.StatusTooManyRequests {
			return r, b.refused(r, received)
		}
		if r.Status >= 500 {
			b.t.Fatalf("%s: request %d: status %d %s", b.what, b.passed+1, r.Status, r.Body)
		}
		if check != nil {
			check(r)
		}
		b.pass(r, sent, received)
	}
}

// timedDo sends a request and reports when it was sent and answered.
func timedDo(g *gateway, method, path string, body any, headers ...string) (response, time.Time, time.Time) {
	g.t.Helper()
	sent := time.Now()
	r := g.do(method, path, body, headers...)
	return r, sent, time.Now()
}

// latencyPercentile returns the p-th percentile (0–100) of durations.
func latencyPercentile(durations []time.Duration, p float64) time.Duration {
	if len(durations) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), durations...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// statusCounts counts responses by status.
type statusCounts map[int]int

func (c statusCounts) only(statuses ...int) bool {
	n := 0
	for _, s := range statuses {
		n += c[s]
	}
	total := 0
	for _, v := range c {
		total += v
	}
	return n == total
}

// redisConfig is the llm option's lines for a Redis whose commands time out
// after timeout and whose connections are dialed within dialTimeout.
//
// Tests that count requests exactly use timeouts well above the default
// Caddyfile's 50ms: on a busy machine, a decision that misses a 50ms
// deadline passes by the failure policy uncounted, which is the policy
// working, not the count failing. TestRateLimitHungRedis covers the timeout.
func redisConfig(url string, timeout, dialTimeout time.Duration) string {
	return "redis_url " + url + "\n\t\tredis_timeout " + timeout.String() + "\n\t\tredis_dial_timeout " + dialTimeout.String()
}

// startDefaultWithOIDC starts the default Caddyfile with the Redis at
// redisURL, no database, an OIDC provider of its own and the environment
// overrides given.
func startDefaultWithOIDC(t testing.TB, redisURL string, env map[string]string) *authEnv {
	t.Helper()
	secrets := &secretSet{}
	oidc := newOIDCProvider(t, secrets)
	vars := map[string]string{
		"REDIS_URL": redisURL, "DATABASE_URL": "", "DB_POSTGRESQL_WRITE_DSN": "",
		"JWKS_URL": oidc.jwksURL(), "ISSUER": oidc.issuer, "ACCOUNT": oidcAudience,
		"LOG_LEVEL": "error",
	}
	for k, v := range env {
		vars[k] = v
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	gw, svc := freePort(t), freePort(t)
	return &authEnv{gateway: startGateway(t, gw, withPorts(defaultCaddyfile(t), gw, svc)), oidc: oidc, secrets: secrets}
}

// forwardedFrom is the headers of a request from client ip (through a
// trusted proxy), with creds after.
func forwardedFrom(ip string, creds ...string) []string {
	return append([]string{"X-Forwarded-For", ip}, creds...)
}
