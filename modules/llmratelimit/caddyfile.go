package llmratelimit

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("llm_rate_limit", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("llm_rate_limit", httpcaddyfile.After, "basic_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	return m, m.UnmarshalCaddyfile(h.Dispenser)
}

// UnmarshalCaddyfile sets up the handler:
//
//	llm_rate_limit [<matcher>] {
//		by          principal|ip
//		limit       <rate>/<period>
//		guest       <rate>/<period>
//		user        <rate>/<period>
//		api_key     <rate>/<period>
//		fail_open
//		fail_closed
//		name        <name>
//		guest_by_ip
//		defer
//	}
//
// Rates read like "60/min", "1000/hour" or "100/1m".
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		opt := d.Val()
		switch opt {
		case "by", "limit", "name":
			if !d.NextArg() {
				return d.ArgErr()
			}
			switch opt {
			case "by":
				h.By = d.Val()
			case "limit":
				h.Limit = d.Val()
			case "name":
				h.Name = d.Val()
			}
		case "guest", "user", "api_key":
			if !d.NextArg() {
				return d.ArgErr()
			}
			if h.Tiers == nil {
				h.Tiers = map[string]string{}
			}
			h.Tiers[opt] = d.Val()
		case "fail_open":
			h.FailClosed = false
		case "fail_closed":
			h.FailClosed = true
		case "guest_by_ip":
			h.GuestByIP = true
		case "defer":
			h.Defer = true
		default:
			return d.Errf("unrecognized llm_rate_limit option '%s'", opt)
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
