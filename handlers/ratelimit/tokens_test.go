package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func tokenLimits(t *testing.T, s string) []Limit {
	t.Helper()
	l, err := ParseTokenLimits(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// tokenLimiters are the limiters under test: in process, and on Redis.
func tokenLimiters(t *testing.T) map[string]*TokenLimiter {
	client := newTestRedisClient(t, time.Second)
	prefix := newTestPrefix(t, client)
	t.Cleanup(func() { deleteKeys(t, client, prefix+"*") })
	return map[string]*TokenLimiter{
		"local": NewTokenLimiter(TokenLimiterOptions{}),
		"redis": NewTokenLimiter(TokenLimiterOptions{Redis: client, Prefix: prefix, Timeout: time.Second}),
	}
}

func deleteKeys(t *testing.T, client *redis.Client, pattern string) {
	ctx := context.Background()
	keys, _ := client.Keys(ctx, pattern).Result()
	if len(keys) > 0 {
		client.Del(ctx, keys...)
	}
}

func TestTokenLimiterReservesSettlesAndRefuses(t *testing.T) {
	for name, tl := range tokenLimiters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			limits := tokenLimits(t, "1000/day 100/min") // sorted: the minute first
			if limits[0].Period != time.Minute {
				t.Fatalf("limits not sorted by period: %v", limits)
			}
			res, r, err := tl.Reserve(ctx, "user:a", limits, 80, nil)
			if err != nil || !r.Allowed || r.Limit != 100 || r.Remaining != 20 || r.Degraded {
				t.Fatalf("Reserve(80 of 100) = %+v, %v; want allowed, 20 remaining", r, err)
			}
			if r.Reset <= 0 || r.Reset > time.Minute {
				t.Errorf("Reset = %v, want within the minute", r.Reset)
			}
			// 30 more do not fit until the first request settles at 10.
			if _, r, _ := tl.Reserve(ctx, "user:a", limits, 30, nil); r.Allowed || r.RetryAfter <= 0 || r.TooLarge {
				t.Fatalf("Reserve(30 more) = %+v, want refused with a retry time", r)
			}
			tl.Settle(ctx, res, 10, nil)
			if _, r, _ := tl.Reserve(ctx, "user:a", limits, 30, nil); !r.Allowed || r.Remaining < 59 || r.Remaining > 60 {
				t.Fatalf("Reserve(30) after a refund = %+v, want allowed with about 60 left", r)
			}
			// Another principal has buckets of its own.
			if _, r, _ := tl.Reserve(ctx, "user:b", limits, 100, nil); !r.Allowed {
				t.Fatalf("Reserve(user b) = %+v, want allowed", r)
			}
			// More than a bucket holds never fits.
			if _, r, _ := tl.Reserve(ctx, "user:c", limits, 101, nil); r.Allowed || !r.TooLarge {
				t.Fatalf("Reserve(101 of 100) = %+v, want refused as too large", r)
			}
			// A settle above the reservation charges the difference: the
			// bucket is overdrawn and refuses until it refills.
			res, _, _ = tl.Reserve(ctx, "user:d", limits, 10, nil)
			tl.Settle(ctx, res, 150, nil)
			if _, r, _ := tl.Reserve(ctx, "user:d", limits, 1, nil); r.Allowed || r.RetryAfter < 20*time.Second {
				t.Fatalf("Reserve after an overdraw of 50 = %+v, want refused for about 30s", r)
			}
		})
	}
}

// Two limiters on one Redis (two replicas) share the buckets exactly:
// concurrent reservations never admit more than the limit.
func TestTokenLimiterExactAcrossReplicas(t *testing.T) {
	client := newTestRedisClient(t, time.Second)
	prefix := newTestPrefix(t, client)
	t.Cleanup(func() { deleteKeys(t, client, prefix+"*") })
	a := NewTokenLimiter(TokenLimiterOptions{Redis: client, Prefix: prefix, Timeout: time.Second})
	b := NewTokenLimiter(TokenLimiterOptions{Redis: client, Prefix: prefix, Timeout: time.Second})
	limits := tokenLimits(t, "1000/hour")
	var mu sync.Mutex
	admitted := 0
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tl := a
			if i%2 == 1 {
				tl = b
			}
			_, r, err := tl.Reserve(context.Background(), "key:x:1", limits, 30, nil)
			if err != nil {
				t.Error(err)
			}
			if r.Allowed {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if admitted != 33 {
		t.Errorf("admitted %d reservations of 30 tokens against 1000/hour, want 33", admitted)
	}
}

// A dead Redis: fail open decides in process with the same limits; fail
// closed refuses.
func TestTokenLimiterFailurePolicy(t *testing.T) {
	dead := redis.NewClient(TuneRedisOptions(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}, 20*time.Millisecond))
	t.Cleanup(func() { _ = dead.Close() })
	errors := 0
	open := NewTokenLimiter(TokenLimiterOptions{Redis: dead, Timeout: 20 * time.Millisecond, OnError: func() { errors++ }})
	limits := tokenLimits(t, "50/min")
	_, r, err := open.Reserve(t.Context(), "user:a", limits, 50, nil)
	if err != nil || !r.Allowed || !r.Degraded {
		t.Fatalf("fail open: Reserve = %+v, %v; want allowed, degraded", r, err)
	}
	if _, r, _ := open.Reserve(t.Context(), "user:a", limits, 1, nil); r.Allowed {
		t.Fatalf("fail open let more through than the limit: %+v", r)
	}
	if errors != 2 {
		t.Errorf("OnError called %d times, want 2", errors)
	}
	closed := NewTokenLimiter(TokenLimiterOptions{Redis: dead, Timeout: 20 * time.Millisecond, Policy: FailClosed})
	if _, _, err := closed.Reserve(t.Context(), "user:a", limits, 1, nil); err == nil {
		t.Fatal("fail closed: Reserve succeeded with Redis down")
	}
}

// Budgets: a counter refuses once it reached its ceiling; the request that
// crosses it is admitted (it was below), the next is refused.
func TestTokenLimiterBudgets(t *testing.T) {
	for name, tl := range tokenLimiters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			budgets := []Budget{{Key: "{u}:bud:day", Limit: 100, TTL: time.Hour}, {Key: "{u}:bud:cost", Limit: 1e9, TTL: time.Hour}}
			for i := range 2 {
				res, r, err := tl.Reserve(ctx, "{u}:user", nil, 10, budgets)
				if err != nil || !r.Allowed || r.OverBudget != -1 {
					t.Fatalf("request %d under budget: %+v, %v", i, r, err)
				}
				tl.Settle(ctx, res, 60, []int64{60, 1000})
			}
			_, r, _ := tl.Reserve(ctx, "{u}:user", nil, 10, budgets)
			if r.Allowed || r.OverBudget != 0 || r.Used != 120 {
				t.Fatalf("over the token budget: %+v, want refused by budget 0 at 120", r)
			}
			// The cost budget alone, for another user.
			other := []Budget{{Key: "{v}:bud:cost", Limit: 500, TTL: time.Hour}}
			res, _, _ := tl.Reserve(ctx, "{v}:user", nil, 10, other)
			tl.Settle(ctx, res, 10, []int64{500})
			if _, r, _ := tl.Reserve(ctx, "{v}:user", nil, 10, other); r.Allowed || r.OverBudget != 0 {
				t.Fatalf("over the cost budget: %+v", r)
			}
		})
	}
}
