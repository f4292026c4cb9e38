package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A decision that cannot get its turn to ask Redis is the gateway's own
// overload: it fails with ErrOverloaded after QueueWait, never opens the
// circuit breaker however often it happens, and under fail open is decided
// by the in-process copy with the same limit, never waved through.
func TestOverloadIsNotARedisOutage(t *testing.T) {
	client := newTestRedisClient(t, time.Second)
	l := NewRedis(client, RedisOptions{Prefix: newTestPrefix(t, client), Timeout: time.Second, MaxInFlight: 1, QueueWait: time.Millisecond})
	g := &Guarded{Limiter: l, Policy: FailOpen}
	lim := Limit{Name: "guest", Rate: 10, Period: time.Minute}

	// Three requests through Redis, then every turn is taken.
	for i := range 3 {
		if r, err := g.Allow(context.Background(), "user:a", lim); err != nil || r.Degraded || !r.Allowed {
			t.Fatalf("request %d with redis free: %+v, %v", i+1, r, err)
		}
	}
	l.turns <- struct{}{}
	for i := range 5 * DefaultBreakerThreshold {
		if _, err := l.Allow(context.Background(), "user:b", lim); !errors.Is(err, ErrOverloaded) {
			t.Fatalf("decision %d without a turn: %v; want ErrOverloaded", i+1, err)
		}
	}
	if l.BreakerOpen() {
		t.Fatal("overload opened the circuit breaker: the gateway's own load is not a redis outage")
	}
	allowed := 0
	for range 20 {
		r, err := g.Allow(context.Background(), "user:a", lim)
		if err != nil || (r.Allowed && !r.Degraded) {
			t.Fatalf("overloaded decision: %+v, %v; want decided in process", r, err)
		}
		if r.Allowed {
			allowed++
		}
	}
	if allowed != 7 {
		t.Fatalf("overloaded, a client that used 3 of 10 through redis got %d more; want 7", allowed)
	}
	<-l.turns
	if r, err := g.Allow(context.Background(), "user:c", lim); err != nil || r.Degraded || !r.Allowed {
		t.Fatalf("with a turn free again: %+v, %v; want a decision from redis", r, err)
	}
}
