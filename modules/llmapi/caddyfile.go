package llmapi

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("llm_api", parseHandler)
	httpcaddyfile.RegisterHandlerDirective("llm_error", parseErrorHandler)
	httpcaddyfile.RegisterDirectiveOrder("llm_api", httpcaddyfile.Before, "reverse_proxy")
	httpcaddyfile.RegisterDirectiveOrder("llm_error", httpcaddyfile.Before, "respond")
	httpcaddyfile.RegisterHandlerDirective("llm_request_id", parseRequestIDHandler)
	// First of all handlers, so that every answer carries the id.
	httpcaddyfile.RegisterDirectiveOrder("llm_request_id", httpcaddyfile.Before, "tracing")
}

func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	return m, m.UnmarshalCaddyfile(h.Dispenser)
}

// UnmarshalCaddyfile sets up the handler. It takes no arguments:
//
//	llm_api
//
// Everything it serves is configured in the global `llm` option.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("llm_api takes no block; configure the API in the global llm option")
	}
	return nil
}

func parseErrorHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(ErrorHandler)
	return m, m.UnmarshalCaddyfile(h.Dispenser)
}

// UnmarshalCaddyfile sets up the error handler. It takes no arguments:
//
//	handle_errors {
//		llm_error
//	}
func (ErrorHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

func parseRequestIDHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(RequestIDHandler)
	return m, m.UnmarshalCaddyfile(h.Dispenser)
}

// UnmarshalCaddyfile sets up the request id handler. It takes no arguments:
//
//	llm_request_id
func (RequestIDHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*RequestIDHandler)(nil)
	_ caddyfile.Unmarshaler = (*Handler)(nil)
	_ caddyfile.Unmarshaler = (*ErrorHandler)(nil)
)
