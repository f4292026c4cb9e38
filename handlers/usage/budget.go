package usage

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/ratelimit"
	"github.com/caddy-llm/gateway/store"
)

// Budget scopes, kinds and periods.
const (
	ScopeUser   = "user"
	ScopeAPIKey = "api_key"
	PeriodDay   = "day"
	PeriodMonth = "month"
)

// BudgetRule is a spending ceiling per UTC day or month, on a user (all its
// requests) or on each API key, in tokens or in cost.
//
// Budgets are checked before a request goes upstream and charged when it
// has ended: the request that crosses a ceiling is answered in full, and
// the next one is refused. The overshoot is therefore at most what the
// requests in flight at the crossing use (each bounded by its max_tokens).
type BudgetRule struct {
	Scope string // ScopeUser or ScopeAPIKey
	// Cost counts cost in nanos (of the prices' unit) instead of tokens.
	Cost   bool
	Period string // PeriodDay or PeriodMonth
	// Amount is the ceiling: tokens, or nanos.
	Amount int64
}

// exceeded is the 429 insufficient_quota of a rule.
func (b BudgetRule) exceeded() *apierr.Error {
	what := strconv.FormatInt(b.Amount, 10) + " tokens"
	if b.Cost {
		what = strconv.FormatFloat(float64(b.Amount)/1e9, 'f', -1, 64) + " in cost"
	}
	who := "your"
	if b.Scope == ScopeAPIKey {
		who = "this API key's"
	}
	return apierr.New(http.StatusTooManyRequests, "insufficient_quota",
		"You exceeded your current quota: "+who+" budget of "+what+" per "+b.Period+" is spent.")
}

// budgets returns the budgets that apply to p now, overrides first, and
// the rules they come from.
func (q *Quota) budgets(p *principal.Principal, user, key store.UsageLimits) ([]ratelimit.Budget, []BudgetRule) {
	var rules []BudgetRule
	rules = appendRules(rules, ScopeUser, q.Budgets, user)
	if p.Kind == principal.KindAPIKey {
		rules = appendRules(rules, ScopeAPIKey, q.Budgets, key)
	}
	if len(rules) == 0 {
		return nil, nil
	}
	now := time.Now().UTC()
	day, month := now.Format("20060102"), now.Format("200601")
	tag := "{" + p.UserPublicID + "}:bud:"
	out := make([]ratelimit.Budget, len(rules))
	for i, r := range rules {
		k := tag + "u"
		if r.Scope == ScopeAPIKey {
			k = tag + "k" + strconv.FormatInt(p.APIKeyID, 10)
		}
		kind := ":tokens:"
		if r.Cost {
			kind = ":cost:"
		}
		var end time.Time
		if r.Period == PeriodDay {
			k += kind + day
			end = time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
		} else {
			k += kind + month
			end = time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		}
		out[i] = ratelimit.Budget{Key: k, Limit: r.Amount, TTL: end.Sub(now) + 24*time.Hour}
	}
	return out, rules
}

// appendRules adds the rules of one scope: the override where one is set,
// else the default.
func appendRules(rules []BudgetRule, scope string, defaults []BudgetRule, o store.UsageLimits) []BudgetRule {
	overrides := [4]struct {
		cost   bool
		period string
		amount int64
	}{
		{false, PeriodDay, o.TokensPerDay}, {false, PeriodMonth, o.TokensPerMonth},
		{true, PeriodDay, o.CostNanosPerDay}, {true, PeriodMonth, o.CostNanosPerMonth},
	}
	for _, ov := range overrides {
		amount := ov.amount
		if amount == 0 {
			for _, d := range defaults {
				if d.Scope == scope && d.Cost == ov.cost && d.Period == ov.period {
					amount = d.Amount
				}
			}
		}
		if amount > 0 {
			rules = append(rules, BudgetRule{Scope: scope, Cost: ov.cost, Period: ov.period, Amount: amount})
		}
	}
	return rules
}

// DefaultLimitCacheTTL is how long a LimitCache keeps what it read: a
// change through the API reaches every replica within it.
const DefaultLimitCacheTTL = 2 * time.Second

// LimitCache reads the limits set on users and keys through a short
// cache, so that a request costs no database query. The replica that
// changes limits forgets its own copy at once.
type LimitCache struct {
	Store  store.UsageLimitStore
	TTL    time.Duration
	Logger *zap.Logger

	// mu guards entries: every request reads them (RLock, which does not
	// wait for other readers), a miss writes.
	mu      sync.RWMutex
	entries map[[2]int64]limitEntry
	group   singleflight.Group
	// lastWarn (Unix nanoseconds) keeps an outage to one warning per
	// ratelimit.DefaultLogInterval, not one per user and TTL.
	lastWarn atomic.Int64
}

type limitEntry struct {
	limits  store.UsageLimits
	expires time.Time
}

// maxLimitEntries bounds the cache; past it, it starts afresh.
const maxLimitEntries = 100_000

// limitLookupTimeout bounds the store query of a cache miss: a slow or
// down database must not hold a request; the last known limits (or the
// defaults) apply meanwhile.
const limitLookupTimeout = 250 * time.Millisecond

// Get returns the limits of the user (apiKeyID zero) or key; none set gives
// the zero value (the defaults apply). A store that fails gives the last
// known limits, kept for another TTL, so that an outage costs one query
// per user and TTL, not one per request. Concurrent misses share one query.
func (c *LimitCache) Get(ctx context.Context, userID, apiKeyID int64) store.UsageLimits {
	k := [2]int64{userID, apiKeyID}
	now := time.Now()
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.limits
	}
	v, _, _ := c.group.Do(strconv.FormatInt(userID, 10)+":"+strconv.FormatInt(apiKeyID, 10), func() (any, error) {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limitLookupTimeout)
		defer cancel()
		l, err := c.Store.GetUsageLimits(qctx, userID, apiKeyID)
		if err != nil && !isNotFound(err) {
			c.warn(err)
			l = e.limits
		}
		ttl := c.TTL
		if ttl <= 0 {
			ttl = DefaultLimitCacheTTL
		}
		c.mu.Lock()
		if c.entries == nil || len(c.entries) >= maxLimitEntries {
			c.entries = make(map[[2]int64]limitEntry)
		}
		c.entries[k] = limitEntry{limits: l, expires: time.Now().Add(ttl)}
		c.mu.Unlock()
		return l, nil
	})
	return v.(store.UsageLimits)
}

func (c *LimitCache) warn(err error) {
	now := time.Now().UnixNano()
	last := c.lastWarn.Load()
	if c.Logger == nil || now-last < int64(ratelimit.DefaultLogInterval) || !c.lastWarn.CompareAndSwap(last, now) {
		return
	}
	c.Logger.Warn("reading usage limits failed; the last known apply", zap.Error(err))
}

// Forget drops a cached entry after a change.
func (c *LimitCache) Forget(userID, apiKeyID int64) {
	c.mu.Lock()
	delete(c.entries, [2]int64{userID, apiKeyID})
	c.mu.Unlock()
}
