package usage

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/ratelimit"
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

// Quota is a chat.Quota enforcing token rate limits per principal tier.
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
}

// Admit implements chat.Quota.
func (q *Quota) Admit(w http.ResponseWriter, r *http.Request, req chat.QuotaRequest) (func(*chat.Outcome), *apierr.Error) {
	p := principal.From(r.Context())
	if p == nil {
		return nil, nil
	}
	limits := q.Tiers[p.Kind]
	if len(limits) == 0 {
		return nil, nil
	}
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = q.DefaultMaxTokens
		if maxTokens <= 0 {
			maxTokens = DefaultMaxTokens
		}
	}
	estimate := int64(req.PromptTokens) + int64(maxTokens)
	resv, res, err := q.Tokens.Reserve(r.Context(), q.Prefix+ratelimit.PrincipalKey(p), limits, estimate)
	if q.OnDecision != nil {
		q.OnDecision(res.Allowed, err != nil || res.Degraded)
	}
	if err != nil {
		return nil, ratelimit.UnavailableError()
	}
	writeTokenHeaders(w.Header(), res)
	if !res.Allowed {
		if res.TooLarge {
			return nil, apierr.New(http.StatusTooManyRequests, "rate_limit_exceeded",
				"Request too large: it may take "+strconv.FormatInt(estimate, 10)+" tokens (prompt and max_tokens), more than the limit of "+
					strconv.FormatInt(res.Limit, 10)+" tokens. Lower max_tokens or shorten the prompt.")
		}
		w.Header().Set("Retry-After", strconv.FormatInt(max(int64((res.RetryAfter+time.Second-1)/time.Second), 1), 10))
		return nil, apierr.New(http.StatusTooManyRequests, "rate_limit_exceeded",
			"Token rate limit exceeded: "+strconv.FormatInt(res.Remaining, 10)+" of "+strconv.FormatInt(res.Limit, 10)+
				" tokens left, this request may take "+strconv.FormatInt(estimate, 10)+". Retry after "+formatReset(res.RetryAfter)+".")
	}
	return func(o *chat.Outcome) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Second)
		defer cancel()
		q.Tokens.Settle(ctx, resv, Metered(o).Total())
	}, nil
}

func writeTokenHeaders(h http.Header, res ratelimit.TokenResult) {
	h.Set(HeaderLimitTokens, strconv.FormatInt(res.Limit, 10))
	h.Set(HeaderRemainingTokens, strconv.FormatInt(res.Remaining, 10))
	h.Set(HeaderResetTokens, formatReset(res.Reset))
}

// formatReset writes a duration as OpenAI's reset headers do ("1s",
// "6m0s", "250ms").
func formatReset(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatInt(max(d.Milliseconds(), 0), 10) + "ms"
	}
	return d.Round(time.Second).String()
}

var _ chat.Quota = (*Quota)(nil)
