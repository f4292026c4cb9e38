package ratelimit

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// limiterEnv is a limiter under test and the clock its decisions follow.
// Both limiters run the same behaviour tests below, so that they keep the
// same semantics.
type limiterEnv struct {
	limiter Limiter
	now     func() time.Time
	sleep   func(time.Duration)
	// slack is how late a result may be against now(): a round trip to
	// Redis, whose clock the decision was made on.
	slack time.Duration
	// margin is added to waits: Redis keeps times rounded to 10 µs.
	margin time.Duration
}

// testTier checks one tier as a client sees it: the bucket's capacity
// passes with Remaining counting down by one and Reset the time the bucket
// is full again; the next request is refused with a Retry-After, after
// which a request passes again. Other keys are not affected.
func testTier(t *testing.T, env limiterEnv, key string, lim Limit) {
	t.Helper()
	ctx := context.Background()
	capacity := lim.Capacity()
	emission := lim.emissionInterval()

	// The bucket is full again (capacity) emissions after the first
	// request, which happened between start and firstDone.
	start := env.now()
	var firstDone time.Time
	checkReset := func(r Result, taken int) {
		t.Helper()
		// Wall-clock readings only (Round(0) drops the monotonic one):
		// Redis decides on its wall clock, and comparing its times against
		// our monotonic readings fails whenever the wall clock is slewed.
		earliest := start.Round(0).Add(time.Duration(taken)*emission - 10*time.Microsecond)
		latest := firstDone.Round(0).Add(time.Duration(taken)*emission + env.slack)
		if resetAt := r.ResetAt.Round(0); resetAt.Before(earliest) || resetAt.After(latest) {
			t.Fatalf("after %d requests: ResetAt = %v, want between %v and %v", taken, r.ResetAt, earliest, latest)
		}
		h := http.Header{}
		WriteHeaders(h, r, false)
		reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
		if err != nil || reset < earliest.Unix() || reset > latest.Unix()+1 {
			t.Fatalf("after %d requests: X-RateLimit-Reset = %q, want Unix seconds between %d and %d",
				taken, h.Get("X-RateLimit-Reset"), earliest.Unix(), latest.Unix()+1)
		}
	}

	for i := range capacity {
		r, err := env.limiter.Allow(ctx, key, lim)
		if i == 0 {
			firstDone = env.now()
		}
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		if !r.Allowed || r.Degraded || r.Limit != capacity || r.Remaining != capacity-1-i || r.RetryAfter != 0 || r.Period != lim.Period {
			t.Fatalf("request %d of %d: got %+v, want allowed with Limit %d and Remaining %d",
				i+1, capacity, r, capacity, capacity-1-i)
		}
		h := http.Header{}
		WriteHeaders(h, r, false)
		if got, want := h.Get("X-RateLimit-Remaining"), strconv.Itoa(capacity-1-i); got != want {
			t.Fatalf("request %d: X-RateLimit-Remaining = %q, want %q", i+1, got, want)
		}
		if got, want := h.Get("X-RateLimit-Limit"), strconv.Itoa(capacity); got != want {
			t.Fatalf("request %d: X-RateLimit-Limit = %q, want %q", i+1, got, want)
		}
		checkReset(r, i+1)
	}

	r, err := env.limiter.Allow(ctx, key, lim)
	if err != nil {
		t.Fatalf("request %d: %v", capacity+1, err)
	}
	if r.Allowed || r.Remaining != 0 || r.Limit != capacity || r.RetryAfter <= 0 || r.RetryAfter > emission {
		t.Fatalf("request %d of %d: got %+v, want refused with a RetryAfter of at most %v", capacity+1, capacity, r, emission)
	}
	checkReset(r, capacity)
	h := http.Header{}
	WriteHeaders(h, r, false)
	if got, want := h.Get("Retry-After"), strconv.FormatInt(int64((r.RetryAfter+time.Second-1)/time.Second), 10); got != want {
		t.Fatalf("Retry-After = %q, want %q (RetryAfter %v)", got, want, r.RetryAfter)
	}

	if other, err := env.limiter.Allow(ctx, key+":other", lim); err != nil || !other.Allowed || other.Remaining != capacity-1 {
		t.Fatalf("another key after %s was exhausted: %+v, %v; want a full bucket", key, other, err)
	}

	env.sleep(r.RetryAfter + env.margin)
	r, err = env.limiter.Allow(ctx, key, lim)
	if err != nil || !r.Allowed || r.Remaining != 0 {
		t.Fatalf("request after waiting Retry-After: %+v, %v; want allowed with Remaining 0", r, err)
	}
}

// testRefill checks that at ResetAt the bucket is full again.
func testRefill(t *testing.T, env limiterEnv, key string) {
	t.Helper()
	ctx := context.Background()
	lim := Limit{Name: "refill", Rate: 5, Period: time.Second}
	var r Result
	for range 3 {
		var err error
		if r, err = env.limiter.Allow(ctx, key, lim); err != nil || !r.Allowed {
			t.Fatalf("filling the bucket: %+v, %v", r, err)
		}
	}
	if r.Remaining != 2 {
		t.Fatalf("after 3 of 5 requests: Remaining = %d, want 2", r.Remaining)
	}
	env.sleep(r.ResetAt.Sub(env.now()) + env.margin)
	r, err := env.limiter.Allow(ctx, key, lim)
	if err != nil || !r.Allowed || r.Remaining != 4 {
		t.Fatalf("at ResetAt: %+v, %v; want allowed from a full bucket (Remaining 4)", r, err)
	}
}

// testTiers runs testTier for every tier of tiers, and testRefill.
func testTiers(t *testing.T, tiers Tiers, newEnv func(t *testing.T) limiterEnv) {
	for _, lim := range []Limit{tiers.User, tiers.APIKey, tiers.Guest, tiers.IP} {
		t.Run(lim.Name, func(t *testing.T) {
			t.Parallel()
			testTier(t, newEnv(t), lim.Name+":1", lim)
		})
	}
	t.Run("refill", func(t *testing.T) {
		t.Parallel()
		testRefill(t, newEnv(t), "refill:1")
	})
}

// countConcurrent sends n requests at once, spread over the limiters, and
// returns how many were allowed.
func countConcurrent(t *testing.T, limiters []Limiter, n int, key string, lim Limit) int {
	t.Helper()
	var allowed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			r, err := limiters[i%len(limiters)].Allow(context.Background(), key, lim)
			if err != nil {
				t.Error(err)
				return
			}
			if r.Allowed {
				allowed.Add(1)
			} else if r.RetryAfter <= 0 {
				t.Errorf("refused without a RetryAfter: %+v", r)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(allowed.Load())
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 123_456_789)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
