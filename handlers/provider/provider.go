// Package provider defines how the gateway talks to model providers: the
// Provider interface every upstream kind implements (sub-packages openai,
// anthropic, mock), the Router that maps public model ids to deployments and
// fails over between them, the error kinds upstream failures map to, and the
// transport and timeout helpers the HTTP providers share.
package provider

import (
	"context"
	"errors"

	"github.com/caddy-llm/gateway/handlers/openai"
)

// Provider is one configured upstream (an OpenAI-compatible server, the
// Anthropic API, the built-in mock). Implementations are safe for concurrent
// use. They never log request or response bodies nor credentials.
type Provider interface {
	// Info names the provider.
	Info() Info
	// ChatCompletion answers a request without stream. The completion's body
	// is a chat.completion whose model is req.Model.ID.
	ChatCompletion(ctx context.Context, req *Request) (*Completion, error)
	// ChatCompletionStream starts a streamed answer. It returns once the
	// upstream has accepted the request (HTTP 200); errors before that are
	// returned here, errors after it by Stream.Next. Cancelling ctx aborts
	// the upstream request at once.
	ChatCompletionStream(ctx context.Context, req *Request) (Stream, error)
}

// Info names a provider instance.
type Info struct {
	// ID is the unique name of the instance in the configuration ("vllm",
	// "openai", "anthropic", "mock"); deployments refer to it.
	ID string
	// Name is a display name for /v1/models/providers.
	Name string
	// Kind is the implementation: "openai", "anthropic" or "mock".
	Kind string
}

// ModelSource is implemented by providers that declare the models they serve
// from their configuration (a model map, built-in models).
type ModelSource interface {
	Models() []ModelSpec
}

// ModelDiscoverer is implemented by providers that can ask their upstream
// which models it serves (GET /v1/models). The Router calls it periodically.
type ModelDiscoverer interface {
	// DiscoverModels returns every model the provider serves now, declared
	// ones included. It returns ErrDiscoveryDisabled when the provider's
	// configuration turned discovery off.
	DiscoverModels(ctx context.Context) ([]ModelSpec, error)
}

// ErrDiscoveryDisabled is returned by DiscoverModels when discovery is off.
var ErrDiscoveryDisabled = errors.New("model discovery is disabled")

// ModelSpec describes one model as a provider serves it.
type ModelSpec struct {
	// ID is the public model id clients use.
	ID string
	// UpstreamID is the provider's name for the model; empty means ID.
	UpstreamID string
	// OwnedBy is the owned_by of /v1/models.
	OwnedBy string
	// Created is the created time of /v1/models (Unix seconds); 0 lets the
	// router choose.
	Created int64
	// DisplayName is a human name for catalogs; empty means ID.
	DisplayName string
	// ContextLength is the context window in tokens, 0 when unknown.
	ContextLength int
	// MaxOutputTokens is the largest max_tokens the model accepts, 0 when
	// unknown (the gateway then leaves the bound to the upstream).
	MaxOutputTokens int
	// Capabilities are what the model supports.
	Capabilities Capabilities
	// SupportedParameters lists the request parameters the model honours.
	SupportedParameters []string
}

// Capabilities are the features of a model shown in its catalog entry.
type Capabilities struct {
	Streaming bool `json:"streaming"`
	Tools     bool `json:"tools"`
	Vision    bool `json:"vision"`
	// VisionKnown reports that Vision is known rather than assumed: the
	// provider declares it, or the configuration sets it. Only a model
	// whose vision is known to be false has requests with images refused
	// before they go upstream; an OpenAI-compatible server's discovered
	// models say nothing about images, so their upstream decides.
	VisionKnown bool `json:"-"`
}

// DefaultSupportedParameters are the chat parameters every provider honours.
var DefaultSupportedParameters = []string{
	"max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
	"stream", "stream_options", "tools", "tool_choice",
}

// Request is one chat completion call as providers see it.
type Request struct {
	// Body is the client's JSON body, validated. Providers never change it.
	Body []byte
	// Chat is what validation learnt about Body.
	Chat *openai.ChatRequest
	// Model is the public model being served.
	Model *Model
	// UpstreamModel is the deployment's name for the model. The Router sets
	// it before each attempt.
	UpstreamModel string
	// TraceParent and TraceState are the W3C trace context headers of the
	// client's request, propagated upstream when set.
	TraceParent, TraceState string
	// RequestID is the gateway's request id (X-Request-Id), propagated.
	RequestID string
}

// Completion is the answer to a request without stream.
type Completion struct {
	// Body is a chat.completion JSON object whose model is the public id.
	Body []byte
	// Usage is the upstream's token count, valid when HasUsage.
	Usage    openai.Usage
	HasUsage bool
}

// Stream is a streamed answer. Next and Close are called from one goroutine.
type Stream interface {
	// Next returns the next chunk. It returns io.EOF at the normal end of the
	// stream (the upstream's [DONE]) and a *Error when the upstream failed;
	// either ends the stream. The chunk's Data is valid until the next call.
	Next() (Chunk, error)
	// Close releases the stream and aborts the upstream request if it is
	// still running. It may be called at any time, more than once.
	Close() error
}

// ReadyStream is a Stream that can tell whether its next chunk has
// already arrived (Next would return without waiting for the upstream). A
// relay writes the chunks that arrived together and flushes them once,
// instead of one write to the network per chunk; it never holds back a
// chunk while waiting for the upstream. Ready may report false when it
// cannot tell.
type ReadyStream interface {
	Stream
	Ready() bool
}

// Chunk is one event of a streamed answer.
type Chunk struct {
	// Data is one chat.completion.chunk JSON object whose model is the
	// public id. A chunk that is not UsageOnly carries usage only if the
	// client asked for it (stream_options.include_usage).
	Data []byte
	// Usage is the token count this chunk reports, valid when HasUsage.
	Usage    openai.Usage
	HasUsage bool
	// UsageOnly marks the final chunk that carries nothing but usage. The
	// gateway always asks upstreams for it; the chat handler records it and
	// passes it on only if the client asked.
	UsageOnly bool
}
