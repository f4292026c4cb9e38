package ratelimit

import (
	"sync/atomic"
	"time"
)

// breaker is the circuit breaker in front of Redis: after threshold failures
// in a row it opens and answers at once for cooldown, then lets one probe
// through; the first success closes it again.
//
// It is hand-written rather than github.com/sony/gobreaker because it sits
// on every request: here a closed breaker costs two atomic loads (no mutex,
// no clock reading), and every state change is won by exactly one caller
// through a compare-and-swap, which then logs it outside of any lock
// (gobreaker calls OnStateChange with its mutex held).
type breaker struct {
	threshold int32
	cooldown  time.Duration
	clock     func() time.Duration // monotonic time; never zero

	failures  atomic.Int32 // consecutive failures while closed
	openUntil atomic.Int64 // clock reading the breaker stays open until; 0 when closed
}

func newBreaker(threshold int, cooldown time.Duration) *breaker {
	epoch := time.Now()
	return &breaker{
		threshold: int32(threshold),
		cooldown:  cooldown,
		// Readings start at one nanosecond so that zero can mean closed.
		clock: func() time.Duration { return time.Since(epoch) + 1 },
	}
}

// allow reports whether a call may go to Redis. While the breaker is open it
// refuses, except for one probe per cooldown: the caller that moves the
// deadline gets through, and a probe that never reports back costs only one
// more cooldown.
func (b *breaker) allow() bool {
	until := b.openUntil.Load()
	if until == 0 {
		return true
	}
	now := b.clock()
	if now < time.Duration(until) {
		return false
	}
	return b.openUntil.CompareAndSwap(until, int64(now+b.cooldown))
}

// success records an answer from Redis and reports whether it closed the
// breaker. Any answer closes it: Redis is reachable again.
func (b *breaker) success() (closed bool) {
	if b.failures.Load() != 0 { // a store on every success would bounce the cache line
		b.failures.Store(0)
	}
	return b.openUntil.Load() != 0 && b.openUntil.Swap(0) != 0
}

// failure records a failed call and reports whether it opened the breaker.
func (b *breaker) failure() (opened bool) {
	if until := b.openUntil.Load(); until != 0 {
		// A failed probe (or a straggler): start the cooldown over, but
		// never shorten it.
		next := int64(b.clock() + b.cooldown)
		for until < next && !b.openUntil.CompareAndSwap(until, next) {
			if until = b.openUntil.Load(); until == 0 {
				break // closed meanwhile by a success; let it be
			}
		}
		return false
	}
	if b.failures.Add(1) < b.threshold {
		return false
	}
	b.failures.Store(0)
	return b.openUntil.CompareAndSwap(0, int64(b.clock()+b.cooldown))
}

// open reports whether the breaker is open, for tests and health checks.
func (b *breaker) open() bool { return b.openUntil.Load() != 0 }
