package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Router defaults.
const (
	DefaultDiscoveryInterval = 5 * time.Minute
	DefaultFailureThreshold  = 3
	DefaultCooldown          = 30 * time.Second
	DefaultMaxCooldown       = 60 * time.Second
	discoveryTimeout         = 15 * time.Second
)

// RouterConfig configures a Router. The zero value routes every model the
// providers declare, with the defaults above.
type RouterConfig struct {
	// Models adds or overrides public models. A model with Deployments is
	// routed to exactly those deployments (the providers' own declarations
	// of that id are ignored); a model without Deployments only overrides
	// the catalog fields of the model the providers declare.
	Models []ModelConfig
	// Aliases serve a model under another public id: alias → the public id
	// of a model the providers serve (declared or discovered). The alias
	// has the target's deployments and catalog fields; Models may override
	// them like any model's. An alias takes the place of a model the
	// providers declare under the same id; an alias whose target no
	// provider serves is not listed (until discovery finds the target).
	Aliases map[string]string
	// DiscoveryInterval is how often providers that discover their models
	// are asked again. Default 5 minutes.
	DiscoveryInterval time.Duration
	// FailureThreshold is the number of consecutive failures (connect
	// errors, timeouts, 429, 5xx) after which a deployment cools down.
	// Default 3.
	FailureThreshold int
	// Cooldown is how long a failing deployment is tried only after the
	// healthy ones. Default 30s.
	Cooldown time.Duration
	// MaxCooldown caps the cooldown an upstream's Retry-After imposes on a
	// rate-limited deployment. Default 60s.
	MaxCooldown time.Duration
	// Logger receives routing and discovery events; nil means none.
	Logger *zap.Logger
}

// ModelConfig is one public model of the configuration.
type ModelConfig struct {
	// ID is the public model id.
	ID string
	// Deployments are the provider deployments serving the model, balanced
	// round-robin; empty keeps those the providers declare.
	Deployments []DeploymentConfig
	// OwnedBy, DisplayName and Created override the /v1/models fields.
	OwnedBy     string
	DisplayName string
	Created     int64
	// ContextLength and MaxOutputTokens override the catalog limits; 0 keeps
	// the provider's value.
	ContextLength   int
	MaxOutputTokens int
	// Streaming, Tools and Vision override the catalog capabilities; nil
	// keeps the provider's value.
	Streaming, Tools, Vision *bool
	// SupportedParameters overrides the catalog's parameter list.
	SupportedParameters []string
	// Sampling overrides the spec's sampling defaults (temperature 0.7,
	// top_p 1.0) sent when a request omits them.
	Sampling SamplingConfig
}

// SamplingConfig overrides the sampling defaults of a model.
type SamplingConfig struct {
	// Temperature and TopP replace the spec's defaults; nil keeps them.
	Temperature, TopP *float64
	// NoTemperature and NoTopP send nothing when a request omits the
	// parameter, leaving the choice to the upstream.
	NoTemperature, NoTopP bool
}

// DeploymentConfig names one deployment of a model.
type DeploymentConfig struct {
	// Provider is the Info().ID of the provider.
	Provider string
	// Model is the provider's name for the model; empty means the public id.
	Model string
}

// Router maps public model ids to deployments and sends requests to them.
// The routing table is immutable and published through an atomic pointer:
// requests never take a lock, and discovery swaps in a new table at run time.
type Router struct {
	cfg       RouterConfig
	logger    *zap.Logger
	policy    healthPolicy
	providers []Provider
	created   int64

	table atomic.Pointer[table]

	mu         sync.Mutex // serialises rebuilds; never held by requests
	discovered map[string][]ModelSpec
	healths    map[string]*health
}

// table is one immutable version of the routing table.
type table struct {
	models    map[string]*Model
	sorted    []*Model
	providers []ProviderStatus
}

// ProviderStatus is a provider and how many public models it serves.
type ProviderStatus struct {
	Info   Info
	Models int
}

// NewRouter returns a router over providers, with a table built from their
// declared models and cfg. It does not contact any upstream: call Run (or
// Refresh) to discover models.
func NewRouter(providers []Provider, cfg RouterConfig) (*Router, error) {
	if cfg.DiscoveryInterval <= 0 {
		cfg.DiscoveryInterval = DefaultDiscoveryInterval
	}
	if cfg.FailureThreshold <= 0 {
		cfg.FailureThreshold = DefaultFailureThreshold
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = DefaultCooldown
	}
	if cfg.MaxCooldown <= 0 {
		cfg.MaxCooldown = DefaultMaxCooldown
	}
	logger := cfg.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	ids := make(map[string]bool, len(providers))
	for _, p := range providers {
		id := p.Info().ID
		if id == "" {
			return nil, errors.New("creating router: a provider has no id")
		}
		if ids[id] {
			return nil, fmt.Errorf("creating router: provider id %q is used twice", id)
		}
		ids[id] = true
	}
	seen := make(map[string]bool, len(cfg.Models))
	for alias, target := range cfg.Aliases {
		if alias == "" || target == "" || alias == target {
			return nil, fmt.Errorf("creating router: model alias %q → %q: both ids are required and must differ", alias, target)
		}
	}
	for _, m := range cfg.Models {
		if m.ID == "" {
			return nil, errors.New("creating router: a model has no id")
		}
		if seen[m.ID] {
			return nil, fmt.Errorf("creating router: model %q is configured twice", m.ID)
		}
		seen[m.ID] = true
		for _, d := range m.Deployments {
			if !ids[d.Provider] {
				return nil, fmt.Errorf("creating router: model %q: unknown provider %q", m.ID, d.Provider)
			}
		}
	}
	r := &Router{
		cfg:        cfg,
		logger:     logger,
		policy:     healthPolicy{threshold: cfg.FailureThreshold, cooldown: cfg.Cooldown, maxCooldown: cfg.MaxCooldown},
		providers:  providers,
		created:    time.Now().Unix(),
		discovered: make(map[string][]ModelSpec),
		healths:    make(map[string]*health),
	}
	r.mu.Lock()
	r.rebuildLocked()
	r.mu.Unlock()
	return r, nil
}

// Model returns the public model with the id.
func (r *Router) Model(id string) (*Model, bool) {
	m, ok := r.table.Load().models[id]
	return m, ok
}

// Models returns every public model, sorted by id. The slice is shared:
// callers must not change it.
func (r *Router) Models() []*Model { return r.table.Load().sorted }

// Providers returns every provider with its number of models, in
// configuration order. The slice is shared: callers must not change it.
func (r *Router) Providers() []ProviderStatus { return r.table.Load().providers }

// SetDiscoveredModels replaces the models a provider is known to serve (as
// discovery found them) and publishes a new table. A nil specs goes back to
// the provider's declared models.
func (r *Router) SetDiscoveredModels(providerID string, specs []ModelSpec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if specs == nil {
		delete(r.discovered, providerID)
	} else {
		r.discovered[providerID] = specs
	}
	r.rebuildLocked()
}

// Run discovers models at once and then every DiscoveryInterval, until ctx
// is done. It returns at once when no provider discovers models.
func (r *Router) Run(ctx context.Context) {
	if !r.hasDiscoverers() {
		return
	}
	ticker := time.NewTicker(r.cfg.DiscoveryInterval)
	defer ticker.Stop()
	for {
		r.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (r *Router) hasDiscoverers() bool {
	for _, p := range r.providers {
		if _, ok := p.(ModelDiscoverer); ok {
			return true
		}
	}
	return false
}

// Refresh asks every discovering provider for its models once and publishes
// the result. A provider that fails keeps the models it had; the errors are
// returned joined.
func (r *Router) Refresh(ctx context.Context) error {
	var errs []error
	for _, p := range r.providers {
		d, ok := p.(ModelDiscoverer)
		if !ok {
			continue
		}
		id := p.Info().ID
		dctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
		specs, err := d.DiscoverModels(dctx)
		cancel()
		switch {
		case errors.Is(err, ErrDiscoveryDisabled):
			continue
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.logger.Warn("model discovery failed; keeping the known models", zap.String("provider", id), zap.Error(err))
			errs = append(errs, fmt.Errorf("discovering models of %s: %w", id, err))
			continue
		}
		if specs == nil {
			specs = []ModelSpec{}
		}
		r.SetDiscoveredModels(id, specs)
		r.logger.Debug("models discovered", zap.String("provider", id), zap.Int("models", len(specs)))
	}
	return errors.Join(errs...)
}

// rebuildLocked builds a new table from the providers' models and the
// configuration, and publishes it. r.mu must be held.
func (r *Router) rebuildLocked() {
	models := make(map[string]*Model)
	var order []string
	counts := make(map[string]int, len(r.providers))
	byID := make(map[string]Provider, len(r.providers))

	add := func(p Provider, pid string, spec ModelSpec) {
		m, ok := models[spec.ID]
		if !ok {
			m = newModel(spec)
			models[spec.ID] = m
			order = append(order, spec.ID)
		}
		upstream := spec.UpstreamID
		if upstream == "" {
			upstream = spec.ID
		}
		for _, d := range m.deployments {
			if d.providerID == pid && d.upstream == upstream {
				return
			}
		}
		m.deployments = append(m.deployments, r.deploymentLocked(p, pid, upstream))
	}

	for _, p := range r.providers {
		pid := p.Info().ID
		byID[pid] = p
		specs, ok := r.discovered[pid]
		if !ok {
			if src, isSource := p.(ModelSource); isSource {
				specs = src.Models()
			}
		}
		for _, spec := range specs {
			if spec.ID != "" {
				add(p, pid, spec)
			}
		}
	}
	configure := func(mc ModelConfig) {
		m, ok := models[mc.ID]
		if !ok {
			m = newModel(ModelSpec{ID: mc.ID, Capabilities: Capabilities{Streaming: true}})
			models[mc.ID] = m
			order = append(order, mc.ID)
		}
		if len(mc.Deployments) > 0 {
			m.deployments = nil
			for _, dc := range mc.Deployments {
				up := dc.Model
				if up == "" {
					up = mc.ID
				}
				m.deployments = append(m.deployments, r.deploymentLocked(byID[dc.Provider], dc.Provider, up))
			}
		}
		applyOverrides(m, mc)
	}
	// Aliases copy their targets as configured, and are then configured
	// themselves like any model.
	for _, mc := range r.cfg.Models {
		if _, isAlias := r.cfg.Aliases[mc.ID]; !isAlias {
			configure(mc)
		}
	}
	r.addAliasesLocked(models, &order)
	for _, mc := range r.cfg.Models {
		if _, isAlias := r.cfg.Aliases[mc.ID]; isAlias {
			configure(mc)
		}
	}

	t := &table{models: make(map[string]*Model, len(models))}
	for _, id := range order {
		m := models[id]
		if len(m.deployments) == 0 {
			continue // a catalog override of a model no provider serves
		}
		if m.Created == 0 {
			m.Created = r.created
		}
		if m.OwnedBy == "" {
			m.OwnedBy = m.deployments[0].providerID
		}
		if m.DisplayName == "" {
			m.DisplayName = m.ID
		}
		if m.SupportedParameters == nil {
			m.SupportedParameters = DefaultSupportedParameters
		}
		t.models[id] = m
		t.sorted = append(t.sorted, m)
		seen := make(map[string]bool, len(m.deployments))
		for _, d := range m.deployments {
			if !seen[d.providerID] {
				seen[d.providerID] = true
				counts[d.providerID]++
			}
		}
	}
	sort.Slice(t.sorted, func(i, j int) bool { return t.sorted[i].ID < t.sorted[j].ID })
	r.forgetUnusedHealthLocked(t)
	for _, p := range r.providers {
		info := p.Info()
		t.providers = append(t.providers, ProviderStatus{Info: info, Models: counts[info.ID]})
	}
	r.table.Store(t)
}

// addAliasesLocked adds the configured aliases of the models found so far.
// Aliases resolve against the providers' models only, never against other
// aliases, so that the result does not depend on the order of a map.
func (r *Router) addAliasesLocked(models map[string]*Model, order *[]string) {
	if len(r.cfg.Aliases) == 0 {
		return
	}
	aliases := make([]string, 0, len(r.cfg.Aliases))
	for alias := range r.cfg.Aliases {
		aliases = append(aliases, alias)
	}
	sort.Strings(aliases)
	targets := make(map[string]*Model, len(aliases))
	for _, alias := range aliases {
		targets[alias] = models[r.cfg.Aliases[alias]]
	}
	for _, alias := range aliases {
		target := targets[alias]
		if target == nil {
			continue
		}
		m := newModel(ModelSpec{
			ID:                  alias,
			OwnedBy:             target.OwnedBy,
			Created:             target.Created,
			DisplayName:         target.DisplayName,
			ContextLength:       target.ContextLength,
			MaxOutputTokens:     target.MaxOutputTokens,
			Capabilities:        target.Capabilities,
			SupportedParameters: target.SupportedParameters,
		})
		if m.DisplayName == target.ID {
			m.DisplayName = ""
		}
		m.DefaultTemperature, m.DefaultTopP = target.DefaultTemperature, target.DefaultTopP
		m.deployments = append([]*deployment(nil), target.deployments...)
		if _, ok := models[alias]; !ok {
			*order = append(*order, alias)
		}
		models[alias] = m
	}
}

func applyOverrides(m *Model, mc ModelConfig) {
	if mc.OwnedBy != "" {
		m.OwnedBy = mc.OwnedBy
	}
	if mc.DisplayName != "" {
		m.DisplayName = mc.DisplayName
	}
	if mc.Created != 0 {
		m.Created = mc.Created
	}
	if mc.ContextLength > 0 {
		m.ContextLength = mc.ContextLength
	}
	if mc.MaxOutputTokens > 0 {
		m.MaxOutputTokens = mc.MaxOutputTokens
	}
	if mc.Streaming != nil {
		m.Capabilities.Streaming = *mc.Streaming
	}
	if mc.Tools != nil {
		m.Capabilities.Tools = *mc.Tools
	}
	if mc.Vision != nil {
		m.Capabilities.Vision = *mc.Vision
		m.Capabilities.VisionKnown = true
	}
	if mc.SupportedParameters != nil {
		m.SupportedParameters = mc.SupportedParameters
	}
	switch sc := mc.Sampling; {
	case sc.NoTemperature:
		m.DefaultTemperature = nil
	case sc.Temperature != nil:
		m.DefaultTemperature = sc.Temperature
	}
	switch sc := mc.Sampling; {
	case sc.NoTopP:
		m.DefaultTopP = nil
	case sc.TopP != nil:
		m.DefaultTopP = sc.TopP
	}
}

// deploymentLocked returns a deployment whose health is shared with every
// earlier table's deployment of the same provider and upstream model.
func (r *Router) deploymentLocked(p Provider, pid, upstream string) *deployment {
	key := pid + "\x00" + upstream
	h, ok := r.healths[key]
	if !ok {
		h = new(health)
		r.healths[key] = h
	}
	return &deployment{provider: p, providerID: pid, upstream: upstream, health: h}
}

// forgetUnusedHealthLocked drops the health of deployments that are in no
// model of t any more, so that discovery churn does not grow the map.
func (r *Router) forgetUnusedHealthLocked(t *table) {
	used := make(map[*health]bool, len(r.healths))
	for _, m := range t.sorted {
		for _, d := range m.deployments {
			used[d.health] = true
		}
	}
	for key, h := range r.healths {
		if !used[h] {
			delete(r.healths, key)
		}
	}
}
