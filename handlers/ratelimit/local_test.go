package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestLocalTiers runs the specification's tiers on a fake clock.
func TestLocalTiers(t *testing.T) {
	testTiers(t, DefaultTiers(), func(t *testing.T) limiterEnv {
		clock := newFakeClock()
		return limiterEnv{limiter: newLocal(clock.now), now: clock.now, sleep: clock.sleep}
	})
}

func TestLocalConcurrentRequestsGetExactlyTheLimit(t *testing.T) {
	l := NewLocal()
	if got := countConcurrent(t, []Limiter{l}, 300, "user:1", PerMinute(60)); got != 60 {
		t.Fatalf("300 concurrent requests against 60/min: %d allowed, want 60", got)
	}
}

func TestLocalDropsFullBuckets(t *testing.T) {
	clock := newFakeClock()
	l := newLocal(clock.now)
	ctx := context.Background()
	lim := PerMinute(10)
	for i := range 1000 {
		if _, err := l.Allow(ctx, "old:"+strconv.Itoa(i), lim); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.len(); got != 1000 {
		t.Fatalf("holding %d buckets, want 1000", got)
	}

	// Once the old buckets are full again and a sweep is due, every shard
	// that is used drops them; 5000 new keys use all shards.
	clock.sleep(localSweepEvery + lim.Period)
	for i := range 5000 {
		if _, err := l.Allow(ctx, "new:"+strconv.Itoa(i), lim); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.len(); got != 5000 {
		t.Fatalf("holding %d buckets, want the 5000 new ones only", got)
	}

	// A bucket that was dropped starts full.
	r, err := l.Allow(ctx, "old:1", lim)
	if err != nil || !r.Allowed || r.Remaining != 9 {
		t.Fatalf("a dropped key: %+v, %v; want a full bucket", r, err)
	}
}

// Refusals learnt from Redis are held in the same buckets and dropped by the
// same sweep: a flood of clients over their limit elsewhere grows this
// node's map only until Redis would let them in again.
func TestLocalDropsLearntRefusals(t *testing.T) {
	clock := newFakeClock()
	l := newLocal(clock.now)
	ctx := context.Background()
	lim := PerMinute(10)
	for i := range 1000 {
		l.learn("refused:"+strconv.Itoa(i), lim.Period)
	}
	if got := l.len(); got != 1000 {
		t.Fatalf("holding %d learnt refusals, want 1000", got)
	}
	if r := l.peek("refused:1", lim); r.Allowed {
		t.Fatalf("a learnt refusal lets the key through: %+v", r)
	}

	clock.sleep(localSweepEvery + lim.Period)
	for i := range 5000 {
		if _, err := l.Allow(ctx, "new:"+strconv.Itoa(i), lim); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.len(); got != 5000 {
		t.Fatalf("holding %d buckets, want the 5000 new ones only", got)
	}
	if r, err := l.Allow(ctx, "refused:1", lim); err != nil || !r.Allowed || r.Remaining != 9 {
		t.Fatalf("a key whose learnt refusal ran out: %+v, %v; want a full bucket", r, err)
	}
}

func TestLocalRejectsInvalidLimits(t *testing.T) {
	l := NewLocal()
	for _, lim := range []Limit{{Rate: 0, Period: time.Minute}, {Rate: 10}, {Rate: 10, Period: time.Minute, Burst: -1}} {
		if _, err := l.Allow(context.Background(), "user:1", lim); err == nil {
			t.Errorf("Allow with %+v: no error", lim)
		}
	}
}

func TestLocalBurst(t *testing.T) {
	clock := newFakeClock()
	l := newLocal(clock.now)
	lim := Limit{Rate: 60, Period: time.Minute, Burst: 5}
	for i := range 5 {
		r, err := l.Allow(context.Background(), "user:1", lim)
		if err != nil || !r.Allowed || r.Limit != 5 || r.Remaining != 4-i {
			t.Fatalf("request %d: %+v, %v", i+1, r, err)
		}
	}
	r, _ := l.Allow(context.Background(), "user:1", lim)
	if r.Allowed || r.RetryAfter != time.Second {
		t.Fatalf("request 6 of a burst of 5 at 1/s: %+v, want refused for 1s", r)
	}
}
