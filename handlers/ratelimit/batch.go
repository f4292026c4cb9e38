package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Check is one bucket of a decision over several buckets: the key, its
// limit, and the Guarded whose limiter decides it and whose failure policy
// applies when that limiter cannot.
type Check struct {
	Guard *Guarded
	Key   string
	Limit Limit
}

// AllowAll takes one request from each bucket of checks, in order, and
// stops at the first that refuses: the same as calling Allow on each in
// turn until one refuses, which is what a chain of limit handlers did. It
// returns the decisions made, results[i] for checks[i]; the last one is the
// refusal when fewer than len(checks) came back or when it is not Allowed.
// The error is ErrUnavailable, from a fail-closed Guarded, for the last
// check decided; results then holds a placeholder for it.
//
// When all checks share one RedisLimiter, the whole decision is one Redis
// round trip: one script over all the buckets, atomic on Redis's clock (on
// a Redis Cluster, whose script may not span hash slots, one per bucket).
func AllowAll(ctx context.Context, checks []Check, results []Result) ([]Result, error) {
	results = results[:0]
	if len(checks) == 0 {
		return results, nil
	}
	batch, shared := checks[0].Guard.Limiter.(*RedisLimiter)
	for _, c := range checks[1:] {
		if c.Guard.Limiter != checks[0].Guard.Limiter {
			shared = false
		}
	}
	var err error
	if shared && len(checks) > 1 {
		results, err = batch.allowAll(ctx, checks, results)
		if err == nil {
			return results, nil
		}
	}
	// One by one: what the batch did not decide, or all of it. A batch
	// that failed hands the rest to each check's failure policy.
	for i := len(results); i < len(checks); i++ {
		c := checks[i]
		var r Result
		var cerr error
		if err != nil {
			r, cerr = c.Guard.failed(ctx, c.Key, c.Limit, err)
		} else {
			r, cerr = c.Guard.Allow(ctx, c.Key, c.Limit)
		}
		results = append(results, r)
		if cerr != nil || !r.Allowed {
			return results, cerr
		}
	}
	return results, nil
}

// Refuses reports whether this node's copy of the buckets (a RedisLimiter's
// Local, or a LocalLimiter) refuses a request to key already, without
// taking from it. Redis counts at least what this node let through, so it
// would refuse the request too.
func (g *Guarded) Refuses(key string, lim Limit) bool {
	if !lim.valid() {
		return false
	}
	switch l := g.Limiter.(type) {
	case *RedisLimiter:
		return !l.local.peek(key, lim).Allowed
	case *LocalLimiter:
		return !l.peek(key, lim).Allowed
	}
	return false
}

// allowAll decides checks, in order, until one refuses: one script over all
// of them. It returns the decisions made before an error.
func (l *RedisLimiter) allowAll(ctx context.Context, checks []Check, results []Result) ([]Result, error) {
	for _, c := range checks {
		if !c.Limit.valid() {
			return results, c.Limit.Validate()
		}
	}
	if l.cluster != nil {
		// A script may only touch keys of one hash slot; the buckets of
		// one request are in different ones.
		for _, c := range checks {
			r, err := l.Allow(ctx, c.Key, c.Limit)
			if err != nil {
				return results, err
			}
			results = append(results, r)
			if !r.Allowed {
				break
			}
		}
		return results, nil
	}
	// This node's copy refuses what Redis would refuse too: ask Redis only
	// for the buckets before the first the copy refuses.
	n := l.localPrefix(checks)
	if n == 0 {
		return append(results, l.local.peek(checks[0].Key, checks[0].Limit)), nil
	}
	if !l.breaker.allow() {
		return results, errCircuitOpen
	}
	if err := l.waitTurn(ctx); err != nil {
		return results, err
	}
	defer func() { <-l.turns }()
	// Take from this node's copy before asking Redis, as Allow does, and
	// give back what Redis does not let through.
	if n = l.takeLocal(checks[:n]); n == 0 {
		return append(results, l.local.peek(checks[0].Key, checks[0].Limit)), nil
	}

	sa := scriptArgsPool.Get().(*scriptArgs)
	keys, args := sa.keys[:0], sa.args[:0]
	for _, c := range checks[:n] {
		keys = append(keys, redisRatePrefix+l.prefix+c.Key)
		args = append(args, c.Limit.Capacity(), c.Limit.Rate, c.Limit.Period.Seconds())
	}
	callCtx, cancel := context.WithTimeout(ctx, l.timeout)
	reply, err := allowAllScript.Run(callCtx, l.client, keys, args...).Slice()
	cancel()
	// go-redis copied keys and args into its command.
	clear(keys)
	clear(args)
	sa.keys, sa.args = keys[:0], args[:0]
	scriptArgsPool.Put(sa)
	now := time.Now()
	if err == nil && (len(reply) == 0 || len(reply)%2 != 0 || len(reply) > 2*n) {
		err = fmt.Errorf("unexpected reply of %d values to a rate limit script over %d buckets", len(reply), n)
	}
	if err != nil {
		l.refundLocal(checks[:n])
		return results, l.failure(ctx, err)
	}
	if l.breaker.success() {
		l.logger.Info("redis circuit breaker closed; rate limits are enforced through redis again")
	}
	for i := 0; i < len(reply); i += 2 {
		c := checks[i/2]
		reset, _ := reply[i].(int64)
		retry, _ := reply[i+1].(int64)
		r := scriptResult(c.Limit, now, time.Duration(reset)*time.Microsecond, time.Duration(retry)*time.Microsecond)
		results = append(results, r)
		if !r.Allowed {
			// The script stopped here: this bucket and those after it
			// were not taken from. Redis's refusal is learnt: this
			// node refuses the bucket by itself until Redis would let
			// it through again.
			l.refundLocal(checks[i/2 : n])
			l.local.learn(c.Key, time.Duration(reset)*time.Microsecond)
			return results, nil
		}
		l.local.learn(c.Key, time.Duration(reset)*time.Microsecond) // as in Allow
	}
	if n < len(checks) {
		// Redis allowed every bucket before the first this node's copy
		// refuses.
		results = append(results, l.local.peek(checks[n].Key, checks[n].Limit))
	}
	return results, nil
}

// scriptArgs are the keys and arguments of one script call, pooled: they are
// built on every request.
type scriptArgs struct {
	keys []string
	args []any
}

var scriptArgsPool = sync.Pool{New: func() any { return new(scriptArgs) }}

// takeLocal takes one request from this node's copy of each bucket of
// checks, in order, until one refuses, and returns how many it took: the
// buckets to ask Redis for.
func (l *RedisLimiter) takeLocal(checks []Check) int {
	for i, c := range checks {
		if !l.local.decide(c.Key, c.Limit, true).Allowed {
			return i
		}
	}
	return len(checks)
}

// refundLocal gives back one request to this node's copy of each bucket of
// checks.
func (l *RedisLimiter) refundLocal(checks []Check) {
	for _, c := range checks {
		l.local.refund(c.Key, c.Limit)
	}
}

// localPrefix returns how many of checks, from the first, this node's copy
// of the buckets would allow.
func (l *RedisLimiter) localPrefix(checks []Check) int {
	for i, c := range checks {
		if !l.local.peek(c.Key, c.Limit).Allowed {
			return i
		}
	}
	return len(checks)
}

// failure records a failed round trip and returns the error to report, as
// Allow does.
func (l *RedisLimiter) failure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("asking redis for a rate limit decision: %w", ctx.Err())
	}
	if errors.Is(err, redis.ErrPoolTimeout) {
		return fmt.Errorf("%w: %w", ErrOverloaded, err)
	}
	l.reloadTopology()
	if l.breaker.failure() {
		l.logger.Warn("redis circuit breaker opened; rate limits follow the failure policy until redis answers again",
			zap.Error(err))
	}
	return fmt.Errorf("asking redis for a rate limit decision: %w", err)
}

// scriptResult is the decision of a bucket that is full again after reset;
// retry is negative when the request was allowed.
func scriptResult(lim Limit, now time.Time, reset, retry time.Duration) Result {
	burst := lim.Capacity()
	r := Result{Limit: burst, Period: lim.Period, ResetAt: now.Add(reset)}
	if retry >= 0 {
		r.RetryAfter = max(retry, time.Nanosecond)
		return r
	}
	r.Allowed = true
	r.Remaining = remainingAfter(lim.emissionInterval(), burst, reset)
	return r
}

// redisRatePrefix is what redis_rate puts in front of every key; the batch
// script uses the same keys, so that it and redis_rate (an older replica in
// a rolling upgrade, say) share the buckets.
const redisRatePrefix = "rate:"

// allowAllScript is redis_rate's GCRA (cost one) over several buckets, in
// order, stopping at the first that refuses: the same values in the same
// keys, on Redis's clock, in one atomic script. KEYS are the buckets; ARGV
// holds burst, rate and period (seconds) for each. The reply holds
// {reset_after, retry_after} for each bucket decided, in whole microseconds
// (integers cost the client less to read than redis_rate's strings),
// retry_after -1 when the request was allowed.
var allowAllScript = redis.NewScript(`
redis.replicate_commands()

local jan_1_2017 = 1483228800
local now = redis.call("TIME")
now = (now[1] - jan_1_2017) + (now[2] / 1000000)

local reply = {}
for i, key in ipairs(KEYS) do
  local burst = tonumber(ARGV[3*i-2])
  local rate = tonumber(ARGV[3*i-1])
  local period = tonumber(ARGV[3*i])
  local emission_interval = period / rate
  local burst_offset = emission_interval * burst

  local tat = redis.call("GET", key)
  if not tat then
    tat = now
  else
    tat = tonumber(tat)
  end
  tat = math.max(tat, now)

  local new_tat = tat + emission_interval
  local diff = now - (new_tat - burst_offset)
  if diff < 0 then
    reply[#reply+1] = math.floor((tat - now) * 1000000 + 0.5)
    reply[#reply+1] = math.max(math.floor(-diff * 1000000 + 0.5), 1)
    return reply
  end

  local reset_after = new_tat - now
  if reset_after > 0 then
    redis.call("SET", key, new_tat, "EX", math.ceil(reset_after))
  end
  reply[#reply+1] = math.floor(reset_after * 1000000 + 0.5)
  reply[#reply+1] = -1
end
return reply
`)
