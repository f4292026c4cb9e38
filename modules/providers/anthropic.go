package providers

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/anthropic"
)

func init() {
	caddy.RegisterModule(Anthropic{})
}

// Anthropic is the Anthropic Messages API, translated to and from OpenAI's
// chat completions (messages, system prompts, tools, usage, streams).
type Anthropic struct {
	// APIKey is sent in x-api-key. Without a key the provider is
	// disabled. Use a runtime placeholder ({env.ANTHROPIC_API_KEY}).
	APIKey string `json:"api_key,omitempty"`
	// BaseURL is the API root (default https://api.anthropic.com).
	BaseURL string `json:"base_url,omitempty"`
	// Version is the anthropic-version header (default 2023-06-01).
	Version string `json:"version,omitempty"`
	// Name is the display name in /v1/models/providers.
	Name string `json:"name,omitempty"`
	// Headers are added to every upstream request (anthropic-beta, …).
	Headers map[string]string `json:"headers,omitempty"`
	// ModelMap maps public model ids to Anthropic's model names.
	ModelMap map[string]string `json:"model_map,omitempty"`
	// OwnedBy is owned_by of this provider's models (default anthropic).
	OwnedBy string `json:"owned_by,omitempty"`
	// DefaultMaxTokens is sent when a request has no max_tokens, which
	// Anthropic requires (default 4096).
	DefaultMaxTokens int `json:"default_max_tokens,omitempty"`
	// DiscoverModels asks GET /v1/models for the models the key may use.
	DiscoverModels bool `json:"discover_models,omitempty"`
	Timeouts
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
	prov, err := anthropic.New(anthropic.Config{
		ID:                  id,
		Name:                m.Name,
		BaseURL:             replaced(repl, m.BaseURL),
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
//	}
func (m *Anthropic) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()              // "provider"
	_ = d.RemainingArgs() // the id and kind, read by the llm option
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "api_key":
			m.APIKey, err = optionalArg(d)
		case "base_url":
			m.BaseURL, err = optionalArg(d)
		case "version":
			m.Version, err = stringArg(d)
		case "name":
			m.Name, err = stringArg(d)
		case "owned_by":
			m.OwnedBy, err = stringArg(d)
		case "header":
			err = pairArg(d, &m.Headers)
		case "model_map":
			err = pairArg(d, &m.ModelMap)
		case "default_max_tokens":
			m.DefaultMaxTokens, err = intArg(d)
		case "discover_models":
			m.DiscoverModels = true
		default:
			var ok bool
			if ok, err = m.unmarshalTimeout(d); !ok {
				err = d.Errf("unrecognized anthropic provider option '%s'", d.Val())
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Anthropic)(nil)
