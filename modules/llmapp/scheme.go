package llmapp

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// clientUsedHTTPS reports whether the client reached the gateway over HTTPS:
// the connection is TLS, or it comes from a proxy the server trusts
// (`trusted_proxies`) and that proxy says X-Forwarded-Proto: https. The
// header of any other peer is ignored, since a client could set it.
func clientUsedHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); !trusted {
		return false
	}
	// A chain of proxies appends; the value nearest the client comes first.
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
