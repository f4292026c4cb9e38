package ratelimit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// roundTrips counts the commands a go-redis client sends: each is one
// round trip (the limiter pipelines nothing).
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// newBatchEnv returns a limiter on the test Redis whose round trips are
// counted, and a Guarded of each policy on it.
func newBatchEnv(t *testing.T) (*RedisLimiter, *Guarded, *Guarded, *roundTrips) {
	client := newTestRedisClient(t, 5*time.Second)
	prefix := newTestPrefix(t, client)
	trips := new(roundTrips)
	client.AddHook(trips)
	l := NewRedis(client, RedisOptions{Prefix: prefix, Timeout: 5 * time.Second})
	return l, &Guarded{Limiter: l, Policy: FailOpen}, &Guarded{Limiter: l, Policy: FailClosed}, trips
}

func TestAllowAllDecidesEveryBucketInOneRoundTrip(t *testing.T) {
	_, open, closed, trips := newBatchEnv(t)
	ctx := context.Background()
	checks := []Check{
		{open, "ip:192.0.2.1", PerMinute(100)},
		{closed, "guest_login:ip:192.0.2.1", PerMinute(5)},
		{open, "key:usr_a:1", Limit{Rate: 1000, Period: time.Hour}},
	}
	// The first call may load the script (NOSCRIPT, then EVAL).
	if _, err := AllowAll(ctx, checks, nil); err != nil {
		t.Fatal(err)
	}
	before := trips.n.Load()
	res, err := AllowAll(ctx, checks, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := trips.n.Load() - before; got != 1 {
		t.Fatalf("three buckets took %d round trips, want 1", got)
	}
	if len(res) != 3 {
		t.Fatalf("%d decisions, want 3", len(res))
	}
	for i, want := range []int{98, 3, 998} {
		r := res[i]
		if !r.Allowed || r.Degraded || r.Remaining != want || r.Limit != checks[i].Limit.Capacity() || r.Period != checks[i].Limit.Period {
			t.Errorf("bucket %s: %+v, want allowed with %d remaining of %d", checks[i].Key, r, want, checks[i].Limit.Capacity())
		}
		if wait := time.Until(r.ResetAt); wait <= 0 || wait > 2*checks[i].Limit.emissionInterval()+time.Second {
			t.Errorf("bucket %s: full again in %s, want about two emission intervals", checks[i].Key, wait)
		}
	}
}

// A refused bucket stops the decision there, as a chain of handlers did: the
// buckets before it keep the request taken, those after it are not touched.
func TestAllowAllStopsAtTheFirstRefusal(t *testing.T) {
	l, open, _, _ := newBatchEnv(t)
	ctx := context.Background()
	checks := []Check{
		{open, "ip:a", PerMinute(10)},
		{open, "user:b", PerMinute(1)},
		{open, "user:c", PerMinute(10)},
	}
	if res, err := AllowAll(ctx, checks, nil); err != nil || len(res) != 3 {
		t.Fatalf("first request: %+v, %v", res, err)
	}
	res, err := AllowAll(ctx, checks, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || !res[0].Allowed || res[0].Remaining != 8 || res[1].Allowed {
		t.Fatalf("second request: %+v, want the first bucket allowed (8 left) and the second refused, the third undecided", res)
	}
	if ra := res[1].RetryAfter; ra <= 0 || ra > time.Minute {
		t.Fatalf("refusal's RetryAfter = %s, want within the minute of a 1/min bucket", ra)
	}
	// The third bucket lost only the first request.
	r, err := l.Allow(ctx, "user:c", PerMinute(10))
	if err != nil || !r.Allowed || r.Remaining != 8 {
		t.Fatalf("third bucket afterwards: %+v, %v; want allowed with 8 left", r, err)
	}
	// The refusal was Redis's, and this node's copy knows the second
	// bucket is empty: a third request is refused without Redis.
	if !open.Refuses("user:b", PerMinute(1)) {
		t.Fatal("this node's copy does not refuse the empty bucket")
	}
}

// The script keeps redis_rate's keys and values: a bucket is shared by both,
// so replicas of an older release count with the new ones.
func TestAllowAllSharesBucketsWithRedisRate(t *testing.T) {
	l, open, _, _ := newBatchEnv(t)
	ctx := context.Background()
	lim := PerMinute(4)
	batch := func() Result {
		res, err := AllowAll(ctx, []Check{{open, "other", PerMinute(100)}, {open, "shared", lim}}, nil)
		if err != nil || len(res) != 2 {
			t.Fatalf("AllowAll: %+v, %v", res, err)
		}
		return res[1]
	}
	// A fresh copy of the buckets each time, so that every decision is
	// Redis's.
	single := func() Result {
		l.local = NewLocal()
		r, err := l.Allow(ctx, "shared", lim)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for i, decide := range []func() Result{batch, single, batch, single} {
		if r := decide(); !r.Allowed || r.Remaining != 3-i {
			t.Fatalf("request %d: %+v, want allowed with %d left", i+1, r, 3-i)
		}
	}
	l.local = NewLocal()
	if r := batch(); r.Allowed {
		t.Fatalf("fifth request through the script: allowed, want refused")
	}
	if r := single(); r.Allowed {
		t.Fatalf("fifth request through redis_rate: allowed, want refused")
	}
}

// Without Redis each check follows its own policy: fail-open ones are
// decided by this node's copy, a fail-closed one is refused.
func TestAllowAllFailurePolicies(t *testing.T) {
	client := redis.NewClient(TuneRedisOptions(&redis.Options{Addr: "127.0.0.1:1"}, 50*time.Millisecond))
	t.Cleanup(func() { _ = client.Close() })
	l := NewRedis(client, RedisOptions{})
	var failures atomic.Int64
	open := &Guarded{Limiter: l, Policy: FailOpen, OnError: func() { failures.Add(1) }}
	closed := &Guarded{Limiter: l, Policy: FailClosed}
	ctx := context.Background()

	res, err := AllowAll(ctx, []Check{{open, "ip:a", PerMinute(2)}, {open, "user:a", PerMinute(1)}}, nil)
	if err != nil || len(res) != 2 || !res[0].Allowed || !res[0].Degraded || !res[1].Allowed || !res[1].Degraded || res[0].Remaining != 1 {
		t.Fatalf("fail open: %+v, %v; want both allowed by this node's copy, degraded", res, err)
	}
	if failures.Load() != 2 {
		t.Fatalf("%d failed decisions counted, want 2", failures.Load())
	}
	res, err = AllowAll(ctx, []Check{{open, "ip:a", PerMinute(2)}, {open, "user:a", PerMinute(1)}}, nil)
	if err != nil || len(res) != 2 || !res[0].Allowed || res[1].Allowed {
		t.Fatalf("fail open, second request: %+v, %v; want the second bucket's copy to refuse", res, err)
	}
	res, err = AllowAll(ctx, []Check{{open, "ip:b", PerMinute(2)}, {closed, "user:b", PerMinute(1)}}, nil)
	if !errors.Is(err, ErrUnavailable) || len(res) != 2 || !res[0].Allowed {
		t.Fatalf("fail closed: %+v, %v; want the first allowed by the copy and ErrUnavailable for the second", res, err)
	}
}

// A node that Redis told a key is over its limit (spent on other nodes)
// refuses that key by itself afterwards, until Redis said it would be
// allowed again: a client over its limit elsewhere is not let into the
// handlers after a deferred limit (authentication, the store) on every
// request before Redis refuses it again. Both ways of asking Redis learn:
// the batch script and redis_rate's single bucket.
func TestRedisRefusalIsLearntByTheNode(t *testing.T) {
	client := newTestRedisClient(t, 5*time.Second)
	prefix := newTestPrefix(t, client)
	other := NewRedis(client, RedisOptions{Prefix: prefix, Timeout: 5 * time.Second})
	here := NewRedis(client, RedisOptions{Prefix: prefix, Timeout: 5 * time.Second})
	ctx := context.Background()
	lim := Limit{Rate: 3, Period: time.Hour}
	for name, decide := range map[string]func(g *Guarded, key string) (Result, error){
		"batch": func(g *Guarded, key string) (Result, error) {
			res, err := AllowAll(ctx, []Check{{g, "ip:other", PerMinute(1000)}, {g, key, lim}}, nil)
			return res[len(res)-1], err
		},
		"single": func(g *Guarded, key string) (Result, error) { return g.Allow(ctx, key, lim) },
	} {
		key := "learn:" + name
		g := &Guarded{Limiter: here, Policy: FailClosed}
		for range 3 { // the whole bucket, spent on the other node
			if r, err := other.Allow(ctx, key, lim); err != nil || !r.Allowed {
				t.Fatalf("%s: other node refused its own budget: %+v %v", name, r, err)
			}
		}
		if g.Refuses(key, lim) {
			t.Fatalf("%s: this node refuses a key it never saw", name)
		}
		r, err := decide(g, key)
		if err != nil || r.Allowed || r.RetryAfter <= 0 {
			t.Fatalf("%s: Redis let a spent bucket through: %+v %v", name, r, err)
		}
		if !g.Refuses(key, lim) {
			t.Fatalf("%s: after Redis refused the key, this node still lets it through to the handlers", name)
		}
		if g.Refuses("learn:someone-else", lim) {
			t.Fatalf("%s: the refusal spread to another key", name)
		}
	}
}
