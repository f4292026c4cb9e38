// Package llmapi holds the `llm_api` handler, which serves the LLM API of the
// handlers package, and `llm_error`, which answers Caddy's own errors on the
// API's routes in the spec's JSON shape.
package llmapi

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers"
	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/conversations"
	"github.com/caddy-llm/gateway/handlers/memory"
	"github.com/caddy-llm/gateway/handlers/models"
	"github.com/caddy-llm/gateway/handlers/projects"
	"github.com/caddy-llm/gateway/handlers/responses"
	"github.com/caddy-llm/gateway/handlers/settings"
	"github.com/caddy-llm/gateway/modules/llmapp"
	"github.com/caddy-llm/gateway/modules/llmratelimit"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler serves the whole LLM API: health, version, authentication
// endpoints, chat completions, the Responses API, models, conversations,
// projects, user settings and MCP. It is a terminal handler: requests it does not know get
// a JSON 404. It expects `llm_auth` before it in the route, which sets the
// principal.
type Handler struct {
	app    *llmapp.App
	api    http.Handler
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.llm_api",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision builds the API on the llm app's shared resources.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	app, err := llmapp.FromContext(ctx)
	if err != nil {
		return err
	}
	h.app = app
	st := app.Store()
	chatHandler := &chat.Handler{
		Router:   app.Router(),
		Logger:   h.logger.Named("chat"),
		Observer: observers(chatObserver{metrics: app.Metrics()}, app.UsageObserver()),
		// Token limits: reserved before the upstream call, settled after.
		Quota: app.Quota(),
		Media: app.Media(),
		// Chat requests that name a conversation are recorded into it.
		Conversations: &chat.Recorder{Store: st, Logger: h.logger.Named("turns"), Memory: memoryOf(app)},
		// A user's enable_tools: false removes tools from their requests.
		Tools: conversation.ToolPolicy{Store: st},
	}
	api := handlers.New(
		&handlers.Health{Ready: app.Ready, Degradable: app.Degradable, CaddyVersion: caddyVersion()},
		app.AuthService(),
		&conversations.Handler{Store: st, Logger: h.logger.Named("conversations")},
		&projects.Handler{Store: st, Logger: h.logger.Named("projects")},
		&settings.Handler{Store: st, Logger: h.logger.Named("settings")},
		chatHandler,
		app.MCPAggregator().Endpoint(chatHandler),
		// The Responses API answers through the same router, store and
		// observers (metrics, access log, usage records) as chat completions.
		&responses.Handler{
			Router:   app.Router(),
			Store:    st,
			Logger:   h.logger.Named("responses"),
			Observer: observers(chatObserver{metrics: app.Metrics()}, app.UsageObserver()),
			Media:    app.Media(),
			Tools:    conversation.ToolPolicy{Store: st},
			// Token limits, budgets and key scopes as for chat.
			Quota: app.Quota(),
			// Turns in a conversation recall and are observed as chat's.
			Memory: memoryOf(app),
		},
		&models.Handler{Router: app.Router(), Visible: app.ModelVisible},
		app.UsageAPI(),
		// Embeddings and the user's memories (handlers/memory).
		&memory.EmbeddingsHandler{Router: app.Router(), Logger: h.logger.Named("embeddings"), Observer: observers(chatObserver{metrics: app.Metrics()}, app.UsageObserver()),
			Quota: app.Quota()},
		&memory.APIHandler{Store: st, Memory: app.MemoryService(), Logger: h.logger.Named("memory")},
	)
	h.api = api
	app.SetRoutes(api)
	return nil
}

// ServeHTTP serves the API.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	leave := h.app.Enter()
	defer leave()
	requestID(w, r)
	// Rate limits put off before this (llm_rate_limit's defer) are
	// decided before the API does anything.
	if !llmratelimit.Settle(w, r) {
		return nil
	}
	h.api.ServeHTTP(w, r)
	return nil
}

// memoryOf returns the memory chat turns use: nil while memory is off, so
// that turns pay nothing for it.
func memoryOf(app *llmapp.App) conversation.Memory {
	if m := app.MemoryService(); m.Enabled() {
		return m
	}
	return nil
}

func caddyVersion() string {
	_, full := caddy.Version()
	return full
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
