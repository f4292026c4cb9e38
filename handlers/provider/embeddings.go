package provider

import (
	"context"
	"errors"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

// Embedder is implemented by providers that can turn texts into embedding
// vectors (POST /v1/embeddings). It is optional: a provider that cannot embed
// does not implement it, or returns ErrNoEmbeddings (a wrapper that forwards
// to a provider which does not), and the router then tries the model's other
// deployments.
type Embedder interface {
	Embeddings(ctx context.Context, req *EmbeddingRequest) (*Embeddings, error)
}

// ErrNoEmbeddings is returned by an Embedder whose provider cannot embed.
var ErrNoEmbeddings = errors.New("the provider does not serve embeddings")

// EmbeddingRequest is one embeddings call as providers see it.
type EmbeddingRequest struct {
	// Inputs are the texts to embed, at least one; the answer has one
	// vector per input, in order.
	Inputs []string
	// Dimensions asks for vectors of this length (models that support it
	// shorten theirs); zero means the model's own.
	Dimensions int
	// Model is the public model being served.
	Model *Model
	// UpstreamModel is the deployment's name for the model. The Router sets
	// it before each attempt.
	UpstreamModel string
	// TraceParent, TraceState and RequestID are propagated upstream when
	// set, as for chat.
	TraceParent, TraceState, RequestID string
}

// Embeddings is the answer to an EmbeddingRequest.
type Embeddings struct {
	// Vectors holds one vector per input, in the order of the inputs.
	Vectors [][]float32
	// PromptTokens is the upstream's count of input tokens (0 when it gave
	// none).
	PromptTokens int
}

// CodeNoEmbeddings is the error code of an embeddings request for a model
// that no deployment can embed with.
const CodeNoEmbeddings = "model_not_embedding"

// ErrModelCannotEmbed is the client's error for a model none of whose
// deployments serves embeddings: a 400 naming "model", as for any model
// that cannot serve a request.
func ErrModelCannotEmbed(model string) *apierr.Error {
	return apierr.Invalid("model", CodeNoEmbeddings, "the model "+quoteShort(model)+" does not serve embeddings")
}

func quoteShort(s string) string {
	const maxShown = 128
	if len(s) > maxShown {
		s = s[:maxShown] + "…"
	}
	return `"` + s + `"`
}

// Embeddings sends an embeddings request to the model's deployments in
// routing order, skipping those whose provider cannot embed and moving to
// the next on a retryable failure. When no deployment can embed, the error
// is an *Error of KindBadRequest whose APIError is ErrModelCannotEmbed.
// Other failures are *Error as for chat.
func (r *Router) Embeddings(ctx context.Context, req *EmbeddingRequest) (*Embeddings, Attempt, error) {
	var (
		buf     [maxInlineDeployments]*deployment
		att     Attempt
		outcome failover
	)
	for _, d := range req.Model.order(time.Now().UnixNano(), &buf) {
		e, ok := d.provider.(Embedder)
		if !ok {
			continue
		}
		att = Attempt{Provider: d.providerID, UpstreamModel: d.upstream, Tries: att.Tries + 1}
		req.UpstreamModel = d.upstream
		start := time.Now()
		out, err := e.Embeddings(ctx, req)
		att.Latency = time.Since(start)
		if errors.Is(err, ErrNoEmbeddings) {
			att.Tries--
			continue
		}
		if err == nil {
			d.health.succeeded()
			return out, att, nil
		}
		// failed only reads the model of the request, for its log line.
		if stop := r.failed(ctx, d, &Request{Model: req.Model}, &outcome, err); stop {
			break
		}
	}
	if outcome.n == 0 {
		m := ErrModelCannotEmbed(req.Model.ID)
		return nil, att, &Error{Kind: KindBadRequest, Message: m.Message, Code: m.Code, Param: m.Param, Err: ErrNoEmbeddings}
	}
	return nil, att, outcome.result()
}
