// Package llmcors holds the `llm_cors` handler, which lets browser clients
// on other origins call the API (see handlers/cors).
package llmcors

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-llm/gateway/handlers/cors"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler answers CORS preflights and adds the CORS headers to the answers
// of allowed origins. Put it first in the route, before authentication and
// rate limits: preflights carry no credentials, and the headers it sets stay
// on every answer, errors (401, 413, 429) included, so that a page can read
// them.
type Handler struct {
	// Origins are the origins allowed to call the API from a browser, as
	// scheme://host[:port], or "*" alone for any origin (then without
	// credentials: no cookies). Each entry may hold runtime placeholders
	// ({env.CORS_ALLOWED_ORIGINS}) and several origins separated by commas
	// or spaces. None (the default) turns CORS off.
	Origins []string `json:"origins,omitempty"`
	// MaxAge is how long browsers may cache a preflight's answer (default
	// 10m).
	MaxAge caddy.Duration `json:"max_age,omitempty"`

	policy *cors.Policy
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.llm_cors",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves the origins and builds the policy.
func (h *Handler) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	var origins []string
	for _, o := range h.Origins {
		origins = append(origins, strings.FieldsFunc(repl.ReplaceAll(o, ""), func(r rune) bool {
			return r == ',' || r == ' ' || r == '\t' || r == '\n'
		})...)
	}
	p, err := cors.NewPolicy(origins, time.Duration(h.MaxAge))
	if err != nil {
		return fmt.Errorf("llm_cors: %w", err)
	}
	h.policy = p
	return nil
}

// ServeHTTP answers preflights and sets the CORS headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.policy.Handle(w, r) {
		return nil
	}
	return next.ServeHTTP(w, r)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
