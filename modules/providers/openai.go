package providers

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/openai"
)

func init() {
	caddy.RegisterModule(OpenAI{})
}

// OpenAI is a provider speaking OpenAI's chat completions API: vLLM,
// llama.cpp, SGLang, Ollama, OpenAI itself and any compatible server.
type OpenAI struct {
	// Upstream's BaseURL is the API root with its version path, as the
	// OpenAI SDKs take it: "http://vllm:8000/v1"; it defaults to
	// "https://api.openai.com/v1" when an APIKey is set, and the key is
	// sent as a Bearer token. With neither BaseURL nor APIKey the
	// provider is disabled, so one config can name providers that only
	// some deployments use.
	Upstream
}

// CaddyModule returns the Caddy module information.
func (OpenAI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "llm.providers.openai",
		New: func() caddy.Module { return new(OpenAI) },
	}
}

// NewProvider builds the provider named id; ok is false when the provider
// is disabled (no base URL and no key after placeholders are expanded).
func (m *OpenAI) NewProvider(id string, repl *caddy.Replacer) (p provider.Provider, ok bool, err error) {
	base, key := replaced(repl, m.BaseURL), replaced(repl, m.APIKey)
	if base == "" && key == "" {
		return nil, false, nil
	}
	tlsConfig, err := m.tlsFor(base)
	if err != nil {
		return nil, false, err
	}
	prov, err := openai.New(openai.Config{
		ID:                  id,
		Name:                m.Name,
		BaseURL:             base,
		APIKey:              key,
		Headers:             replacedMap(repl, m.Headers),
		ModelMap:            m.ModelMap,
		OwnedBy:             m.OwnedBy,
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
//	provider <id> openai {
//		base_url        <url>
//		api_key         <key>
//		name            <display name>
//		header          <name> <value>
//		model_map       <public id> <upstream name>
//		owned_by        <owner>
//		discover_models
//		connect_timeout    <duration>
//		first_byte_timeout <duration>
//		idle_timeout       <duration>
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
func (m *OpenAI) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()              // "provider"
	_ = d.RemainingArgs() // the id and kind, read by the llm option
	for d.NextBlock(0) {
		ok, err := m.unmarshalOption(d)
		if err != nil {
			return err
		}
		if !ok {
			return d.Errf("unrecognized openai provider option '%s'", d.Val())
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*OpenAI)(nil)
