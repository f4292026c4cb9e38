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
	// OverBudget is the index of the budget that refused the request, or
	// -1; Used is that budget's counter.
	OverBudget int
	Used       int64
}

// Budget is a spending ceiling counted in Redis (or in process): a counter
// of tokens or cost for a calendar period. Reserve refuses while the
// counter has reached Limit; Settle adds what the request used. A request
// admitted below the ceiling is never cut short, so the counter can pass the
// ceiling by what the requests in flight at the crossing use.
type Budget struct {
	// Key names the counter; it must share its hash tag ({…}) with the
	// reservation's key, so that a cluster keeps them on one node.
	Key string
	// Limit is the ceiling.
	Limit int64
	// TTL is how long the counter lives after its first charge (the rest
	// of its period, and a margin).
	TTL time.Duration
}

// TokenReservation is what Settle needs to correct a reservation.
type TokenReservation struct {
	key     string
	limits  []Limit
	budgets []Budget
	tokens  int64
	local   bool
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
// SortTokenLimits) under key, or none when one lacks room or a budget has
// reached its ceiling; all in one script. The error is non-nil only under
// FailClosed when Redis cannot decide (ErrUnavailable).
func (t *TokenLimiter) Reserve(ctx context.Context, key string, limits []Limit, tokens int64, budgets []Budget) (TokenReservation, TokenResult, error) {
	res := TokenReservation{key: key, limits: limits, budgets: budgets, tokens: tokens}
	if len(limits) == 0 && len(budgets) == 0 {
		return res, TokenResult{Allowed: true, OverBudget: -1}, nil
	}
	if t.redis != nil {
		out, err := t.runReserve(ctx, key, limits, budgets, tokens)
		if err == nil {
			if out.allowed {
				// Mirror it in process, so that a Redis outage carries on
				// from this node's count.
				t.local.settle(key, limits, nil, tokens, nil)
			}
			return res, tokenResult(limits, tokens, out), nil
		}
		if ctx.Err() == nil {
			t.failed(err)
		}
		if t.policy == FailClosed {
			r := TokenResult{Degraded: true, OverBudget: -1}
			if len(limits) > 0 {
				r.Limit = int64(limits[0].Capacity())
			}
			return res, r, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	out := t.local.reserve(key, limits, budgets, tokens)
	res.local = true
	r := tokenResult(limits, tokens, out)
	r.Degraded = t.redis != nil
	return res, r, nil
}

// MinSettleTimeout bounds a settlement's Redis call from below: it runs
// after the answer was sent, so it can wait longer than a reservation, and
// a settlement lost to a short timeout would leave the shared buckets and
// budgets short of what was used.
const MinSettleTimeout = time.Second

// Settle corrects a reservation to the tokens the request used and charges
// its budgets (charges[i] to budgets[i]: tokens or cost). A reservation the
// in-process buckets made while Redis failed is charged to Redis in full
// now, so that the shared counts stay exact once Redis answers again. It
// never fails: a settlement Redis cannot take is logged and lost.
func (t *TokenLimiter) Settle(ctx context.Context, res TokenReservation, used int64, charges []int64) {
	delta := used - res.tokens
	charged := false
	for _, c := range charges {
		charged = charged || c != 0
	}
	if (delta == 0 || len(res.limits) == 0) && !charged {
		return
	}
	t.local.settle(res.key, res.limits, res.budgets, delta, charges)
	if t.redis == nil {
		return
	}
	if res.local {
		delta = used // Redis never saw the reservation
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(t.timeout, MinSettleTimeout))
	defer cancel()
	keys := t.keys(res.key, res.limits, res.budgets)
	args := make([]any, 0, 2+len(res.limits)+2*len(res.budgets))
	args = append(args, delta, len(res.limits))
	for _, l := range res.limits {
		args = append(args, strconv.FormatFloat(emissionMicros(l), 'f', -1, 64))
	}
	for i, b := range res.budgets {
		var c int64
		if i < len(charges) {
			c = charges[i]
		}
		args = append(args, c, int64(b.TTL/time.Second)+1)
	}
	if err := settleScript.Run(ctx, t.redis, keys, args...).Err(); err != nil {
		t.failed(err)
	}
}

// reserveOutcome is what a reservation script answers.
type reserveOutcome struct {
	allowed    bool
	untilFull  []int64 // per bucket, µs
	overBudget int     // -1: none
	used       int64
}

func (t *TokenLimiter) runReserve(ctx context.Context, key string, limits []Limit, budgets []Budget, tokens int64) (reserveOutcome, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	args := make([]any, 0, 2+2*len(limits)+len(budgets))
	args = append(args, tokens, len(limits))
	for _, l := range limits {
		args = append(args, strconv.FormatFloat(emissionMicros(l), 'f', -1, 64), l.Capacity())
	}
	for _, b := range budgets {
		args = append(args, b.Limit)
	}
	vals, err := reserveScript.Run(ctx, t.redis, t.keys(key, limits, budgets), args...).Int64Slice()
	if err != nil {
		return reserveOutcome{}, err
	}
	if len(vals) != len(limits)+3 {
		return reserveOutcome{}, errors.New("token reservation script: unexpected answer")
	}
	return reserveOutcome{
		allowed:    vals[0] == 1,
		untilFull:  vals[1 : 1+len(limits)],
		overBudget: int(vals[1+len(limits)]) - 1,
		used:       vals[2+len(limits)],
	}, nil
}

// keys returns the Redis keys of the buckets, then of the budgets. The
// caller's key carries the hash tag that keeps them on one cluster node.
func (t *TokenLimiter) keys(key string, limits []Limit, budgets []Budget) []string {
	keys := make([]string, 0, len(limits)+len(budgets))
	for _, l := range limits {
		keys = append(keys, t.prefix+key+":"+l.String())
	}
	for _, b := range budgets {
		keys = append(keys, t.prefix+b.Key)
	}
	return keys
}

func emissionMicros(l Limit) float64 {
	return float64(l.Period.Microseconds()) / float64(l.Rate)
}

// tokenResult turns a script's answer into the decision.
func tokenResult(limits []Limit, tokens int64, out reserveOutcome) TokenResult {
	if out.overBudget >= 0 {
		return TokenResult{OverBudget: out.overBudget, Used: out.used}
	}
	if len(limits) == 0 {
		return TokenResult{Allowed: out.allowed, OverBudget: -1}
	}
	pick := 0
	var retry float64
	if !out.allowed {
		for i, l := range limits {
			e := emissionMicros(l)
			if tokens > int64(l.Capacity()) {
				return TokenResult{Limit: int64(l.Capacity()), Remaining: remainingTokens(l, out.untilFull[i]),
					Reset: time.Duration(out.untilFull[i]) * time.Microsecond, TooLarge: true, OverBudget: -1}
			}
			wait := float64(out.untilFull[i]) + float64(tokens)*e - float64(l.Capacity())*e
			if wait > retry {
				retry, pick = wait, i
			}
		}
	}
	l := limits[pick]
	return TokenResult{
		Allowed:    out.allowed,
		Limit:      int64(l.Capacity()),
		Remaining:  remainingTokens(l, out.untilFull[pick]),
		Reset:      time.Duration(out.untilFull[pick]) * time.Microsecond,
		RetryAfter: time.Duration(math.Ceil(retry)) * time.Microsecond,
		OverBudget: -1,
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

// reserveScript: KEYS are the k token buckets, then the budget counters;
// ARGV[1] the tokens, ARGV[2] k, then per bucket its emission interval (µs
// per token) and capacity, then per budget its ceiling. Each bucket holds
// its theoretical arrival time (µs, Redis clock). It answers {1 or 0, then
// per bucket µs until full (after the reservation when allowed, as it
// stands when refused), then the 1-based index of the budget at its
// ceiling (0: none) and that budget's counter}.
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local k = tonumber(ARGV[2])
for j = k + 1, #KEYS do
	local used = tonumber(redis.call('GET', KEYS[j]) or 0)
	if used >= tonumber(ARGV[2 + 2 * k + j - k]) then
		local out = {0}
		for i = 1, k do out[i + 1] = 0 end
		out[k + 2] = j - k
		out[k + 3] = used
		return out
	end
end
local tats = {}
local ok = 1
for i = 1, k do
	local e = tonumber(ARGV[1 + 2 * i])
	local burst = tonumber(ARGV[2 + 2 * i])
	local tat = tonumber(redis.call('GET', KEYS[i]) or now)
	if tat < now then tat = now end
	tats[i] = tat
	if tat + n * e - burst * e > now then ok = 0 end
end
local out = {ok}
for i = 1, k do
	local tat = tats[i]
	if ok == 1 then
		tat = math.floor(tat + n * tonumber(ARGV[1 + 2 * i]))
		redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', math.floor((tat - now) / 1000) + 1)
	end
	out[i + 1] = tat - now
end
out[k + 2] = 0
out[k + 3] = 0
return out
`)

// settleScript: KEYS are the k token buckets, then the budget counters;
// ARGV[1] the tokens to charge to the buckets (negative: to refund),
// ARGV[2] k, then per bucket its emission interval, then per budget the
// amount to add and the counter's lifetime in seconds.
var settleScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local d = tonumber(ARGV[1])
local k = tonumber(ARGV[2])
if d ~= 0 then
	for i = 1, k do
		local e = tonumber(ARGV[2 + i])
		local tat = tonumber(redis.call('GET', KEYS[i]) or now)
		if tat < now then tat = now end
		tat = math.floor(tat + d * e)
		if tat <= now then
			redis.call('DEL', KEYS[i])
		else
			redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', math.floor((tat - now) / 1000) + 1)
		end
	end
end
for j = k + 1, #KEYS do
	local a = tonumber(ARGV[2 + k + 2 * (j - k) - 1])
	if a ~= 0 then
		redis.call('INCRBY', KEYS[j], a)
		if redis.call('TTL', KEYS[j]) < 0 then
			redis.call('EXPIRE', KEYS[j], tonumber(ARGV[2 + k + 2 * (j - k)]))
		end
	end
end
return 1
`)

// localTokens are the in-process token buckets and budget counters: the
// same rules on this node's clock.
type localTokens struct {
	mu        sync.Mutex
	epoch     time.Time
	tat       map[string]int64 // µs since epoch
	spent     map[string]localSpent
	nextSweep int64
}

type localSpent struct {
	used    int64
	expires int64 // µs since epoch
}

func newLocalTokens() *localTokens {
	return &localTokens{epoch: time.Now(), tat: make(map[string]int64), spent: make(map[string]localSpent)}
}

func (l *localTokens) now() int64 { return time.Since(l.epoch).Microseconds() }

func localKey(key string, lim Limit) string { return key + "\x00" + lim.String() }

func (l *localTokens) reserve(key string, limits []Limit, budgets []Budget, n int64) reserveOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	out := reserveOutcome{allowed: true, overBudget: -1, untilFull: make([]int64, len(limits))}
	for i, b := range budgets {
		if s, ok := l.spent[b.Key]; ok && s.expires > now && s.used >= b.Limit {
			return reserveOutcome{overBudget: i, used: s.used, untilFull: out.untilFull}
		}
	}
	for i, lim := range limits {
		e := emissionMicros(lim)
		tat := max(l.tat[localKey(key, lim)], now)
		out.untilFull[i] = tat
		if float64(tat)+float64(n)*e-float64(lim.Capacity())*e > float64(now) {
			out.allowed = false
		}
	}
	for i, lim := range limits {
		if out.allowed {
			out.untilFull[i] = int64(math.Floor(float64(out.untilFull[i]) + float64(n)*emissionMicros(lim)))
			l.tat[localKey(key, lim)] = out.untilFull[i]
		}
		out.untilFull[i] -= now
	}
	l.sweep(now)
	return out
}

func (l *localTokens) settle(key string, limits []Limit, budgets []Budget, delta int64, charges []int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if delta != 0 {
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
	for i, b := range budgets {
		if i >= len(charges) || charges[i] == 0 {
			continue
		}
		s, ok := l.spent[b.Key]
		if !ok || s.expires <= now {
			s = localSpent{expires: now + b.TTL.Microseconds()}
		}
		s.used += charges[i]
		l.spent[b.Key] = s
	}
}

// sweep drops full buckets and past budget counters once a minute. The
// caller holds mu.
func (l *localTokens) sweep(now int64) {
	if now < l.nextSweep {
		return
	}
	for k, tat := range l.tat {
		if tat <= now {
			delete(l.tat, k)
		}
	}
	for k, s := range l.spent {
		if s.expires <= now {
			delete(l.spent, k)
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
