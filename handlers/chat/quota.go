package chat

import (
	"net/http"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

// Quota admits requests against what a caller may spend (token rate limits,
// budgets, an API key's model list) before they go upstream, and settles
// each admitted request once its answer has ended. handlers/usage
// implements it; other handlers that call models (the Responses API) use the
// same implementation the same way.
type Quota interface {
	// Admit decides a request of the authenticated caller of r. It may set
	// response headers on w (x-ratelimit-*-tokens). It returns an error in
	// the spec's shape to refuse the request (404 model_not_found, 429
	// rate_limit_exceeded or insufficient_quota, 503); otherwise settle,
	// when not nil, must be called exactly once with the request's outcome
	// when its answer has ended, whatever happened.
	Admit(w http.ResponseWriter, r *http.Request, q QuotaRequest) (settle func(*Outcome), aerr *apierr.Error)
}

// QuotaRequest describes a request to admit.
type QuotaRequest struct {
	// Model is the public model id.
	Model string
	// PromptTokens is an estimate of the prompt's tokens (see
	// EstimatePromptTokens).
	PromptTokens int
	// MaxTokens is the most the answer may take: the request's max_tokens,
	// else the model's max_output_tokens; zero when neither says.
	MaxTokens int
	// NoOutput reports a request whose answer takes no tokens (embeddings):
	// nothing is reserved for it, whatever MaxTokens says.
	NoOutput bool
}

// EstimatePromptTokens estimates the tokens of a prompt from the size of the
// request body that carries it: about four bytes a token, rounded up, which
// overestimates a JSON body's text a little. Reservations are settled to the
// upstream's own count afterwards; the estimate only bounds what a request
// may take before it is known.
func EstimatePromptTokens(bodyBytes int) int {
	return (bodyBytes + 3) / 4
}

// AdmitRequest admits a request with q, as every handler that calls a
// model does (chat completions, the Responses API, embeddings): it records
// the prompt's estimate in o (for metering an answer whose usage never came)
// and returns the settlement to defer, which settles the reservation with
// o's outcome. A nil q admits everything, and settle is then a no-op.
func AdmitRequest(q Quota, w http.ResponseWriter, r *http.Request, o *Outcome, req QuotaRequest) (settle func(), aerr *apierr.Error) {
	o.EstimatedPromptTokens = req.PromptTokens
	if q == nil {
		return noSettlement, nil
	}
	s, aerr := q.Admit(w, r, req)
	if aerr != nil || s == nil {
		return noSettlement, aerr
	}
	return func() { s(o) }, nil
}

func noSettlement() {}
