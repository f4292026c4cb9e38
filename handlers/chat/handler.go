// Package chat serves POST /v1/chat/completions: it validates the request
// against the specification, routes it to the model's deployments, and
// writes the answer, plain or as Server-Sent Events relayed chunk by chunk.
package chat

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/provider"
)

// Defaults of a Handler.
const (
	DefaultMaxBodyBytes       = 10 << 20
	DefaultStreamWriteTimeout = 60 * time.Second
)

// Handler serves chat completions. Its fields are read-only once it serves.
type Handler struct {
	// Router routes requests to model deployments. Required.
	Router *provider.Router
	// Logger receives upstream failures (never bodies nor keys); nil means
	// none.
	Logger *zap.Logger
	// MaxBodyBytes bounds a request body; larger ones get 413
	// request_too_large. Default 10 MB.
	MaxBodyBytes int64
	// StreamWriteTimeout bounds the write of one stream event to a client
	// that stopped reading. It is reset for every event: there is no bound
	// on the total length of a healthy stream. Default 60s.
	StreamWriteTimeout time.Duration
	// Observer, when set, receives every request's outcome (metrics, access
	// logs).
	Observer Observer
	// Media, when set, resolves the jan_… media references of a request's
	// messages before it goes upstream (handlers/media.Resolver). Nil sends
	// bodies as they are.
	Media MediaResolver
	// Conversations, when set, records the turns of requests that name a
	// conversation or ask to be stored (see ConversationRecorder). Nil
	// ignores "conversation" and "store".
	Conversations ConversationRecorder
	// Tools, when set, says whether a user allows tools (the enable_tools
	// setting). It is asked only for requests that carry tools. Nil allows
	// tools for everyone.
	Tools ToolPolicy
	// ReplyWriteTimeout bounds the write of a turn's reply once the answer
	// has ended. Default 5s.
	ReplyWriteTimeout time.Duration
	// Quota, when set, admits each request against token limits, budgets
	// and key scopes before it goes upstream, and settles it when its
	// answer has ended. Nil admits everything.
	Quota Quota
}

// MediaResolver resolves the media references of a validated request body
// to URLs a provider can fetch. It returns the body's messages array with
// the references resolved and changed true, nil and false when there is
// nothing to resolve, and an error in the spec's shape otherwise.
type MediaResolver interface {
	ResolveMessages(ctx context.Context, r *http.Request, body []byte) (messages []byte, changed bool, aerr *apierr.Error)
}

// Register adds the handler's route to mux. Wrong methods are left to the
// mux's owner (handlers.API answers them with a JSON 405).
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("POST /v1/chat/completions", h)
}

func (h *Handler) logger() *zap.Logger {
	if h.Logger == nil {
		return zap.NewNop()
	}
	return h.Logger
}

// ServeHTTP serves one chat completion.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o := &Outcome{Start: time.Now()}
	if h.Observer != nil {
		defer func() {
			o.Duration = time.Since(o.Start)
			h.Observer.Done(r, o)
		}()
	}
	p := principal.From(r.Context())
	if p == nil {
		h.reject(w, o, apierr.New(http.StatusUnauthorized, "unauthorized", "authentication required"))
		return
	}
	body, aerr := h.readBody(w, r)
	if aerr != nil {
		h.reject(w, o, aerr)
		return
	}
	chatReq, aerr := openai.ParseChatRequest(body)
	if aerr != nil {
		h.reject(w, o, aerr)
		return
	}
	model, ok := h.Router.Model(chatReq.Model)
	if !ok {
		h.reject(w, o, openai.ErrUnknownModel(chatReq.Model))
		return
	}
	o.Model, o.Stream = model.ID, chatReq.Stream
	if aerr := CheckModel(model, chatReq.MaxTokens, chatReq.MaxTokensParam, chatReq.ImageParam); aerr != nil {
		h.reject(w, o, aerr)
		return
	}
	// The request is parsed once: media resolution, the turn and the
	// adjustments all describe their changes to the body as one Adjustment,
	// applied last.
	adj := openai.Adjustment{Temperature: model.DefaultTemperature, TopP: model.DefaultTopP}
	if h.Media != nil {
		messages, changed, aerr := h.Media.ResolveMessages(r.Context(), r, body)
		if aerr == nil && changed {
			// The media service wrote these messages: they are validated
			// as the client's were.
			aerr = openai.ValidateMessages(messages)
		}
		if aerr != nil {
			h.reject(w, o, aerr)
			return
		}
		if changed {
			adj.Messages = messages
		}
	}
	maxTokens := chatReq.MaxTokens
	if maxTokens == 0 {
		maxTokens = model.MaxOutputTokens
	}
	settle, aerr := AdmitRequest(h.Quota, w, r, o, QuotaRequest{Model: model.ID, PromptTokens: EstimatePromptTokens(len(body)), MaxTokens: maxTokens})
	if aerr != nil {
		h.reject(w, o, aerr)
		return
	}
	defer settle() // before the Observer's Done, which is deferred earlier
	var turn Turn
	if h.Conversations != nil && wantsTurn(chatReq) {
		// Begun last, once nothing else can refuse the request: it writes
		// the user message. It reads the client's own body, so that media
		// are stored by their stable jan_… ids, not by resolved URLs.
		if turn, aerr = h.Conversations.BeginTurn(r.Context(), p, chatReq, body); aerr != nil {
			h.reject(w, o, aerr)
			return
		}
		adj.SystemMessages = turn.SystemMessages()
	}
	adj.DropTools = chatReq.HasToolMembers() && !h.toolsEnabled(r, p)
	body = chatReq.Adjust(body, adj)
	req := &provider.Request{
		Body:        body,
		Chat:        chatReq,
		Model:       model,
		TraceParent: r.Header.Get("Traceparent"),
		TraceState:  r.Header.Get("Tracestate"),
		RequestID:   r.Header.Get("X-Request-Id"),
	}
	if chatReq.Stream {
		h.serveStream(w, r, req, o, turn)
		return
	}
	h.serveCompletion(w, r, req, o, turn)
}

// readBody reads the request body within MaxBodyBytes (see httpx.ReadBody:
// memory is reserved as bytes arrive, never from Content-Length).
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apierr.Error) {
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	return httpx.ReadBody(w, r, limit)
}

// serveCompletion answers a request without stream. A turn's reply is
// recorded before the answer is sent, so that a client that lists the
// conversation's items after reading it finds the reply there.
func (h *Handler) serveCompletion(w http.ResponseWriter, r *http.Request, req *provider.Request, o *Outcome, turn Turn) {
	c, att, err := h.Router.ChatCompletion(r.Context(), req)
	o.Provider, o.UpstreamModel, o.Tries, o.UpstreamLatency = att.Provider, att.UpstreamModel, att.Tries, att.Latency
	if err != nil {
		h.upstreamFailed(w, r, o, err)
		return
	}
	o.Usage, o.HasUsage = c.Usage, c.HasUsage
	body := c.Body
	if turn != nil {
		h.finishTurn(r, o, turn, completionReply(body))
		body = withConversation(body, turn.Conversation())
	}
	o.Status = http.StatusOK
	o.TimeToFirstByte = time.Since(o.Start)
	if h.Observer != nil {
		h.Observer.FirstByte(r, o)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// reject writes a request error.
func (h *Handler) reject(w http.ResponseWriter, o *Outcome, e *apierr.Error) {
	o.Status, o.ErrorCode = e.Status, e.Code
	apierr.Write(w, e)
}

// upstreamFailed writes the client's view of a failure before the answer
// started (see WriteUpstreamError).
func (h *Handler) upstreamFailed(w http.ResponseWriter, r *http.Request, o *Outcome, err error) {
	WriteUpstreamError(w, r, o, err, h.logger())
}

// WriteUpstreamError writes the client's view of an upstream failure before
// the answer started: 429 with Retry-After, 400 with a sanitised message,
// 502, 504; nothing when the client went away. It records the status and
// code in o and logs what is the upstream's fault (never a body). The
// Responses API answers its upstream failures with it too.
func WriteUpstreamError(w http.ResponseWriter, r *http.Request, o *Outcome, err error, logger *zap.Logger) {
	perr := provider.AsError(r.Context(), err)
	e := perr.APIError()
	o.Status, o.ErrorCode = e.Status, e.Code
	if perr.Kind == provider.KindCanceled {
		return
	}
	if perr.Kind != provider.KindBadRequest && perr.Kind != provider.KindTooLarge {
		logger.Warn("upstream failed",
			zap.String("model", o.Model), zap.String("provider", o.Provider), zap.Int("tries", o.Tries),
			zap.String("kind", perr.Kind.String()), zap.Int("upstream_status", perr.Status), zap.Error(perr.Err))
	}
	if perr.Kind == provider.KindRateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(perr.RetryAfterSeconds()))
	}
	apierr.Write(w, e)
}
