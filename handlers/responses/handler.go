// Package responses serves OpenAI's Responses API (/v1/responses) on top of
// the gateway's chat completions and conversations: a request is validated,
// translated to a chat completions request for the model's providers
// (handlers/provider, so every configured model answers it, with the same
// fail-over), and its answer is written in the Responses shape, plain or as
// the Responses event stream. Stored responses are kept by the store
// (store.ResponseStore); a request that names a conversation appends its
// turn to it through the conversation domain (handlers/conversation).
package responses

import (
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/store"
)

// Handler serves the Responses API. Its fields are read-only once it serves.
type Handler struct {
	// Router routes requests to model deployments. Required.
	Router *provider.Router
	// Store keeps stored responses and the conversations turns are
	// appended to. Required.
	Store store.Store
	// Logger receives upstream and storage failures (never bodies nor
	// keys); nil means none.
	Logger *zap.Logger
	// MaxBodyBytes bounds a request body (413 beyond). Default
	// chat.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// StreamWriteTimeout bounds the write of one stream event. Default
	// chat.DefaultStreamWriteTimeout.
	StreamWriteTimeout time.Duration
	// ReplyWriteTimeout bounds the storing of an answer once it has ended.
	// Default chat.DefaultReplyWriteTimeout.
	ReplyWriteTimeout time.Duration
	// Observer, when set, receives every creation's outcome, as chat
	// completions report theirs (metrics, access logs).
	Observer chat.Observer
	// Media, when set, resolves jan_… media references before the request
	// goes upstream, as for chat completions.
	Media chat.MediaResolver
	// Tools, when set, says whether a user allows tools (enable_tools).
	Tools chat.ToolPolicy
	// Quota, when set, admits each creation against token limits, budgets
	// and key scopes before it goes upstream, and settles it when its
	// answer has ended, as for chat completions. Nil admits everything.
	Quota chat.Quota
	// Memory, when set, recalls what a user's memory holds for a turn in a
	// conversation and learns from its stored reply, as for chat turns.
	Memory conversation.Memory
}

// Register adds the API's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	rs := httpx.Routes{Resource: "response", Logger: h.Logger}
	mux.Handle("POST /v1/responses", h)
	mux.HandleFunc("GET /v1/responses/{id}", rs.Handle(h.get))
	mux.HandleFunc("DELETE /v1/responses/{id}", rs.Handle(h.delete))
	mux.HandleFunc("GET /v1/responses/{id}/input_items", rs.Handle(h.inputItems))
}

func (h *Handler) logger() *zap.Logger {
	if h.Logger == nil {
		return zap.NewNop()
	}
	return h.Logger
}

// ServeHTTP creates one response.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o := &chat.Outcome{Start: time.Now()}
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
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = chat.DefaultMaxBodyBytes
	}
	body, aerr := httpx.ReadBody(w, r, limit)
	if aerr != nil {
		h.reject(w, o, aerr)
		return
	}
	req, aerr := ParseRequest(body)
	if aerr != nil {
		h.reject(w, o, aerr)
		return
	}
	model, ok := h.Router.Model(req.Model)
	if !ok {
		h.reject(w, o, openai.ErrUnknownModel(req.Model))
		return
	}
	o.Model, o.Stream = model.ID, req.Stream
	imageParam := func() (string, bool) { return req.ImageParam, req.HasImage }
	if aerr := chat.CheckModel(model, req.MaxOutputTokens, "max_output_tokens", imageParam); aerr != nil {
		h.reject(w, o, aerr)
		return
	}
	// Admitted before the turn begins, as chat requests are: a refused
	// request writes nothing to its conversation. The estimate is the
	// client's body's, as chat's; the history a turn adds is charged when
	// the reservation is settled to the upstream's count.
	maxTokens := req.MaxOutputTokens
	if maxTokens == 0 {
		maxTokens = model.MaxOutputTokens
	}
	settle, aerr := chat.AdmitRequest(h.Quota, w, r, o, chat.QuotaRequest{Model: model.ID, PromptTokens: chat.EstimatePromptTokens(len(body)), MaxTokens: maxTokens})
	if aerr != nil {
		h.reject(w, o, aerr)
		return
	}
	defer settle() // before the Observer's Done, which is deferred earlier
	t, aerr := h.begin(r, p, req, model)
	if aerr != nil {
		h.reject(w, o, aerr)
		return
	}
	// A stream cut short is metered on this estimate: the body sent
	// upstream, history and system messages included.
	o.EstimatedPromptTokens = chat.EstimatePromptTokens(len(t.upstream.Body))
	if req.Stream {
		h.serveStream(w, r, t, o)
		return
	}
	h.serveResponse(w, r, t, o)
}

// serveResponse answers a request without stream. The response is stored
// (and its turn appended to the conversation) before it is sent, so that a
// client that retrieves it after reading the answer finds it.
func (h *Handler) serveResponse(w http.ResponseWriter, r *http.Request, t *turn, o *chat.Outcome) {
	c, att, err := h.Router.ChatCompletion(r.Context(), t.upstream)
	o.Provider, o.UpstreamModel, o.Tries, o.UpstreamLatency = att.Provider, att.UpstreamModel, att.Tries, att.Latency
	if err != nil {
		h.upstreamFailed(w, r, o, err)
		return
	}
	o.Usage, o.HasUsage = c.Usage, c.HasUsage
	out := readCompletion(c.Body)
	resp := t.response(out.status(), out.items(out.itemStatus()), out.incomplete())
	if c.HasUsage {
		resp.Usage = usageOf(c.Usage)
	}
	body := h.finish(r, o, t, resp)
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
func (h *Handler) reject(w http.ResponseWriter, o *chat.Outcome, e *apierr.Error) {
	o.Status, o.ErrorCode = e.Status, e.Code
	apierr.Write(w, e)
}

// upstreamFailed writes the client's view of a failure before the answer
// started, as chat completions do.
func (h *Handler) upstreamFailed(w http.ResponseWriter, r *http.Request, o *chat.Outcome, err error) {
	chat.WriteUpstreamError(w, r, o, err, h.logger())
}
