package llmapi

import (
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
)

func init() {
	caddy.RegisterModule(ErrorHandler{})
}

// ErrorHandler answers an error that Caddy raised while handling a request
// (for example 413 from `request_body`, or a failing handler) in the spec's
// JSON error shape. Use it inside `handle_errors`.
type ErrorHandler struct{}

// CaddyModule returns the Caddy module information.
func (ErrorHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.llm_error",
		New: func() caddy.Module { return new(ErrorHandler) },
	}
}

// ServeHTTP writes the error of the request's context as JSON.
func (ErrorHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	status := http.StatusInternalServerError
	v, _ := r.Context().Value(caddyhttp.ErrorCtxKey).(error)
	if v != nil {
		var he caddyhttp.HandlerError
		if errors.As(v, &he) && he.StatusCode != 0 {
			status = he.StatusCode
		}
	}
	if limit, ok := apierr.BodyLimit(v); ok && status == http.StatusRequestEntityTooLarge {
		// request_body's limit, named as the API's own 413s name theirs.
		apierr.Write(w, apierr.RequestTooLarge(limit))
		return nil
	}
	if status == http.StatusNotFound {
		httpx.WriteRouteNotFound(w, r)
		return nil
	}
	apierr.WriteStatus(w, status, codeFor(status), messageFor(status))
	return nil
}

func codeFor(status int) string {
	switch status {
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusTooManyRequests:
		return "rate_limit_exceeded"
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return "upstream_unavailable"
	}
	if status >= 500 {
		return "internal_error"
	}
	return "invalid_request"
}

// messageFor gives the status's standard text: a handler's own error message
// may carry internals, so it is not shown to clients.
func messageFor(status int) string {
	if status == http.StatusRequestEntityTooLarge {
		return "request body too large"
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "error"
}

// Interface guards
var _ caddyhttp.MiddlewareHandler = ErrorHandler{}
