package llmapi

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// requestID gives the request an id, shown to the client as X-Request-Id
// and sent upstream with it. A client's own id is kept when it is short and
// plain (so callers can correlate their logs with ours); anything else is
// replaced by Caddy's request UUID.
func requestID(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if !plainID(id) {
		id = ""
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			id, _ = repl.GetString("http.request.uuid")
		}
		if id == "" {
			r.Header.Del("X-Request-Id")
			return
		}
		r.Header.Set("X-Request-Id", id)
	}
	if h := w.Header(); h.Get("X-Request-Id") != id { // llm_request_id set it already
		h.Set("X-Request-Id", id)
	}
}

// plainID reports whether id is 1 to 128 characters of letters, digits and
// - _ . : — safe to echo and to log.
func plainID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

func init() {
	caddy.RegisterModule(RequestIDHandler{})
}

// RequestIDHandler gives every request its X-Request-Id (see requestID)
// before anything else can answer it. Put it first in the route, so that the
// 401s of llm_auth, the 429s of llm_rate_limit and Caddy's own errors written
// by llm_error carry the id too, not only the API's answers.
type RequestIDHandler struct{}

// CaddyModule returns the Caddy module information.
func (RequestIDHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.llm_request_id",
		New: func() caddy.Module { return new(RequestIDHandler) },
	}
}

// ServeHTTP sets the request id and goes on.
func (RequestIDHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	requestID(w, r)
	return next.ServeHTTP(w, r)
}

// Interface guards
var _ caddyhttp.MiddlewareHandler = RequestIDHandler{}
