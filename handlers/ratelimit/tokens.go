package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// TokenLimiter limits the tokens a principal's requests take, per period
// (tokens per minute, tokens per day), with the same GCRA as the request
// limits: a limit of "100000/min" is a bucket of 100000 tokens refilled
// continuously. A request first reserves its estimate (prompt estimate plus
// its max_tokens) from every bucket of its tier at once, and is refused
// when any bucket lacks room; when its answer has ended, Settle charges the
// difference between what it used and what it reserved (a refund when it
// used less).
//
// With Redis each Reserve and each Settle is one atomic script on Redis's
// clock, so limits are exact across replicas; without Redis, or while it
// fails (the fail-open policy), an in-process copy with the same limits
// decides for this node. Overshoot: a bucket can run below zero by at most
// what the requests admitted before it emptied used beyond their
// reservations, which max_tokens bounds for each.
type TokenLimiter struct {
	redis   redis.UniversalClient // nil: in process only
	prefix  string
	timeout time.Duration
	policy  FailurePolicy
	logger  *zap.Logger
	onError func()
	local   *localTokens
	lastLog atomic.Int64
}

// TokenLimiterOptions configure a TokenLimiter.
type TokenLimiterOptions struct {
	// Redis keeps the buckets; nil keeps them in process.
	Redis redis.UniversalClient
	// Prefix is put in front of every Redis key (default "llmgw:tok:").
	Prefix string
	// Timeout bounds one Redis script (default DefaultRedisTimeout).
	Timeout time.Duration
	// Policy decides while Redis fails: FailOpen (default) uses the
	// in-process buckets, FailClosed refuses with ErrUnavailable.
	Policy FailurePolicy
	// Logger receives one warning per DefaultLogInterval at most while
	// Redis fails.
	Logger *zap.Logger
	// OnError, when set, is called for every script Redis failed to run.
	OnError func()
}

// NewTokenLimiter returns a token limiter.
func NewTokenLimiter(opts TokenLimiterOptions) *TokenLimiter {
	if opts.Prefix == "" {
		opts.Prefix = "llmgw:tok:"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultRedisTimeout
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return &TokenLimiter{
		redis: opts.Redis, prefix: opts.Prefix, timeout: opts.Timeout, policy: opts.Policy,
		logger: opts.Logger, onError: opts.OnError, local: newLocalTokens(),
	}
}

// TokenResult is one Reserve decision, for the x-ratelimit-*-tokens headers:
// it describes the bucket that refused the request, or else the first
// (shortest) limit's.
type TokenResult struct {
	Allowed bool
	// Limit is the bucket's capacity in tokens.
	Limit int64
	// Remaining is the tokens left in it after this reservation.
	Remaining int64
	// Reset is how long until the bucket is full again.
	Reset time.Duration
	// RetryAfter is how long a refused request must wait.
	RetryAfter time.Duration
	// TooLarge reports a request whose reservation exceeds a bucket's
	// capacity: no wait lets it through.
	TooLarge bool
	// Degraded reports a decision by the in-process buckets while Redis
	// failed.
	Degraded bool
}

// TokenReservation is what Settle needs to correct a reservation.
type TokenReservation struct {
	key    string
	limits []Limit
	tokens int64
	local  bool
}

// Tokens returns the tokens reserved.
func (r TokenReservation) Tokens() int64 { return r.tokens }

// SortTokenLimits orders limits by period, shortest first (the one headers
// describe) and validates them.
func SortTokenLimits(limits []Limit) error {
	for _, l := range limits {
		if err := l.Validate(); err != nil {
			return err
		}
	}
	slices.SortFunc(limits, func(a, b Limit) int { return int(a.Period - b.Period) })
	return nil
}

// Reserve takes tokens from every bucket of limits (sorted by
// SortTokenLimits) under key, or none when one lacks room. The error is
// non-nil only under FailClosed when Redis cannot decide (ErrUnavailable).
func (t *TokenLimiter) Reserve(ctx context.Context, key string, limits []Limit, tokens int64) (TokenReservation, TokenResult, error) {
	res := TokenReservation{key: key, limits: limits, tokens: tokens}
	if len(limits) == 0 {
		return res, TokenResult{Allowed: true}, nil
	}
	if t.redis != nil {
		tats, allowed, err := t.runReserve(ctx, key, limits, tokens)
		if err == nil {
			if allowed {
				// Mirror it in process, so that a Redis outage carries on
				// from this node's count.
				t.local.settle(key, limits, tokens)
			}
			return res, tokenResult(limits, tokens, tats, allowed), nil
		}
		if ctx.Err() == nil {
			t.failed(err)
		}
		if t.policy == FailClosed {
			return res, TokenResult{Limit: int64(limits[0].Capacity()), Degraded: true}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	tats, allowed := t.local.reserve(key, limits, tokens)
	res.local = true
	r := tokenResult(limits, tokens, tats, allowed)
	r.Degraded = t.redis != nil
	return res, r, nil
}

// Settle corrects a reservation to the tokens the request used. It never
// fails: a correction Redis could not take is logged and lost (the bucket
// stays charged with the reservation, the safe side).
func (t *TokenLimiter) Settle(ctx context.Context, res TokenReservation, used int64) {
	delta := used - res.tokens
	if delta == 0 || len(res.limits) == 0 {
		return
	}
	t.local.settle(res.key, res.limits, delta)
	if res.local || t.redis == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.timeout)
	defer cancel()
	keys, args := t.scriptArgs(res.key, res.limits, delta, false)
	if err := settleScript.Run(ctx, t.redis, keys, args...).Err(); err != nil {
		t.failed(err)
	}
}

func (t *TokenLimiter) runReserve(ctx context.Context, key string, limits []Limit, tokens int64) ([]int64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	keys, args := t.scriptArgs(key, limits, tokens, true)
	vals, err := reserveScript.Run(ctx, t.redis, keys, args...).Int64Slice()
	if err != nil {
		return nil, false, err
	}
	if len(vals) != len(limits)+1 {
		return nil, false, errors.New("token reservation script: unexpected answer")
	}
	return vals[1:], vals[0] == 1, nil
}

// scriptArgs returns the keys of the buckets (one hash slot per principal,
// so that a cluster runs the script on one node) and the arguments: the
// tokens, then each bucket's emission interval (µs per token) and, when
// reserving, its capacity.
func (t *TokenLimiter) scriptArgs(key string, limits []Limit, tokens int64, capacity bool) ([]string, []any) {
	keys := make([]string, len(limits))
	args := make([]any, 0, 1+2*len(limits))
	args = append(args, tokens)
	for i, l := range limits {
		keys[i] = t.prefix + "{" + key + "}:" + l.String()
		args = append(args, strconv.FormatFloat(emissionMicros(l), 'f', -1, 64))
		if capacity {
			args = append(args, l.Capacity())
		}
	}
	return keys, args
}

func emissionMicros(l Limit) float64 {
	return float64(l.Period.Microseconds()) / float64(l.Rate)
}

// tokenResult turns the buckets' times to full (µs; before the reservation
// when refused) into the decision.
func tokenResult(limits []Limit, tokens int64, untilFull []int64, allowed bool) TokenResult {
	pick := 0
	var retry float64
	if !allowed {
		for i, l := range limits {
			e := emissionMicros(l)
			wait := float64(untilFull[i]) + float64(tokens)*e - float64(l.Capacity())*e
			if tokens > int64(l.Capacity()) {
				return TokenResult{Limit: int64(l.Capacity()), Remaining: remainingTokens(l, untilFull[i]),
					Reset: time.Duration(untilFull[i]) * time.Microsecond, TooLarge: true}
			}
			if wait > retry {
				retry, pick = wait, i
			}
		}
	}
	l := limits[pick]
	return TokenResult{
		Allowed:    allowed,
		Limit:      int64(l.Capacity()),
		Remaining:  remainingTokens(l, untilFull[pick]),
		Reset:      time.Duration(untilFull[pick]) * time.Microsecond,
		RetryAfter: time.Duration(math.Ceil(retry)) * time.Microsecond,
	}
}

func remainingTokens(l Limit, untilFull int64) int64 {
	return max(int64(math.Floor(float64(l.Capacity())-float64(untilFull)/emissionMicros(l))), 0)
}

func (t *TokenLimiter) failed(err error) {
	if t.onError != nil {
		t.onError()
	}
	now := time.Now().UnixNano()
	last := t.lastLog.Load()
	if now-last < int64(DefaultLogInterval) || !t.lastLog.CompareAndSwap(last, now) {
		return
	}
	t.logger.Warn("token limiter: redis failed; deciding by the failure policy",
		zap.String("policy", t.policy.String()), zap.Error(err))
}

// reserveScript: KEYS are the buckets; ARGV[1] the tokens, then per bucket
// its emission interval (µs per token) and capacity. Each bucket holds its
// theoretical arrival time (µs, Redis clock). It answers {1 or 0, then per
// bucket µs until full}: after the reservation when allowed, as it stands
// when refused.
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local tats = {}
local ok = 1
for i = 1, #KEYS do
	local e = tonumber(ARGV[2 * i])
	local burst = tonumber(ARGV[2 * i + 1])
	local tat = tonumber(redis.call('GET', KEYS[i]) or now)
	if tat < now then tat = now end
	tats[i] = tat
	if tat + n * e - burst * e > now then ok = 0 end
end
local out = {ok}
for i = 1, #KEYS do
	local tat = tats[i]
	if ok == 1 then
		tat = math.floor(tat + n * tonumber(ARGV[2 * i]))
		redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', math.floor((tat - now) / 1000) + 1)
	end
	out[i + 1] = tat - now
end
return out
`)

// settleScript: KEYS are the buckets; ARGV[1] the tokens to charge
// (negative: to refund), then per bucket its emission interval.
var settleScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local d = tonumber(ARGV[1])
for i = 1, #KEYS do
	local e = tonumber(ARGV[i + 1])
	local tat = tonumber(redis.call('GET', KEYS[i]) or now)
	if tat < now then tat = now end
	tat = math.floor(tat + d * e)
	if tat <= now then
		redis.call('DEL', KEYS[i])
	else
		redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', math.floor((tat - now) / 1000) + 1)
	end
end
return 1
`)

// localTokens are the in-process token buckets: the same GCRA on this
// node's clock.
type localTokens struct {
	mu        sync.Mutex
	epoch     time.Time
	tat       map[string]int64 // µs since epoch
	nextSweep int64
}

func newLocalTokens() *localTokens {
	return &localTokens{epoch: time.Now(), tat: make(map[string]int64)}
}

func (l *localTokens) now() int64 { return time.Since(l.epoch).Microseconds() }

func localKey(key string, lim Limit) string { return key + "\x00" + lim.String() }

func (l *localTokens) reserve(key string, limits []Limit, n int64) ([]int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	tats := make([]int64, len(limits))
	ok := true
	for i, lim := range limits {
		e := emissionMicros(lim)
		tat := max(l.tat[localKey(key, lim)], now)
		tats[i] = tat
		if float64(tat)+float64(n)*e-float64(lim.Capacity())*e > float64(now) {
			ok = false
		}
	}
	for i, lim := range limits {
		if ok {
			tats[i] = int64(math.Floor(float64(tats[i]) + float64(n)*emissionMicros(lim)))
			l.tat[localKey(key, lim)] = tats[i]
		}
		tats[i] -= now
	}
	l.sweep(now)
	return tats, ok
}

func (l *localTokens) settle(key string, limits []Limit, delta int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, lim := range limits {
		k := localKey(key, lim)
		tat := int64(math.Floor(float64(max(l.tat[k], now)) + float64(delta)*emissionMicros(lim)))
		if tat <= now {
			delete(l.tat, k)
		} else {
			l.tat[k] = tat
		}
	}
}

// sweep drops full buckets once a minute. The caller holds mu.
func (l *localTokens) sweep(now int64) {
	if now < l.nextSweep {
		return
	}
	for k, tat := range l.tat {
		if tat <= now {
			delete(l.tat, k)
		}
	}
	l.nextSweep = now + time.Minute.Microseconds()
}

// ParseTokenLimits reads limits like "100000/min 2000000/day" (any
// separation by spaces or commas); empty gives none.
func ParseTokenLimits(s string) ([]Limit, error) {
	var out []Limit
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		l, err := ParseLimit(f)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, SortTokenLimits(out)
}
