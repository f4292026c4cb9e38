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
	// BaseURL is the API root with its version path, as the OpenAI SDKs
	// take it: "http://vllm:8000/v1". Default "https://api.openai.com/v1"
	// when an APIKey is set. Runtime placeholders ({env.X}) are expanded.
	// With neither BaseURL nor APIKey the provider is disabled, so one
	// config can name providers that only some deployments use.
	BaseURL string `json:"base_url,omitempty"`
	// APIKey is sent as a Bearer token. Use a runtime placeholder
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
	// DiscoverModels asks the upstream's GET /models for the models it
	// serves, at start and periodically.
	DiscoverModels bool `json:"discover_models,omitempty"`
	Timeouts
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
//	}
func (m *OpenAI) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()              // "provider"
	_ = d.RemainingArgs() // the id and kind, read by the llm option
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "base_url":
			m.BaseURL, err = optionalArg(d)
		case "api_key":
			m.APIKey, err = optionalArg(d)
		case "name":
			m.Name, err = stringArg(d)
		case "owned_by":
			m.OwnedBy, err = stringArg(d)
		case "header":
			err = pairArg(d, &m.Headers)
		case "model_map":
			err = pairArg(d, &m.ModelMap)
		case "discover_models":
			m.DiscoverModels = true
		default:
			var ok bool
			if ok, err = m.unmarshalTimeout(d); !ok {
				err = d.Errf("unrecognized openai provider option '%s'", d.Val())
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// optionalArg reads an argument that may be missing or empty (an unset
// environment variable): both leave the option unset.
func optionalArg(d *caddyfile.Dispenser) (string, error) {
	var v string
	for d.NextArg() {
		if v == "" {
			v = d.Val()
		}
	}
	return v, nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*OpenAI)(nil)
