// Package providers holds the model provider guest modules of the `llm` app:
// llm.providers.openai (any OpenAI-compatible server: vLLM, llama.cpp,
// OpenAI), llm.providers.anthropic and llm.providers.mock. Each turns its
// configuration into a provider.Provider of the handlers/provider packages.
package providers

import (
	"crypto/tls"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/caddy-llm/gateway/modules/internal/cfargs"
)

// Upstream holds the options every HTTP provider has. Its fields appear at
// the top level of the provider's JSON.
type Upstream struct {
	// BaseURL is the API root. Runtime placeholders ({env.X}) are
	// expanded.
	BaseURL string `json:"base_url,omitempty"`
	// APIKey authenticates to the upstream. Use a runtime placeholder
	// ({env.OPENAI_API_KEY}) to keep it out of the JSON config.
	APIKey string `json:"api_key,omitempty"`
	// Name is the display name in /v1/models/providers.
	Name string `json:"name,omitempty"`
	// Headers are added to every upstream request; values may hold
	// runtime placeholders.
	Headers map[string]string `json:"headers,omitempty"`
	// ModelMap maps public model ids to the upstream's names.
	ModelMap map[string]string `json:"model_map,omitempty"`
	// OwnedBy is owned_by of this provider's models in /v1/models.
	OwnedBy string `json:"owned_by,omitempty"`
	// DiscoverModels asks the upstream's model listing for the models it
	// serves, at start and periodically.
	DiscoverModels bool `json:"discover_models,omitempty"`
	// TLS configures TLS to an https upstream exactly as the "tls" of
	// Caddy's reverse_proxy HTTP transport: trusted CAs ("ca", a
	// tls.ca_pool.source module) for an upstream behind a private CA, a
	// client certificate for one that requires mTLS, the server name to
	// verify. Without it the system's roots verify the upstream.
	// insecure_skip_verify turns verification off: anyone on the path
	// could then read the traffic, keys included; use it only in tests.
	TLS *reverseproxy.TLSConfig `json:"tls,omitempty"`
	Timeouts

	tlsConfig *tls.Config // built from TLS in Provision
}

// unmarshalOption reads one of the options every HTTP provider has (see
// OpenAI.UnmarshalCaddyfile); ok is false when the directive is not one of
// them.
func (u *Upstream) unmarshalOption(d *caddyfile.Dispenser) (ok bool, err error) {
	switch d.Val() {
	case "base_url":
		u.BaseURL = cfargs.FirstNonEmpty(d)
	case "api_key":
		u.APIKey = cfargs.FirstNonEmpty(d)
	case "name":
		u.Name, err = cfargs.String(d)
	case "owned_by":
		u.OwnedBy, err = cfargs.String(d)
	case "header":
		err = cfargs.Pair(d, &u.Headers)
	case "model_map":
		err = cfargs.Pair(d, &u.ModelMap)
	case "discover_models":
		u.DiscoverModels = true
		err = cfargs.Flag(d)
	case "connect_timeout":
		u.ConnectTimeout, err = cfargs.Duration(d)
	case "first_byte_timeout":
		u.FirstByteTimeout, err = cfargs.Duration(d)
	case "idle_timeout":
		u.IdleTimeout, err = cfargs.Duration(d)
	case "max_idle_conns_per_host":
		u.MaxIdleConnsPerHost, err = cfargs.Int(d)
	case "tls_trust_pool":
		err = u.unmarshalTrustPool(d)
	case "tls_client_auth":
		err = u.unmarshalClientAuth(d)
	case "tls_server_name":
		u.tls().ServerName, err = cfargs.String(d)
	case "tls_insecure_skip_verify":
		u.tls().InsecureSkipVerify = true
		err = cfargs.Flag(d)
	case "tls_renegotiation":
		u.tls().Renegotiation, err = cfargs.String(d)
	case "tls_curves":
		u.tls().Curves, err = cfargs.List(d)
	default:
		return false, nil
	}
	return true, err
}

// Timeouts are the upstream timeouts shared by the HTTP providers.
type Timeouts struct {
	// ConnectTimeout bounds dialing and the TLS handshake (default 10s).
	ConnectTimeout caddy.Duration `json:"connect_timeout,omitempty"`
	// FirstByteTimeout bounds the wait for the first event of a stream, or
	// for the whole answer without stream (default 120s).
	FirstByteTimeout caddy.Duration `json:"first_byte_timeout,omitempty"`
	// IdleTimeout bounds the silence between two events of a stream
	// (default 60s). Nothing bounds the length of a healthy stream.
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`
	// MaxIdleConnsPerHost is how many idle upstream connections are kept
	// (default 512).
	MaxIdleConnsPerHost int `json:"max_idle_conns_per_host,omitempty"`
}

// replaced expands runtime placeholders such as {env.OPENAI_API_KEY}, so that
// secrets can stay out of the JSON config (and Caddy's autosave of it).
func replaced(repl *caddy.Replacer, s string) string {
	if s == "" || !strings.Contains(s, "{") {
		return s
	}
	return repl.ReplaceAll(s, "")
}

func replacedMap(repl *caddy.Replacer, m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = replaced(repl, v)
	}
	return out
}

func dur(d caddy.Duration) time.Duration { return time.Duration(d) }
