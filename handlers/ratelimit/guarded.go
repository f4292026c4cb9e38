package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// FailurePolicy says what happens to a request when the limiter cannot
// decide (Redis down, slow, or its circuit breaker open).
type FailurePolicy int

const (
	// FailOpen decides with the in-process limiter, with the same limits
	// (exact for each node): an outage of Redis does not become an outage
	// of the API, nor a licence to send without limit. This is the
	// default.
	FailOpen FailurePolicy = iota
	// FailClosed refuses the request with a 503.
	FailClosed
)

// String returns the policy's configuration name.
func (p FailurePolicy) String() string {
	if p == FailClosed {
		return "fail_closed"
	}
	return "fail_open"
}

// DefaultLogInterval is how often Guarded logs at most, by default.
const DefaultLogInterval = 10 * time.Second

// Guarded applies a FailurePolicy to a Limiter. Its Allow returns an error
// only under FailClosed, and that error is always ErrUnavailable (wrapping
// the cause). A Guarded must not be copied after first use.
type Guarded struct {
	Limiter Limiter
	Policy  FailurePolicy
	// Fallback decides under FailOpen when Limiter cannot. Default: the
	// Limiter's own in-process copy when it has one (RedisLimiter.Local),
	// which carries on from this node's count; else a LocalLimiter of the
	// Guarded's own.
	Fallback *LocalLimiter
	// Logger receives one warning per LogInterval at most while the
	// limiter fails; nil logs nothing.
	Logger *zap.Logger
	// LogInterval defaults to DefaultLogInterval.
	LogInterval time.Duration
	// OnError, when set, is called for every decision the limiter failed
	// to make, for example to count them in a metric.
	OnError func()

	lastLog    atomic.Int64 // UnixNano of the last warning
	suppressed atomic.Int64 // failures not logged since then

	fallbackOnce sync.Once
}

// Allow implements Limiter. A decision made by the policy has Degraded set;
// under FailOpen it is the fallback limiter's, never a blanket "allowed".
func (g *Guarded) Allow(ctx context.Context, key string, lim Limit) (Result, error) {
	r, err := g.Limiter.Allow(ctx, key, lim)
	if err == nil {
		return r, nil
	}
	return g.failed(ctx, key, lim, err)
}

// failed decides by the policy a request the limiter could not decide (err).
func (g *Guarded) failed(ctx context.Context, key string, lim Limit, err error) (Result, error) {
	// A request whose caller is gone needs no decision and says nothing
	// about the limiter: neither count nor log it.
	if ctx.Err() == nil {
		if g.OnError != nil {
			g.OnError()
		}
		g.warn(lim, err)
	}
	if g.Policy == FailClosed {
		r := Result{
			Limit:    lim.Capacity(),
			Period:   lim.Period,
			ResetAt:  time.Now(),
			Degraded: true,
		}
		return r, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	r, ferr := g.fallback().Allow(ctx, key, lim)
	if ferr != nil { // an invalid limit: nothing can enforce it
		return r, fmt.Errorf("%w: %w", ErrUnavailable, ferr)
	}
	r.Degraded = true
	return r, nil
}

// fallback returns the limiter that decides under FailOpen.
func (g *Guarded) fallback() *LocalLimiter {
	g.fallbackOnce.Do(func() {
		if g.Fallback != nil {
			return
		}
		if l, ok := g.Limiter.(interface{ Local() *LocalLimiter }); ok {
			g.Fallback = l.Local()
			return
		}
		g.Fallback = NewLocal()
	})
	return g.Fallback
}

func (g *Guarded) warn(lim Limit, err error) {
	if g.Logger == nil {
		return
	}
	interval := g.LogInterval
	if interval <= 0 {
		interval = DefaultLogInterval
	}
	now := time.Now().UnixNano()
	last := g.lastLog.Load()
	if (last != 0 && now-last < int64(interval)) || !g.lastLog.CompareAndSwap(last, now) {
		g.suppressed.Add(1)
		return
	}
	g.Logger.Warn("rate limiter unavailable; deciding by the failure policy",
		zap.String("policy", g.Policy.String()),
		zap.String("tier", lim.Name),
		zap.Int64("failures_not_logged", g.suppressed.Swap(0)),
		zap.Duration("log_interval", interval),
		zap.Error(err))
}
