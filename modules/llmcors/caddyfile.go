package llmcors

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("llm_cors", parseCaddyfile)
	// Before everything that may refuse a request.
	httpcaddyfile.RegisterDirectiveOrder("llm_cors", httpcaddyfile.Before, "tracing")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	return m, m.UnmarshalCaddyfile(h.Dispenser)
}

// UnmarshalCaddyfile sets up the handler:
//
//	llm_cors [<origin>...] {
//		origins <origin>...
//		max_age <duration>
//	}
//
// An origin is scheme://host[:port] or "*"; a runtime placeholder such as
// {env.CORS_ALLOWED_ORIGINS} may stand for a comma-separated list.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	h.Origins = append(h.Origins, d.RemainingArgs()...)
	for d.NextBlock(0) {
		switch d.Val() {
		case "origins":
			h.Origins = append(h.Origins, d.RemainingArgs()...)
		case "max_age":
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("parsing max_age: %v", err)
			}
			h.MaxAge = caddy.Duration(dur)
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized llm_cors option '%s'", d.Val())
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
