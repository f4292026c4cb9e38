package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Defaults of RedisOptions.
const (
	DefaultRedisPrefix      = "llmgw:"
	DefaultRedisTimeout     = 50 * time.Millisecond
	DefaultBreakerThreshold = 5
	DefaultBreakerCooldown  = 2 * time.Second
	DefaultRedisQueueWait   = time.Second
)

// RedisOptions configure a RedisLimiter.
type RedisOptions struct {
	// Prefix is put in front of every key, so that several gateways (or
	// tests) can share one Redis. redis_rate adds its own "rate:" in front
	// of it. Default: DefaultRedisPrefix.
	Prefix string
	// Timeout bounds one decision, connecting included. Default:
	// DefaultRedisTimeout. It reaches the socket only if the client has
	// ContextTimeoutEnabled (see TuneRedisOptions).
	Timeout time.Duration
	// BreakerThreshold is how many failures in a row open the circuit
	// breaker. Default: DefaultBreakerThreshold.
	BreakerThreshold int
	// BreakerCooldown is how long an open breaker fails at once without
	// asking Redis, before one request probes it again. Default:
	// DefaultBreakerCooldown.
	BreakerCooldown time.Duration
	// Logger receives the breaker's state changes. Default: no logs.
	Logger *zap.Logger
	// MaxInFlight bounds the decisions that talk to Redis at once; the
	// others wait in line for their turn. It should not exceed the
	// client's pool size, so that a decision never waits for a pooled
	// connection under its short Timeout: waiting for a turn is the
	// gateway's own load, not Redis's trouble, and is bounded by QueueWait
	// instead. Default: the client's PoolSize (go-redis: 10 per CPU).
	MaxInFlight int
	// QueueWait bounds how long a decision waits for its turn. A decision
	// that waits longer is made by the in-process limiter (see Local)
	// and does not count against Redis in the circuit breaker. Default:
	// DefaultRedisQueueWait.
	QueueWait time.Duration
}

// RedisLimiter keeps the limits in Redis, so that they are exact across
// replicas: each decision is one atomic GCRA script (redis_rate's) run on
// Redis's clock, one round trip. A slow or dead Redis costs at most the
// timeout per decision until the circuit breaker opens, then nothing.
//
// Each limiter also keeps an in-process copy of the buckets (Local): every
// request Redis allows is also taken from it. Redis counts at least what
// this node let through, so a request the copy refuses would be refused by
// Redis too, and is refused without asking it: a client that floods the
// gateway costs Redis one round trip per request it may send, not one per
// request it sends. The same copy decides while Redis cannot (see Guarded),
// carrying on from this node's count.
type RedisLimiter struct {
	rate      *redis_rate.Limiter
	client    redis.UniversalClient // for the script over several buckets
	prefix    string
	timeout   time.Duration
	breaker   *breaker
	logger    *zap.Logger
	local     *LocalLimiter
	turns     chan struct{} // one token per decision talking to Redis
	queueWait time.Duration
	// cluster is the client when it is a Redis Cluster client: its slot
	// map is reloaded after a failed decision (see reloadTopology).
	cluster *redis.ClusterClient
}

// NewRedis returns a limiter on client. The client should be tuned with
// TuneRedisOptions: without ContextTimeoutEnabled a hung Redis holds each
// decision for the client's ReadTimeout instead of opts.Timeout.
func NewRedis(client redis.UniversalClient, opts RedisOptions) *RedisLimiter {
	if opts.Prefix == "" {
		opts.Prefix = DefaultRedisPrefix
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultRedisTimeout
	}
	if opts.BreakerThreshold <= 0 {
		opts.BreakerThreshold = DefaultBreakerThreshold
	}
	if opts.BreakerCooldown <= 0 {
		opts.BreakerCooldown = DefaultBreakerCooldown
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.QueueWait <= 0 {
		opts.QueueWait = DefaultRedisQueueWait
	}
	// A cluster client has a pool of PoolSize per node; a decision talks
	// to one node, so PoolSize in flight never waits for a connection.
	ctxTimeouts, readTimeout, poolSize, known := true, time.Duration(0), 0, false
	switch c := client.(type) {
	case *redis.Client:
		ctxTimeouts, readTimeout, poolSize, known = c.Options().ContextTimeoutEnabled, c.Options().ReadTimeout, c.Options().PoolSize, true
	case *redis.ClusterClient:
		ctxTimeouts, readTimeout, poolSize, known = c.Options().ContextTimeoutEnabled, c.Options().ReadTimeout, c.Options().PoolSize, true
	}
	if known && !ctxTimeouts {
		opts.Logger.Warn("redis client ignores context deadlines: a hung redis can hold a rate limit decision for the client's read timeout",
			zap.Duration("read_timeout", readTimeout))
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 10 * runtime.GOMAXPROCS(0) // go-redis's default pool size
		if poolSize > 0 {
			opts.MaxInFlight = poolSize
		}
	}
	cluster, _ := client.(*redis.ClusterClient)
	return &RedisLimiter{
		cluster:   cluster,
		rate:      redis_rate.NewLimiter(client),
		client:    client,
		prefix:    opts.Prefix,
		timeout:   opts.Timeout,
		breaker:   newBreaker(opts.BreakerThreshold, opts.BreakerCooldown),
		logger:    opts.Logger,
		local:     NewLocal(),
		turns:     make(chan struct{}, opts.MaxInFlight),
		queueWait: opts.QueueWait,
	}
}

// TuneRedisOptions sets the options of a Redis client used for rate limits
// so that a slow or dead Redis costs a decision at most timeout: deadlines of
// the context reach the socket, no command or dial is retried (a retry
// cannot finish in time and only adds load to a struggling Redis), and
// waiting for a pooled connection is bounded too. DialTimeout is left as it
// is: a dial for a decision is bounded by the decision's deadline, and
// DialTimeout only bounds the pool's own redials in the background. It
// returns o.
func TuneRedisOptions(o *redis.Options, timeout time.Duration) *redis.Options {
	tune(timeout, &o.ContextTimeoutEnabled, &o.MaxRetries, &o.DialerRetries, &o.Protocol, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout)
	return o
}

// TuneClusterOptions is TuneRedisOptions for a Redis Cluster client. A
// redirect (MOVED, ASK, a node that went away) is still followed, within
// the decision's deadline: that is how the client learns of a failover.
func TuneClusterOptions(o *redis.ClusterOptions, timeout time.Duration) *redis.ClusterOptions {
	tune(timeout, &o.ContextTimeoutEnabled, &o.MaxRetries, &o.DialerRetries, &o.Protocol, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout)
	return o
}

// TuneFailoverOptions is TuneRedisOptions for a client that finds the
// master through Redis Sentinel.
func TuneFailoverOptions(o *redis.FailoverOptions, timeout time.Duration) *redis.FailoverOptions {
	tune(timeout, &o.ContextTimeoutEnabled, &o.MaxRetries, &o.DialerRetries, &o.Protocol, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout)
	return o
}

// tune sets the fields that go-redis's three option types share (they have
// no common type): see TuneRedisOptions.
func tune(timeout time.Duration, ctxTimeout *bool, maxRetries, dialerRetries, protocol *int, read, write, pool *time.Duration) {
	if timeout <= 0 {
		timeout = DefaultRedisTimeout
	}
	*ctxTimeout = true
	*maxRetries = -1
	*dialerRetries = 1
	*read, *write, *pool = timeout, timeout, timeout
	// RESP2: the limiter uses no RESP3 feature, and with RESP3 go-redis
	// peeks at the connection for push notifications before every command
	// (4 % of the gateway's CPU at c=32 in the benchmark's profile).
	*protocol = 2
}

// errCircuitOpen is returned without asking Redis while the breaker is open.
var errCircuitOpen = errors.New("redis circuit breaker open after repeated failures")

// ErrOverloaded is returned when a decision waited too long for its turn to
// ask Redis, or for a pooled connection: the gateway's own load, which says
// nothing about Redis and does not open the circuit breaker.
var ErrOverloaded = errors.New("rate limiter overloaded: too many decisions waiting for redis")

// Allow implements Limiter.
func (l *RedisLimiter) Allow(ctx context.Context, key string, lim Limit) (Result, error) {
	if !lim.valid() {
		return Result{}, lim.Validate()
	}
	if r := l.local.peek(key, lim); !r.Allowed {
		return r, nil // Redis would refuse it too
	}
	if !l.breaker.allow() {
		return Result{}, errCircuitOpen
	}
	if err := l.waitTurn(ctx); err != nil {
		return Result{}, err
	}
	defer func() { <-l.turns }()
	// Requests that queued behind others of the same client often find
	// its bucket empty by now. The request is taken from this node's copy
	// before Redis is asked, and given back if Redis refuses it: while
	// answers are on their way, a decision that fails over to the copy
	// (a timeout under load) must count the requests still in flight, or
	// a burst lets through some that Redis refused.
	if r := l.local.decide(key, lim, true); !r.Allowed {
		return r, nil
	}
	burst := lim.Capacity()
	callCtx, cancel := context.WithTimeout(ctx, l.timeout)
	res, err := l.rate.Allow(callCtx, l.prefix+key, redis_rate.Limit{Rate: lim.Rate, Burst: burst, Period: lim.Period})
	cancel()
	now := time.Now()
	if err != nil {
		// The failure policy's fallback is this copy: it takes the
		// request again if it lets it through.
		l.local.refund(key, lim)
		return Result{}, l.failure(ctx, err)
	}
	if l.breaker.success() {
		l.logger.Info("redis circuit breaker closed; rate limits are enforced through redis again")
	}

	r := Result{
		Limit:   burst,
		Period:  lim.Period,
		ResetAt: now.Add(res.ResetAfter),
	}
	if res.Allowed == 0 {
		l.local.refund(key, lim)
		r.RetryAfter = max(res.RetryAfter, time.Nanosecond)
		l.local.learn(key, res.ResetAfter)
		return r, nil
	}
	r.Allowed = true
	r.Remaining = remainingAfter(lim.emissionInterval(), burst, res.ResetAfter)
	// The copy took this request before Redis did; Redis's state, as of
	// now, may be ahead of it (other nodes' requests): learnt, so that a
	// refusal the copy makes later never ends before Redis's would.
	l.local.learn(key, res.ResetAfter)
	return r, nil
}

// reloadTopology asks a cluster client to reload its slot map after a
// failed decision. go-redis follows MOVED replies, but a master that
// crashed sends none: until the map is reloaded (on its own only every
// 10 s) the client keeps dialling the dead master for its slots, long after
// its replica took them over. The reload runs in the background, one at a
// time, with a cooldown of go-redis's own.
func (l *RedisLimiter) reloadTopology() {
	if l.cluster != nil {
		l.cluster.ReloadState(context.Background())
	}
}

// waitTurn waits until fewer than MaxInFlight decisions talk to Redis, at
// most QueueWait.
func (l *RedisLimiter) waitTurn(ctx context.Context) error {
	select {
	case l.turns <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(l.queueWait)
	defer timer.Stop()
	select {
	case l.turns <- struct{}{}:
		return nil
	case <-timer.C:
		return fmt.Errorf("%w: no turn within %s", ErrOverloaded, l.queueWait)
	case <-ctx.Done():
		return fmt.Errorf("waiting to ask redis for a rate limit decision: %w", ctx.Err())
	}
}

// Local returns the in-process copy of the buckets, which decides while
// Redis cannot: the same limits, exact for this node.
func (l *RedisLimiter) Local() *LocalLimiter { return l.local }

// remainingAfter returns how many requests are left in a bucket that is full
// again after resetAfter. redis_rate's own Remaining cannot be used: the
// script computes it in floating point and Redis truncates it to an integer,
// so the first request of 1000/hour (3.6 s per request) reports 998 left
// instead of 999. The script
// also stores the bucket's time rounded to 10 µs (Lua prints 14 digits);
// the tolerance covers that.
func remainingAfter(emission time.Duration, burst int, resetAfter time.Duration) int {
	const tolerance = 10 * time.Microsecond
	left := (time.Duration(burst)*emission - resetAfter + tolerance) / emission
	return int(min(max(left, 0), time.Duration(burst-1)))
}

// BreakerOpen reports whether the circuit breaker is open, that is whether
// decisions currently fail without asking Redis.
func (l *RedisLimiter) BreakerOpen() bool { return l.breaker.open() }
