// Package ratelimit decides whether a request may pass a rate limit, with the
// generic cell rate algorithm (GCRA): a limit of "60 per minute" lets a burst
// of 60 requests through and then one more every second, as the bucket refills
// continuously rather than at the top of each minute.
//
// Two limiters implement the same semantics: RedisLimiter keeps the state in
// Redis (through github.com/go-redis/redis_rate, one atomic script per
// decision on Redis's clock, so that limits are exact across replicas), and
// LocalLimiter keeps it in process for a single node. Guarded applies the
// configured failure policy when Redis is in trouble, and WriteHeaders writes
// the X-RateLimit-* headers of a decision.
package ratelimit

import (
	"context"
	"errors"
	"time"
)

// Limiter decides whether one more request may pass a limit.
type Limiter interface {
	// Allow takes one request from the bucket named key, if the limit lets
	// it. Keys are opaque: the caller builds them (see PrincipalKey and
	// IPKey) and keeps the limits of different tiers apart by them. The
	// error is non-nil only when no decision could be made.
	Allow(ctx context.Context, key string, l Limit) (Result, error)
}

// Result is one decision, with everything the response headers need.
type Result struct {
	// Allowed reports whether the request may pass.
	Allowed bool
	// Limit is the bucket's capacity: the most requests that can pass at
	// once (the limit's Burst, which defaults to its Rate).
	Limit int
	// Remaining is how many more requests could pass right now.
	Remaining int
	// ResetAt is when the bucket is full again, that is when Remaining
	// will be Limit if no other request comes.
	ResetAt time.Time
	// RetryAfter is how long a refused request must wait before it can
	// pass; zero when the request was allowed.
	RetryAfter time.Duration
	// Period is the limit's period; WriteHeaders names per-minute windows
	// by it.
	Period time.Duration
	// Degraded reports that the decision was made by the failure policy
	// because the limiter could not be asked.
	Degraded bool
}

// ErrUnavailable is returned by Guarded under the fail-closed policy when
// the limiter cannot decide; the request should get a 503 (see
// UnavailableError).
var ErrUnavailable = errors.New("rate limiter unavailable")
