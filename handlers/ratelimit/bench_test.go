package ratelimit

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// benchKeys are the keys the benchmarks spread their requests over.
var benchKeys = func() []string {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
	}
	return keys
}()

// benchLimit lets every request pass, so that the benchmarks measure the
// common case.
var benchLimit = Limit{Name: "bench", Rate: 1_000_000_000, Period: time.Hour}

func benchmarkLimiter(b *testing.B, l Limiter) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := l.Allow(ctx, benchKeys[i%len(benchKeys)], benchLimit); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := l.Allow(ctx, benchKeys[i%len(benchKeys)], benchLimit); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkRedisAllow measures one decision through Redis on loopback (the
// test Redis), the gateway's hot path with Redis configured.
func BenchmarkRedisAllow(b *testing.B) {
	client := newTestRedisClient(b, time.Second)
	benchmarkLimiter(b, NewRedis(client, RedisOptions{Prefix: newTestPrefix(b, client), Timeout: time.Second}))
}

// BenchmarkLocalAllow measures one in-process decision.
func BenchmarkLocalAllow(b *testing.B) {
	benchmarkLimiter(b, NewLocal())
}

// BenchmarkGuardedAllowBreakerOpen measures a decision while Redis is down
// and the breaker answers for it.
func BenchmarkGuardedAllowBreakerOpen(b *testing.B) {
	l := NewRedis(nil, RedisOptions{BreakerCooldown: time.Hour})
	for range DefaultBreakerThreshold {
		l.breaker.failure()
	}
	g := &Guarded{Limiter: l}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r, err := g.Allow(ctx, "user:1", benchLimit); err != nil || !r.Degraded {
			b.Fatal(r, err)
		}
	}
}

func BenchmarkWriteHeaders(b *testing.B) {
	user := Result{Allowed: true, Limit: 60, Remaining: 59, ResetAt: time.Now().Add(time.Second), Period: time.Minute}
	ip := Result{Allowed: true, Limit: 100, Remaining: 97, ResetAt: time.Now().Add(time.Second), Period: time.Minute}
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		clear(h)
		WriteHeaders(h, user, false)
		WriteHeaders(h, ip, true)
	}
}
