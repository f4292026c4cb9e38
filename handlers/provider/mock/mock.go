// Package mock is the built-in, in-process provider of the zero-config
// gateway. It answers deterministically: the same request always gets the
// same text, streamed word by word; it honours max_tokens and stop, reports
// usage (one token per word), and answers a request that offers tools with a
// tool call. It needs no network and no key.
package mock

import (
	"context"
	"errors"
	"time"

	wire "github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
)

// Kind is the provider kind.
const Kind = "mock"

// Defaults of the embedded configuration.
const (
	DefaultID              = "mock"
	DefaultName            = "Mock"
	DefaultOwnedBy         = "jan"
	DefaultContextLength   = 32768
	DefaultMaxOutputTokens = 4096
	// DefaultCreated is the created time of the mock's models (2025-08-01),
	// fixed so that /v1/models is the same on every replica and restart.
	DefaultCreated = 1754006400
)

// DefaultModels are the spec's model ids.
var DefaultModels = []string{"jan-v1-4b", "jan-v1-7b"}

// Config configures the mock provider. The zero value is the embedded
// default serving jan-v1-4b and jan-v1-7b.
type Config struct {
	// ID names this provider instance. Default "mock".
	ID string
	// Name is the display name. Default "Mock".
	Name string
	// Models are the public model ids served. Default jan-v1-4b, jan-v1-7b.
	Models []string
	// OwnedBy is the owned_by of the models. Default "jan".
	OwnedBy string
	// ContextLength and MaxOutputTokens are the models' catalog limits;
	// max_tokens above MaxOutputTokens is refused. Defaults 32768 and 4096.
	ContextLength   int
	MaxOutputTokens int
	// TokenDelay is a pause before each streamed word, to make streaming
	// visible in demos and to test slow streams. Default none.
	TokenDelay time.Duration
}

// Provider is the mock provider. It is safe for concurrent use.
type Provider struct {
	cfg  Config
	info provider.Info
}

// New returns a mock provider for cfg.
func New(cfg Config) (*Provider, error) {
	if cfg.ID == "" {
		cfg.ID = DefaultID
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if len(cfg.Models) == 0 {
		cfg.Models = DefaultModels
	}
	if cfg.OwnedBy == "" {
		cfg.OwnedBy = DefaultOwnedBy
	}
	if cfg.ContextLength <= 0 {
		cfg.ContextLength = DefaultContextLength
	}
	if cfg.MaxOutputTokens <= 0 {
		cfg.MaxOutputTokens = DefaultMaxOutputTokens
	}
	if cfg.TokenDelay < 0 {
		return nil, errors.New("creating mock provider: token delay must not be negative")
	}
	return &Provider{cfg: cfg, info: provider.Info{ID: cfg.ID, Name: cfg.Name, Kind: Kind}}, nil
}

// Info names the provider.
func (p *Provider) Info() provider.Info { return p.info }

// Models returns the configured models.
func (p *Provider) Models() []provider.ModelSpec {
	specs := make([]provider.ModelSpec, len(p.cfg.Models))
	for i, id := range p.cfg.Models {
		specs[i] = provider.ModelSpec{
			ID:              id,
			OwnedBy:         p.cfg.OwnedBy,
			Created:         DefaultCreated,
			ContextLength:   p.cfg.ContextLength,
			MaxOutputTokens: p.cfg.MaxOutputTokens,
			// The mock answers from text only: images are refused.
			Capabilities: provider.Capabilities{Streaming: true, Tools: true, VisionKnown: true},
		}
	}
	return specs
}

// ChatCompletion answers at once.
func (p *Provider) ChatCompletion(ctx context.Context, req *provider.Request) (*provider.Completion, error) {
	a, err := p.answer(req)
	if err != nil {
		return nil, err
	}
	body, err := a.completion(req.Model.ID)
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindServer, Err: err}
	}
	return &provider.Completion{Body: body, Usage: a.usage, HasUsage: true}, nil
}

// ChatCompletionStream streams the answer word by word.
func (p *Provider) ChatCompletionStream(ctx context.Context, req *provider.Request) (provider.Stream, error) {
	a, err := p.answer(req)
	if err != nil {
		return nil, err
	}
	return &stream{ctx: ctx, a: a, model: req.Model.ID, delay: p.cfg.TokenDelay}, nil
}

func (p *Provider) answer(req *provider.Request) (*answer, error) {
	r, err := wire.DecodeChatRequest(req.Body)
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindBadRequest, Message: "the request could not be decoded", Err: err}
	}
	return compose(req.Model.ID, req.Body, r), nil
}
