package usage

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/ratelimit"
	"github.com/caddy-llm/gateway/store"
)

// DefaultMaxTokens is what a request reserves for its answer when neither
// it (max_tokens) nor its model (max_output_tokens) bounds it.
const DefaultMaxTokens = 4096

// OpenAI's token rate-limit headers, which its SDKs understand.
const (
	HeaderLimitTokens     = "X-Ratelimit-Limit-Tokens"
	HeaderRemainingTokens = "X-Ratelimit-Remaining-Tokens"
	HeaderResetTokens     = "X-Ratelimit-Reset-Tokens"
)

// Quota is a chat.Quota enforcing, before a request goes upstream: an API
// key's model scope (404 model_not_found), token rate limits per principal
// tier and per key (429 rate_limit_exceeded), and budgets per user and per
// key (429 insufficient_quota). Limits set in the store (Limits) override
// the configured defaults.
type Quota struct {
	// Tokens keeps the token buckets. Required.
	Tokens *ratelimit.TokenLimiter
	// Tiers maps principal kinds (guest, user, api_key) to their token
	// limits, sorted by ratelimit.SortTokenLimits; a kind without limits is
	// not limited.
	Tiers map[string][]ratelimit.Limit
	// Prefix keeps these buckets apart from other configs' (a reload that
	// changes a limit starts fresh buckets).
	Prefix string
	// DefaultMaxTokens is reserved for an answer nothing else bounds
	// (default DefaultMaxTokens).
	DefaultMaxTokens int
	// OnDecision, when set, counts each decision.
	OnDecision func(allowed, degraded bool)
	// Budgets are the default budgets.
	Budgets []BudgetRule
	// Prices cost the requests for cost budgets.
	Prices map[string]Price
	// Limits, when set, holds the limits operators and users set on users
	// and keys (see LimitCache).
	Limits *LimitCache
}

// Admit implements chat.Quota.
func (q *Quota) Admit(w http.ResponseWriter, r *http.Request, req chat.QuotaRequest) (func(*chat.Outcome), *apierr.Error) {
	p := principal.From(r.Context())
	if p == nil {
		return nil, nil
	}
	var userLimits, keyLimits store.UsageLimits
	if q.Limits != nil {
		userLimits = q.Limits.Get(r.Context(), p.UserID, 0)
		if p.Kind == principal.KindAPIKey {
			keyLimits = q.Limits.Get(r.Context(), p.UserID, p.APIKeyID)
			if len(keyLimits.Models) > 0 && !slices.Contains(keyLimits.Models, req.Model) {
				return nil, ErrModelNotFound(req.Model)
			}
		}
	}
	limits := q.Tiers[p.Kind]
	if keyLimits.TokensPerMinute > 0 {
		own := ratelimit.Limit{Name: "tokens/key", Rate: int(min(keyLimits.TokensPerMinute, 1<<31-1)), Period: time.Minute}
		if !slices.ContainsFunc(limits, func(l ratelimit.Limit) bool { return l.String() == own.String() }) {
			limits = append(slices.Clip(limits), own)
			_ = ratelimit.SortTokenLimits(limits)
		}
	}
	budgets, rules := q.budgets(p, userLimits, keyLimits)
	if len(limits) == 0 && len(budgets) == 0 {
		return nil, nil // nothing to reserve or settle
	}
	maxTokens := req.MaxTokens
	if req.NoOutput {
		maxTokens = 0
	} else if maxTokens <= 0 {
		maxTokens = q.DefaultMaxTokens
		if maxTokens <= 0 {
			maxTokens = DefaultMaxTokens
		}
	}
	estimate := int64(req.PromptTokens) + int64(maxTokens)
	tag := "{" + p.UserPublicID + "}:"
	resv, res, err := q.Tokens.Reserve(r.Context(), tag+q.Prefix+ratelimit.PrincipalKey(p), limits, estimate, budgets)
	if q.OnDecision != nil {
		q.OnDecision(res.Allowed, err != nil || res.Degraded)
	}
	if err != nil {
		return nil, ratelimit.UnavailableError()
	}
	if res.OverBudget >= 0 {
		return nil, rules[res.OverBudget].exceeded()
	}
	if len(limits) > 0 {
		writeTokenHeaders(w.Header(), res)
	}
	if !res.Allowed {
		if res.TooLarge {
			return nil, apierr.New(http.StatusTooManyRequests, "rate_limit_exceeded",
				"Request too large: it may take "+strconv.FormatInt(estimate, 10)+" tokens (prompt and max_tokens), more than the limit of "+
					strconv.FormatInt(res.Limit, 10)+" tokens. Lower max_tokens or shorten the prompt.")
		}
		w.Header().Set("Retry-After", strconv.FormatInt(max(int64((res.RetryAfter+time.Second-1)/time.Second), 1), 10))
		return nil, apierr.New(http.StatusTooManyRequests, "rate_limit_exceeded",
			"Token rate limit exceeded: "+strconv.FormatInt(res.Remaining, 10)+" of "+strconv.FormatInt(res.Limit, 10)+
				" tokens left, this request may take "+strconv.FormatInt(estimate, 10)+". Retry after "+ratelimit.ResetDuration(res.RetryAfter)+".")
	}
	return func(o *chat.Outcome) {
		t := Metered(o)
		var charges []int64
		if len(rules) > 0 {
			charges = make([]int64, len(rules))
			cost := q.Prices[o.Model].CostNanos(t.Prompt, t.Completion)
			for i, rule := range rules {
				charges[i] = t.Total()
				if rule.Cost {
					charges[i] = cost
				}
			}
		}
		// Settle bounds its own Redis call, on a context that outlives
		// the request's.
		q.Tokens.Settle(r.Context(), resv, t.Total(), charges)
	}, nil
}

// ModelVisible reports whether the caller of r may use the model: false
// only for an API key restricted to other models. /v1/models lists only
// those.
func (q *Quota) ModelVisible(r *http.Request, model string) bool {
	p := principal.From(r.Context())
	if p == nil || p.Kind != principal.KindAPIKey || q.Limits == nil {
		return true
	}
	models := q.Limits.Get(r.Context(), p.UserID, p.APIKeyID).Models
	return len(models) == 0 || slices.Contains(models, model)
}

// ErrModelNotFound is OpenAI's answer for a model a key may not use: the
// same as for one that does not exist.
func ErrModelNotFound(model string) *apierr.Error {
	e := apierr.New(http.StatusNotFound, "model_not_found", "The model `"+model+"` does not exist or you do not have access to it.")
	e.Param = "model"
	return e
}

func writeTokenHeaders(h http.Header, res ratelimit.TokenResult) {
	h.Set(HeaderLimitTokens, strconv.FormatInt(res.Limit, 10))
	h.Set(HeaderRemainingTokens, strconv.FormatInt(res.Remaining, 10))
	h.Set(HeaderResetTokens, ratelimit.ResetDuration(res.Reset))
}

var _ chat.Quota = (*Quota)(nil)
