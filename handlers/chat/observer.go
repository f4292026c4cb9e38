package chat

import (
	"net/http"
	"time"

	"github.com/caddy-llm/gateway/handlers/openai"
)

// Observer receives the outcome of chat requests, for metrics and access
// logs. Its methods run on the request's goroutine: they must be quick and
// must not keep r or o after returning.
type Observer interface {
	// FirstByte is called once, just before the first byte of a successful
	// answer is written (a stream's headers and first chunk, or a
	// completion's body). o has Model, Provider, Stream and TimeToFirstByte
	// set.
	FirstByte(r *http.Request, o *Outcome)
	// Done is called once when the request is finished, whatever happened.
	Done(r *http.Request, o *Outcome)
}

// Outcome is what happened to one chat request. It carries no message
// content and no credential.
type Outcome struct {
	// Start is when the handler began.
	Start time.Time
	// Model is the public model id, empty when the request was rejected
	// before its model was known.
	Model string
	// Provider and UpstreamModel name the last deployment tried.
	Provider      string
	UpstreamModel string
	// Tries is the number of deployments tried.
	Tries int
	// Stream reports a streamed request.
	Stream bool
	// Status is the HTTP status sent (200 for a stream that failed after its
	// first chunk; apierr.StatusClientClosed, 499, when the client went
	// away before an answer).
	Status int
	// ErrorCode is the error code sent (in a stream's error event too), or
	// "client_closed_request"; empty on success.
	ErrorCode string
	// Incomplete reports a stream that ended without [DONE]: the upstream
	// failed mid-stream or the client went away.
	Incomplete bool
	// Usage is the upstream's token count, valid when HasUsage. It is
	// recorded whether or not the client asked for it.
	Usage    openai.Usage
	HasUsage bool
	// TimeToFirstByte is from Start to the first byte of the answer
	// (streams: the first chunk, i.e. the time to first token).
	TimeToFirstByte time.Duration
	// UpstreamLatency is how long the answering deployment took to send its
	// first chunk (streams) or its whole answer: TimeToFirstByte minus it is
	// the gateway's own overhead.
	UpstreamLatency time.Duration
	// Duration is from Start to the end of the answer.
	Duration time.Duration
	// EstimatedPromptTokens is the gateway's estimate of the prompt's
	// tokens (EstimatePromptTokens), for metering an answer whose upstream
	// never reported its usage (a stream cut short).
	EstimatedPromptTokens int
	// Chunks counts the stream chunks relayed that were not usage-only
	// (for the same estimate: about one token each).
	Chunks int
}
