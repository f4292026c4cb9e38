package providers

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/mock"
	"github.com/caddy-llm/gateway/modules/internal/cfargs"
)

func init() {
	caddy.RegisterModule(Mock{})
}

// Mock is the built-in, deterministic provider: it needs no network, streams
// word by word, honours max_tokens and stop, reports usage and answers tools
// with tool_calls. It is the embedded default serving jan-v1-4b and
// jan-v1-7b.
type Mock struct {
	// Models are the public ids served (default jan-v1-4b, jan-v1-7b).
	Models []string `json:"models,omitempty"`
	// Name is the display name (default Mock).
	Name string `json:"name,omitempty"`
	// OwnedBy is owned_by of the models (default jan).
	OwnedBy string `json:"owned_by,omitempty"`
	// ContextLength and MaxOutputTokens are the models' catalog limits
	// (defaults 32768 and 4096).
	ContextLength   int `json:"context_length,omitempty"`
	MaxOutputTokens int `json:"max_output_tokens,omitempty"`
	// TokenDelay pauses before each streamed word.
	TokenDelay caddy.Duration `json:"token_delay,omitempty"`
	// Fallback serves the mock only while no other provider is enabled:
	// the default Caddyfile's mock gives way as soon as a real upstream is
	// configured.
	Fallback bool `json:"fallback,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Mock) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "llm.providers.mock",
		New: func() caddy.Module { return new(Mock) },
	}
}

// NewProvider builds the provider named id.
func (m *Mock) NewProvider(id string, _ *caddy.Replacer) (provider.Provider, bool, error) {
	p, err := mock.New(mock.Config{
		ID:              id,
		Name:            m.Name,
		Models:          m.Models,
		OwnedBy:         m.OwnedBy,
		ContextLength:   m.ContextLength,
		MaxOutputTokens: m.MaxOutputTokens,
		TokenDelay:      dur(m.TokenDelay),
	})
	if err != nil {
		return nil, false, err
	}
	return p, true, nil
}

// IsFallback reports whether the mock gives way to other providers.
func (m *Mock) IsFallback() bool { return m.Fallback }

// UnmarshalCaddyfile reads the provider's block:
//
//	provider <id> mock {
//		models            <id>...
//		name              <display name>
//		owned_by          <owner>
//		context_length    <n>
//		max_output_tokens <n>
//		token_delay       <duration>
//		fallback
//	}
func (m *Mock) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()              // "provider"
	_ = d.RemainingArgs() // the id and kind, read by the llm option
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "models":
			m.Models, err = cfargs.List(d)
		case "name":
			m.Name, err = cfargs.String(d)
		case "owned_by":
			m.OwnedBy, err = cfargs.String(d)
		case "context_length":
			m.ContextLength, err = cfargs.Int(d)
		case "max_output_tokens":
			m.MaxOutputTokens, err = cfargs.Int(d)
		case "token_delay":
			m.TokenDelay, err = cfargs.Duration(d)
		case "fallback":
			m.Fallback = true
			err = cfargs.Flag(d)
		default:
			err = d.Errf("unrecognized mock provider option '%s'", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Mock)(nil)
