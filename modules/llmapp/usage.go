package llmapp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/ratelimit"
	"github.com/caddy-llm/gateway/handlers/usage"
)

// UsageConfig configures usage metering, the usage API and token limits.
// Without it metering is on with its defaults and nothing is limited.
type UsageConfig struct {
	// Disabled turns metering off: no records, no usage API data.
	Disabled bool `json:"disabled,omitempty"`
	// FlushInterval is how often buffered records are written (default
	// 1s).
	FlushInterval caddy.Duration `json:"flush_interval,omitempty"`
	// MaxBuffer bounds the records waiting to be written, per process
	// (default 100000); while the database is down, records beyond it are
	// dropped and counted.
	MaxBuffer int `json:"max_buffer,omitempty"`
	// Retention is how long records are kept (default 90 days);
	// AggregateRetention how long their hourly aggregates, which the usage
	// API reads, are (default 400 days). Negative keeps them.
	Retention          caddy.Duration `json:"retention,omitempty"`
	AggregateRetention caddy.Duration `json:"aggregate_retention,omitempty"`
	// RetentionInterval is how often retention runs (default 1h), one
	// replica at a time.
	RetentionInterval caddy.Duration `json:"retention_interval,omitempty"`
	// Prices are the models' prices by public model id, per million
	// tokens; a model without one costs nothing.
	Prices map[string]PriceConfig `json:"prices,omitempty"`
	// AdminRole is the role an OIDC token must carry to read anyone's
	// usage at /v1/admin/usage. Empty: the admin route is closed.
	AdminRole string `json:"admin_role,omitempty"`
	// TokenLimits are the token rate limits of each principal kind
	// (guest, user, api_key), each like "100000/min" or "2000000/day". A
	// request reserves its prompt estimate plus its max_tokens before the
	// upstream call and settles to the real usage after it.
	TokenLimits map[string][]string `json:"token_limits,omitempty"`
	// DefaultMaxTokens is what a request reserves for its answer when
	// neither its max_tokens nor its model's max_output_tokens bounds it
	// (default 4096).
	DefaultMaxTokens int `json:"default_max_tokens,omitempty"`
	// TokenLimitsFailClosed refuses requests with 503 while Redis cannot
	// decide; the default decides them with in-process buckets.
	TokenLimitsFailClosed bool `json:"token_limits_fail_closed,omitempty"`
	// Budgets are the default budgets per user and per API key; operators
	// override them per user or key through /v1/admin/usage/limits, and
	// users lower them on their own keys.
	Budgets []BudgetConfig `json:"budgets,omitempty"`
}

// BudgetConfig is a default budget: Amount tokens or cost (in the prices'
// unit) per UTC day or month, on each user or on each API key.
type BudgetConfig struct {
	// Scope is "user" or "api_key".
	Scope string `json:"scope"`
	// Kind is "tokens" or "cost".
	Kind   string  `json:"kind"`
	Amount float64 `json:"amount"`
	// Period is "day" or "month".
	Period string `json:"period"`
}

func (b BudgetConfig) rule() (usage.BudgetRule, error) {
	r := usage.BudgetRule{Scope: b.Scope, Period: b.Period, Cost: b.Kind == "cost"}
	switch {
	case b.Scope != usage.ScopeUser && b.Scope != usage.ScopeAPIKey:
		return r, fmt.Errorf("usage: budget scope %q (want user or api_key)", b.Scope)
	case b.Kind != "tokens" && b.Kind != "cost":
		return r, fmt.Errorf("usage: budget kind %q (want tokens or cost)", b.Kind)
	case b.Period != usage.PeriodDay && b.Period != usage.PeriodMonth:
		return r, fmt.Errorf("usage: budget period %q (want day or month)", b.Period)
	case b.Amount <= 0 || b.Amount > 1e12:
		return r, fmt.Errorf("usage: budget amount %v out of range", b.Amount)
	}
	r.Amount = int64(b.Amount)
	if r.Cost {
		r.Amount = int64(b.Amount * 1e9)
	}
	return r, nil
}

// PriceConfig is a model's price per million tokens.
type PriceConfig struct {
	Input  float64 `json:"input"`
	Output float64 `json:"output"`
}

// usageWriterPool holds one usage writer per store for the life of the
// configs that use it: a reload that keeps the store keeps the writer and
// its buffer, so no record is lost or written twice; the writer is flushed
// and stopped when the last config using it is released.
var usageWriterPool = caddy.NewUsagePool()

// usageWriterKey identifies a writer: its store and settings.
type usageWriterKey struct {
	Store             storeKey
	FlushInterval     time.Duration
	MaxBuffer         int
	Retention         time.Duration
	AggregateRet      time.Duration
	RetentionInterval time.Duration
}

type pooledWriter struct{ *usage.Writer }

func (p pooledWriter) Destruct() error { return p.Writer.Close() }

// usageState is what an app holds of metering.
type usageState struct {
	writerKey *usageWriterKey // set while a writer is acquired
	recorder  *usage.Recorder
	quota     *usage.Quota
}

// provisionUsage acquires the writer and builds the recorder and the token
// limits.
func (a *App) provisionUsage(ctx caddy.Context) error {
	c := a.Usage
	if c == nil {
		c = new(UsageConfig)
	}
	if err := usageMetrics.register(ctx); err != nil {
		return fmt.Errorf("registering usage metrics: %w", err)
	}
	if !c.Disabled {
		key := usageWriterKey{
			Store:             a.storeKey,
			FlushInterval:     time.Duration(c.FlushInterval),
			MaxBuffer:         c.MaxBuffer,
			Retention:         time.Duration(c.Retention),
			AggregateRet:      time.Duration(c.AggregateRetention),
			RetentionInterval: time.Duration(c.RetentionInterval),
		}
		st := a.store
		logger := a.logger.Named("usage")
		val, _, err := usageWriterPool.LoadOrNew(key, func() (caddy.Destructor, error) {
			return pooledWriter{usage.NewWriter(usage.WriterConfig{
				Store:              st,
				FlushInterval:      key.FlushInterval,
				MaxBuffer:          key.MaxBuffer,
				RecordRetention:    key.Retention,
				AggregateRetention: key.AggregateRet,
				RetentionInterval:  key.RetentionInterval,
				Logger:             logger,
				OnBatch:            usageMetrics.batch,
				OnDrop:             usageMetrics.drop,
			})}, nil
		})
		if err != nil {
			return fmt.Errorf("starting the usage writer: %w", err)
		}
		a.usage.writerKey = &key
		w := val.(pooledWriter).Writer
		usageMetrics.watch(w)
		prices, err := a.prices(c)
		if err != nil {
			return err
		}
		a.usage.recorder = &usage.Recorder{Writer: w, Prices: prices, OnRecord: usageMetrics.record}
	}
	return a.provisionQuota(c)
}

// prices returns the models' prices: a model block's price, and the usage
// block's, which takes precedence.
func (a *App) prices(c *UsageConfig) (map[string]usage.Price, error) {
	prices := make(map[string]usage.Price, len(c.Prices))
	add := func(model string, p PriceConfig) error {
		if p.Input < 0 || p.Output < 0 {
			return fmt.Errorf("price of %s: prices cannot be negative", model)
		}
		prices[model] = usage.Price{InputPerMillion: p.Input, OutputPerMillion: p.Output}
		return nil
	}
	for _, m := range a.Models {
		if m.Price != nil {
			if err := add(m.ID, *m.Price); err != nil {
				return nil, err
			}
		}
	}
	for model, p := range c.Prices {
		if err := add(model, p); err != nil {
			return nil, err
		}
	}
	return prices, nil
}

// provisionQuota builds the quota: token limits, budgets, key scopes.
func (a *App) provisionQuota(c *UsageConfig) error {
	tiers := make(map[string][]ratelimit.Limit)
	kinds := make([]string, 0, len(c.TokenLimits))
	for kind, specs := range c.TokenLimits {
		switch kind {
		case principal.KindGuest, principal.KindUser, principal.KindAPIKey:
		default:
			return fmt.Errorf("usage: token limits of unknown tier %q (want guest, user or api_key)", kind)
		}
		var limits []ratelimit.Limit
		for _, spec := range specs {
			l, err := ratelimit.ParseLimit(spec)
			if err != nil {
				return fmt.Errorf("usage: token limit of %s: %w", kind, err)
			}
			l.Name = "tokens/" + kind
			limits = append(limits, l)
		}
		if len(limits) == 0 {
			continue
		}
		if err := ratelimit.SortTokenLimits(limits); err != nil {
			return fmt.Errorf("usage: token limit of %s: %w", kind, err)
		}
		tiers[kind] = limits
		kinds = append(kinds, kind)
	}
	var budgets []usage.BudgetRule
	for _, b := range c.Budgets {
		r, err := b.rule()
		if err != nil {
			return err
		}
		budgets = append(budgets, r)
	}
	prices, err := a.prices(c)
	if err != nil {
		return err
	}
	// The limits are part of the bucket keys: a reload that changes them
	// starts from fresh buckets, as the request limits do.
	sort.Strings(kinds)
	sum := sha256.New()
	for _, kind := range kinds {
		for _, l := range tiers[kind] {
			fmt.Fprintf(sum, "%s=%s;", kind, l)
		}
	}
	a.usage.quota = &usage.Quota{
		Tokens:           a.tokenLimiter(c.TokenLimitsFailClosed),
		Tiers:            tiers,
		Prefix:           hex.EncodeToString(sum.Sum(nil)[:4]) + ":",
		DefaultMaxTokens: c.DefaultMaxTokens,
		OnDecision: func(allowed, degraded bool) {
			metrics.RateLimitDecision("tokens", allowed, degraded)
		},
		Budgets: budgets,
		Prices:  prices,
		Limits:  &usage.LimitCache{Store: a.store, Logger: a.logger.Named("usage")},
	}
	if c.TokenLimitsFailClosed {
		a.RequireRedis()
	}
	return nil
}

// Token limiters live as long as the process, one per Redis client and
// policy, so that in-process buckets survive reloads.
var (
	tokenLimitersMu sync.Mutex
	tokenLimiters   = map[tokenLimiterKey]*ratelimit.TokenLimiter{}
)

// tokenLimiterKey is the Redis client itself (nil: none), not its settings:
// a client closed by the Redis pool is never reused.
type tokenLimiterKey struct {
	redis      redis.UniversalClient
	failClosed bool
}

func (a *App) tokenLimiter(failClosed bool) *ratelimit.TokenLimiter {
	key := tokenLimiterKey{a.redis, failClosed}
	tokenLimitersMu.Lock()
	defer tokenLimitersMu.Unlock()
	if tl := tokenLimiters[key]; tl != nil {
		return tl
	}
	policy := ratelimit.FailOpen
	if failClosed {
		policy = ratelimit.FailClosed
	}
	tl := ratelimit.NewTokenLimiter(ratelimit.TokenLimiterOptions{
		Redis:   a.redis,
		Timeout: a.redisKey.Timeout,
		Policy:  policy,
		Logger:  a.logger.Named("tokens"),
		OnError: metrics.RateLimitError,
	})
	tokenLimiters[key] = tl
	return tl
}

// releaseUsage stops using the writer; the last config to let go of it
// flushes it. It runs before the store is released.
func (a *App) releaseUsage() {
	if a.usage.writerKey != nil {
		_, _ = usageWriterPool.Delete(*a.usage.writerKey)
		a.usage.writerKey = nil
	}
}

// UsageObserver returns the usage recorder, a chat.Observer, or nil when
// metering is off.
func (a *App) UsageObserver() chat.Observer {
	if a.usage.recorder == nil {
		return nil
	}
	return a.usage.recorder
}

// ModelVisible reports whether the caller of r may use the model (API
// keys may be restricted to some models).
func (a *App) ModelVisible(r *http.Request, model string) bool {
	return a.usage.quota == nil || a.usage.quota.ModelVisible(r, model)
}

// Quota returns the quota (token limits, budgets, key scopes), a
// chat.Quota.
func (a *App) Quota() chat.Quota {
	if a.usage.quota == nil {
		return nil
	}
	return a.usage.quota
}

// UsageAPI returns the usage API's routes.
func (a *App) UsageAPI() *usage.Handler {
	h := &usage.Handler{Store: a.store, Logger: a.logger.Named("usage"), Quota: a.usage.quota}
	if a.Usage != nil {
		h.AdminRole = a.Usage.AdminRole
	}
	if a.Auth != nil && a.Auth.OIDC.jwksURL() != "" {
		h.OIDCIssuer = a.Auth.OIDC.Issuer
	}
	return h
}
