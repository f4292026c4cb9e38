package llmapi

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/modules/llmapp"
)

// chatObserver turns chat outcomes into metrics and access-log fields.
type chatObserver struct {
	metrics *llmapp.Metrics
}

func (chatObserver) FirstByte(*http.Request, *chat.Outcome) {}

// Done counts the request and adds model, provider and token counts to
// Caddy's access log entry of the request (never content or credentials).
func (o chatObserver) Done(r *http.Request, out *chat.Outcome) {
	var prompt, completion int
	if out.HasUsage {
		prompt, completion = out.Usage.PromptTokens, out.Usage.CompletionTokens
	}
	o.metrics.ChatRequest(out.Model, out.Provider, out.Status, out.Stream, prompt, completion,
		out.TimeToFirstByte.Seconds(), out.UpstreamLatency.Seconds())
	if extra, ok := r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
		extra.Add(zap.String("llm_model", out.Model))
		extra.Add(zap.String("llm_provider", out.Provider))
		extra.Add(zap.Int("llm_prompt_tokens", prompt))
		extra.Add(zap.Int("llm_completion_tokens", completion))
		if out.ErrorCode != "" {
			extra.Add(zap.String("llm_error", out.ErrorCode))
		}
	}
}

// observers returns the observers that are not nil, as one.
func observers(list ...chat.Observer) chat.Observer {
	var set multiObserver
	for _, o := range list {
		if o != nil {
			set = append(set, o)
		}
	}
	if len(set) == 1 {
		return set[0]
	}
	return set
}

// multiObserver tells every observer, in order.
type multiObserver []chat.Observer

func (m multiObserver) FirstByte(r *http.Request, o *chat.Outcome) {
	for _, x := range m {
		x.FirstByte(r, o)
	}
}

func (m multiObserver) Done(r *http.Request, o *chat.Outcome) {
	for _, x := range m {
		x.Done(r, o)
	}
}
