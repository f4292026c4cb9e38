package providers

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/anthropic"
	"github.com/caddy-llm/gateway/modules/internal/cfargs"
)

func init() {
	caddy.RegisterModule(Anthropic{})
}

// Anthropic is the Anthropic Messages API, translated to and from OpenAI's
// chat completions (messages, system prompts, tools, usage, streams).
type Anthropic struct {
	// Upstream's APIKey is sent in x-api-key; without a key the provider
	// is disabled. BaseURL defaults to https://api.anthropic.com, and
	// DiscoverModels lists the models the key may use.
	Upstream
	// Version is the anthropic-version header (default 2023-06-01).
	Version string `json:"version,omitempty"`
	// DefaultMaxTokens is sent when a request has no max_tokens, which
	// Anthropic requires (default 4096).
	DefaultMaxTokens int `json:"default_max_tokens,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Anthropic) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "llm.providers.anthropic",
		New: func() caddy.Module { return new(Anthropic) },
	}
}

// NewProvider builds the provider named id; ok is false without a key.
func (m *Anthropic) NewProvider(id string, repl *caddy.Replacer) (provider.Provider, bool, error) {
	key := replaced(repl, m.APIKey)
	if key == "" {
		return nil, false, nil
	}
	base := replaced(repl, m.BaseURL)
	tlsConfig, err := m.tlsFor(base)
	if err != nil {
		return nil, false, err
	}
	prov, err := anthropic.New(anthropic.Config{
		ID:                  id,
		Name:                m.Name,
		BaseURL:             base,
		APIKey:              key,
		Version:             m.Version,
		Headers:             replacedMap(repl, m.Headers),
		ModelMap:            m.ModelMap,
		OwnedBy:             m.OwnedBy,
		DefaultMaxTokens:    m.DefaultMaxTokens,
		DiscoverModels:      m.DiscoverModels,
		ConnectTimeout:      dur(m.ConnectTimeout),
		FirstByteTimeout:    dur(m.FirstByteTimeout),
		IdleTimeout:         dur(m.IdleTimeout),
		MaxIdleConnsPerHost: m.MaxIdleConnsPerHost,
		TLSConfig:           tlsConfig,
	})
	if err != nil {
		return nil, false, err
	}
	return prov, true, nil
}

// UnmarshalCaddyfile reads the provider's block:
//
//	provider <id> anthropic {
//		api_key            <key>
//		base_url           <url>
//		version            <anthropic-version>
//		name               <display name>
//		header             <name> <value>
//		model_map          <public id> <anthropic model>
//		owned_by           <owner>
//		default_max_tokens <n>
//		discover_models
//		connect_timeout | first_byte_timeout | idle_timeout <duration>
//		max_idle_conns_per_host <n>
//		tls_trust_pool <source> [<args…>] [{ … }]
//		tls_client_auth <cert file> <key file> | <automate name>
//		tls_server_name <name>
//		tls_insecure_skip_verify
//		tls_renegotiation never|once|freely
//		tls_curves <curve…>
//	}
//
// base_url and api_key take their first non-empty argument, so that an
// unset {$X} leaves them unset; header and model_map may be repeated. The
// tls_* options are those of Caddy's reverse_proxy `transport http` block
// (see Upstream.TLS); tls_trust_pool takes any tls.ca_pool.source module,
// e.g. `tls_trust_pool file /etc/ssl/upstream-ca.pem`.
// The options every HTTP provider has are read by Upstream.unmarshalOption.
func (m *Anthropic) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()              // "provider"
	_ = d.RemainingArgs() // the id and kind, read by the llm option
	for d.NextBlock(0) {
		var err error
		ok := true
		switch d.Val() {
		case "version":
			m.Version, err = cfargs.String(d)
		case "default_max_tokens":
			m.DefaultMaxTokens, err = cfargs.Int(d)
		default:
			ok, err = m.unmarshalOption(d)
		}
		if err != nil {
			return err
		}
		if !ok {
			return d.Errf("unrecognized anthropic provider option '%s'", d.Val())
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Anthropic)(nil)
