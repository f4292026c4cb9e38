package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-llm/gateway/store/storetest"
)

// newTestRedisClient connects to the test Redis, tuned as the gateway tunes
// it; an unreachable Redis fails the test.
func newTestRedisClient(t testing.TB, timeout time.Duration) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(storetest.RedisURL())
	if err != nil {
		t.Fatalf("parsing TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(TuneRedisOptions(opts, timeout))
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("connecting to Redis at %s (set TEST_REDIS_URL, or run the README's test command): %v", opts.Addr, err)
	}
	return client
}

// newTestPrefix returns a key prefix of the test's own and deletes its keys
// when the test ends.
func newTestPrefix(t testing.TB, client *redis.Client) string {
	t.Helper()
	prefix := storetest.RandomName("llmgw_test_") + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// redis_rate puts "rate:" in front of our prefix.
		iter := client.Scan(ctx, 0, "rate:"+prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Logf("listing the test's redis keys: %v", err)
			return
		}
		if len(keys) > 0 {
			if err := client.Del(ctx, keys...).Err(); err != nil {
				t.Logf("deleting the test's redis keys: %v", err)
			}
		}
	})
	return prefix
}

// shortTiers are the specification's tiers (DefaultTiers, which
// TestLocalTiers runs on a fake clock) with the same capacities but shorter
// periods, so that a test on the real clock waits out a Retry-After of at
// most 1.2 s instead of the guest tier's 6 s. The emission intervals stay far
// longer than a tier's whole capacity of requests takes, so that no token
// comes back while the test counts Remaining down.
func shortTiers() Tiers {
	return Tiers{
		User:   Limit{Name: "user", Rate: 60, Period: 30 * time.Second},      // 500 ms per request
		APIKey: Limit{Name: "api_key", Rate: 1000, Period: 20 * time.Minute}, // 1.2 s per request
		Guest:  Limit{Name: "guest", Rate: 10, Period: 5 * time.Second},      // 500 ms per request
		IP:     Limit{Name: "ip", Rate: 100, Period: 50 * time.Second},       // 500 ms per request
	}
}

func TestRedisTiers(t *testing.T) {
	client := newTestRedisClient(t, time.Second)
	prefix := newTestPrefix(t, client)
	// Generous timeouts: this test is about the decisions, not about a
	// slow Redis, and the test machine may be busy.
	limiter := NewRedis(client, RedisOptions{Prefix: prefix, Timeout: time.Second})
	testTiers(t, shortTiers(), func(t *testing.T) limiterEnv {
		return limiterEnv{
			limiter: limiter,
			now:     time.Now,
			sleep:   time.Sleep,
			slack:   100 * time.Millisecond,
			margin:  5 * time.Millisecond,
		}
	})
}

func TestRedisLimitersSharingRedisAllowExactlyTheLimit(t *testing.T) {
	// Two limiters with their own connections stand for two replicas.
	first := newTestRedisClient(t, 5*time.Second)
	second := newTestRedisClient(t, 5*time.Second)
	prefix := newTestPrefix(t, first)
	limiters := []Limiter{
		NewRedis(first, RedisOptions{Prefix: prefix, Timeout: 5 * time.Second}),
		NewRedis(second, RedisOptions{Prefix: prefix, Timeout: 5 * time.Second}),
	}
	if got := countConcurrent(t, limiters, 300, "user:shared", PerMinute(60)); got != 60 {
		t.Fatalf("300 concurrent requests through two limiters against 60/min: %d allowed, want 60", got)
	}
}

func TestRedisRejectsInvalidLimitsWithoutAskingRedis(t *testing.T) {
	// The client points at a port nobody listens on: an invalid limit must
	// fail before any attempt to reach it, and must not count as a Redis
	// failure.
	client := redis.NewClient(TuneRedisOptions(&redis.Options{Addr: "127.0.0.1:1"}, 50*time.Millisecond))
	t.Cleanup(func() { _ = client.Close() })
	l := NewRedis(client, RedisOptions{BreakerThreshold: 1})
	if _, err := l.Allow(context.Background(), "user:1", Limit{Rate: 0, Period: time.Minute}); err == nil {
		t.Fatal("Allow with a zero rate: no error")
	}
	if l.BreakerOpen() {
		t.Fatal("an invalid limit opened the circuit breaker")
	}
}

func TestRemainingAfter(t *testing.T) {
	apiKey := 3600 * time.Millisecond // 1000/hour
	tests := []struct {
		name       string
		emission   time.Duration
		burst      int
		resetAfter time.Duration
		want       int
	}{
		{"first request", apiKey, 1000, apiKey, 999},
		// Redis keeps the bucket's time rounded to 10 µs, either way.
		{"first request, reset rounded up", apiKey, 1000, apiKey + 5*time.Microsecond, 999},
		{"first request, reset rounded down", apiKey, 1000, apiKey - 5*time.Microsecond, 999},
		{"second request", apiKey, 1000, 2 * apiKey, 998},
		{"second request, half an emission later", apiKey, 1000, 2*apiKey - apiKey/2, 998},
		{"last request", time.Second, 60, 60 * time.Second, 0},
		{"last request, rounded up", time.Second, 60, 60*time.Second + 5*time.Microsecond, 0},
		{"burst of one", time.Second, 1, time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := remainingAfter(tt.emission, tt.burst, tt.resetAfter); got != tt.want {
				t.Errorf("remainingAfter(%v, %d, %v) = %d, want %d", tt.emission, tt.burst, tt.resetAfter, got, tt.want)
			}
		})
	}
}

func TestRedisRefusalGivesBackThisNodesCopy(t *testing.T) {
	// A request is taken from this node's copy of its bucket before Redis
	// is asked (so that a decision failing over to the copy counts the
	// requests still in flight), and given back when Redis refuses it:
	// here the other replica used the whole bucket, and this node's copy,
	// which let none of it through, holds no more than Redis's refusal
	// (learnt, so that the client is refused here without asking until
	// Redis would let it in): the refused requests add nothing to it.
	client := newTestRedisClient(t, 5*time.Second)
	prefix := newTestPrefix(t, client)
	other := NewRedis(newTestRedisClient(t, 5*time.Second), RedisOptions{Prefix: prefix, Timeout: 5 * time.Second})
	this := NewRedis(client, RedisOptions{Prefix: prefix, Timeout: 5 * time.Second})
	lim := PerMinute(3)
	ctx := context.Background()
	var used Result
	for i := range 3 {
		r, err := other.Allow(ctx, "user:1", lim)
		if err != nil || !r.Allowed {
			t.Fatalf("request %d on the other replica: %+v, %v", i+1, r, err)
		}
		used = r
	}
	for i := range 5 {
		if r, err := this.Allow(ctx, "user:1", lim); err != nil || r.Allowed {
			t.Fatalf("request %d on this replica after the other used the bucket: %+v, %v; want refused", i+1, r, err)
		}
	}
	// Redis's bucket is full again at used.ResetAt; the copy's too, give
	// or take the time the calls took, not five emissions (60 s) later.
	sameReset := func(what string, r Result) {
		t.Helper()
		if d := r.ResetAt.Sub(used.ResetAt); r.Allowed || d < -time.Second || d > time.Second {
			t.Fatalf("%s: %+v; want refused, full again at Redis's %v", what, r, used.ResetAt)
		}
	}
	sameReset("this node's copy after Redis refused five requests", this.Local().peek("user:1", lim))
	// The batch path gives back the same way.
	checks := []Check{{Guard: &Guarded{Limiter: this}, Key: "ip:1", Limit: PerMinute(100)}, {Guard: &Guarded{Limiter: this}, Key: "user:2", Limit: lim}}
	for i := range 3 {
		if r, err := other.Allow(ctx, "user:2", lim); err != nil || !r.Allowed {
			t.Fatalf("request %d on the other replica: %+v, %v", i+1, r, err)
		} else {
			used = r
		}
	}
	rs, err := AllowAll(ctx, checks, nil)
	if err != nil || len(rs) != 2 || !rs[0].Allowed || rs[1].Allowed {
		t.Fatalf("batch of an open and a used bucket: %+v, %v; want the second refused", rs, err)
	}
	sameReset("this node's copy of the used bucket after the batch", this.Local().peek("user:2", lim))
	if r := this.Local().peek("ip:1", PerMinute(100)); r.Remaining != 98 {
		t.Fatalf("this node's copy of the open bucket after the batch: %d remaining, want 98 (one taken)", r.Remaining)
	}
}

func TestTuneOptionsAgreeForEveryClientKind(t *testing.T) {
	// A single Redis, a Cluster and a Sentinel-backed client must fail a
	// decision the same way: bounded by the timeout, never retried, RESP2.
	const timeout = 30 * time.Millisecond
	single := TuneRedisOptions(&redis.Options{MaxRetries: 3}, timeout)
	cluster := TuneClusterOptions(&redis.ClusterOptions{MaxRetries: 3}, timeout)
	failover := TuneFailoverOptions(&redis.FailoverOptions{MaxRetries: 3}, timeout)
	type tuned struct {
		ctx                         bool
		retries, dialRetries, proto int
		read, write, pool           time.Duration
	}
	want := tuned{true, -1, 1, 2, timeout, timeout, timeout}
	for name, got := range map[string]tuned{
		"single":   {single.ContextTimeoutEnabled, single.MaxRetries, single.DialerRetries, single.Protocol, single.ReadTimeout, single.WriteTimeout, single.PoolTimeout},
		"cluster":  {cluster.ContextTimeoutEnabled, cluster.MaxRetries, cluster.DialerRetries, cluster.Protocol, cluster.ReadTimeout, cluster.WriteTimeout, cluster.PoolTimeout},
		"failover": {failover.ContextTimeoutEnabled, failover.MaxRetries, failover.DialerRetries, failover.Protocol, failover.ReadTimeout, failover.WriteTimeout, failover.PoolTimeout},
	} {
		if got != want {
			t.Errorf("%s client tuned to %+v, want %+v", name, got, want)
		}
	}
	if d := TuneRedisOptions(&redis.Options{}, 0); d.ReadTimeout != DefaultRedisTimeout {
		t.Errorf("no timeout: read timeout %v, want the default %v", d.ReadTimeout, DefaultRedisTimeout)
	}
}
