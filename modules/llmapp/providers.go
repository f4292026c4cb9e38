package llmapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/provider"
)

// ProviderConfig is one provider instance of the configuration.
type ProviderConfig struct {
	// ID names the instance; models' deployments refer to it.
	ID string `json:"id"`
	// ProviderRaw is the provider module (llm.providers.<kind>).
	ProviderRaw json.RawMessage `json:"provider,omitempty" caddy:"namespace=llm.providers inline_key=kind"`
}

// ModelConfig is one public model: where it is served and what its catalog
// entry says. A model without deployments only overrides the catalog fields
// of a model the providers declare or discover.
type ModelConfig struct {
	// ID is the public model id clients send.
	ID string `json:"id"`
	// Deployments serve the model; several are balanced round-robin and a
	// failing one (connect error, 429, 5xx) is passed over before the
	// client sees a byte.
	Deployments []DeploymentConfig `json:"deployments,omitempty"`
	// OwnedBy and DisplayName override /v1/models and catalog fields.
	OwnedBy     string `json:"owned_by,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	// ContextLength and MaxOutputTokens override the catalog limits;
	// max_tokens above MaxOutputTokens is refused with 400.
	ContextLength   int `json:"context_length,omitempty"`
	MaxOutputTokens int `json:"max_output_tokens,omitempty"`
	// Streaming, Tools and Vision override the catalog capabilities.
	Streaming *bool `json:"streaming,omitempty"`
	Tools     *bool `json:"tools,omitempty"`
	Vision    *bool `json:"vision,omitempty"`
	// SupportedParameters overrides the catalog's parameter list.
	SupportedParameters []string `json:"supported_parameters,omitempty"`
	// DefaultTemperature and DefaultTopP replace the spec's defaults (0.7
	// and 1.0) sent upstream when a request omits temperature or top_p.
	DefaultTemperature *float64 `json:"default_temperature,omitempty"`
	DefaultTopP        *float64 `json:"default_top_p,omitempty"`
	// NoDefaultTemperature and NoDefaultTopP send nothing when a request
	// omits the parameter, leaving the choice to the upstream.
	NoDefaultTemperature bool `json:"no_default_temperature,omitempty"`
	NoDefaultTopP        bool `json:"no_default_top_p,omitempty"`
	// Price is what the model's tokens cost per million, for usage records
	// and cost budgets (see UsageConfig.Prices, which takes precedence).
	Price *PriceConfig `json:"price,omitempty"`
}

// DeploymentConfig is one provider serving a model.
type DeploymentConfig struct {
	// Provider is the provider instance's ID.
	Provider string `json:"provider"`
	// Model is the provider's name for the model; empty means the public id.
	Model string `json:"model,omitempty"`
}

// providerBuilder is implemented by the llm.providers.* modules.
type providerBuilder interface {
	// NewProvider builds the provider called id. ok is false when the
	// module's settings (after placeholders are expanded) disable it.
	NewProvider(id string, repl *caddy.Replacer) (p provider.Provider, ok bool, err error)
}

// fallbackProvider is implemented by providers that serve only while no
// other provider is enabled (the default Caddyfile's mock).
type fallbackProvider interface {
	IsFallback() bool
}

// Providers and their connection pools are shared across reloads that keep
// their settings, and so are the models they last discovered: a reload must
// not forget an upstream's models until discovery runs again.
var providerPool = caddy.NewUsagePool()

type providerKey struct {
	id     string
	config string // the module's JSON, placeholders unexpanded
}

// pooledProvider wraps a provider to remember its last discovered models.
type pooledProvider struct {
	provider.Provider
	enabled    bool
	fallback   bool
	discovered atomic.Pointer[[]provider.ModelSpec]
}

// Destruct closes the provider's idle upstream connections.
func (p *pooledProvider) Destruct() error {
	if c, ok := p.Provider.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Models implements provider.ModelSource.
func (p *pooledProvider) Models() []provider.ModelSpec {
	if s, ok := p.Provider.(provider.ModelSource); ok {
		return s.Models()
	}
	return nil
}

// DiscoverModels implements provider.ModelDiscoverer and remembers what it
// found.
func (p *pooledProvider) DiscoverModels(ctx context.Context) ([]provider.ModelSpec, error) {
	d, ok := p.Provider.(provider.ModelDiscoverer)
	if !ok {
		return nil, provider.ErrDiscoveryDisabled
	}
	specs, err := d.DiscoverModels(ctx)
	if err == nil {
		p.discovered.Store(&specs)
	}
	return specs, err
}

// provisionProviders builds the router from the configured providers and
// models.
func (a *App) provisionProviders(ctx caddy.Context) error {
	configs := a.Providers
	if len(configs) == 0 {
		// A copy: loading a module clears its raw config.
		configs = []ProviderConfig{{ID: "mock", ProviderRaw: json.RawMessage(`{"kind":"mock"}`)}}
	}
	repl := caddy.NewReplacer()
	seen := map[string]bool{}
	var all []*pooledProvider
	for i := range configs {
		pc := &configs[i]
		if pc.ID == "" {
			return fmt.Errorf("provider %d: id is required", i)
		}
		if seen[pc.ID] {
			return fmt.Errorf("provider %q: id used twice", pc.ID)
		}
		seen[pc.ID] = true
		key := providerKey{id: pc.ID, config: string(pc.ProviderRaw)}
		val, _, err := providerPool.LoadOrNew(key, func() (caddy.Destructor, error) {
			mod, err := ctx.LoadModule(pc, "ProviderRaw")
			if err != nil {
				return nil, fmt.Errorf("loading provider %q: %w", pc.ID, err)
			}
			b, ok := mod.(providerBuilder)
			if !ok {
				return nil, fmt.Errorf("provider %q: module %T builds no provider", pc.ID, mod)
			}
			p, enabled, err := b.NewProvider(pc.ID, repl)
			if err != nil {
				return nil, fmt.Errorf("provider %q: %w", pc.ID, err)
			}
			fb, _ := mod.(fallbackProvider)
			return &pooledProvider{Provider: p, enabled: enabled, fallback: fb != nil && fb.IsFallback()}, nil
		})
		if err != nil {
			return err
		}
		a.providerKeys = append(a.providerKeys, key)
		all = append(all, val.(*pooledProvider))
	}

	// Fallback providers give way to any real one.
	var real, fallbacks []*pooledProvider
	for _, p := range all {
		switch {
		case !p.enabled:
		case p.fallback:
			fallbacks = append(fallbacks, p)
		default:
			real = append(real, p)
		}
	}
	active := real
	if len(active) == 0 {
		active = fallbacks
	}
	enabled := map[string]bool{}
	provs := make([]provider.Provider, 0, len(active))
	for _, p := range active {
		enabled[p.Info().ID] = true
		provs = append(provs, p)
	}

	router, err := provider.NewRouter(provs, provider.RouterConfig{
		Models:            a.routerModels(enabled),
		Aliases:           a.ModelAliases,
		DiscoveryInterval: time.Duration(a.DiscoveryInterval),
		FailureThreshold:  a.FailureThreshold,
		Cooldown:          time.Duration(a.Cooldown),
		Logger:            a.logger.Named("router"),
	})
	if err != nil {
		return fmt.Errorf("building model router: %w", err)
	}

	// Seed the table with what discovery last found; discover now, with a
	// short bound, where it never ran (the first start).
	needDiscovery := false
	for _, p := range active {
		if specs := p.discovered.Load(); specs != nil {
			router.SetDiscoveredModels(p.Info().ID, *specs)
		} else if _, ok := p.Provider.(provider.ModelDiscoverer); ok {
			needDiscovery = true
		}
	}
	if needDiscovery {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := router.Refresh(dctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			a.logger.Warn("model discovery at start failed; retrying in the background", zap.Error(err))
		}
		cancel()
	}
	go router.Run(ctx)
	a.router = router

	names := make([]string, 0, len(active))
	for _, p := range active {
		names = append(names, p.Info().ID+" ("+p.Info().Kind+")")
	}
	a.providerNames = names
	return nil
}

// routerModels converts the configured models, dropping deployments on
// providers that are disabled (and models left without any).
func (a *App) routerModels(enabled map[string]bool) []provider.ModelConfig {
	var out []provider.ModelConfig
	for _, m := range a.Models {
		mc := provider.ModelConfig{
			ID:                  m.ID,
			OwnedBy:             m.OwnedBy,
			DisplayName:         m.DisplayName,
			ContextLength:       m.ContextLength,
			MaxOutputTokens:     m.MaxOutputTokens,
			Streaming:           m.Streaming,
			Tools:               m.Tools,
			Vision:              m.Vision,
			SupportedParameters: m.SupportedParameters,
			Sampling: provider.SamplingConfig{
				Temperature:   m.DefaultTemperature,
				TopP:          m.DefaultTopP,
				NoTemperature: m.NoDefaultTemperature,
				NoTopP:        m.NoDefaultTopP,
			},
		}
		for _, d := range m.Deployments {
			if enabled[d.Provider] {
				mc.Deployments = append(mc.Deployments, provider.DeploymentConfig{Provider: d.Provider, Model: d.Model})
			}
		}
		if len(m.Deployments) > 0 && len(mc.Deployments) == 0 {
			a.logger.Debug("model has no enabled deployment; not served", zap.String("model", m.ID))
			continue
		}
		out = append(out, mc)
	}
	return out
}

func (a *App) releaseProviders() {
	for _, k := range a.providerKeys {
		_, _ = providerPool.Delete(k)
	}
	a.providerKeys = nil
}
