package provider

import (
	"sync/atomic"
	"time"

	"github.com/caddy-llm/gateway/handlers/openai"
)

// Model is one public model of the routing table. Models are immutable once
// the table is published; only the round-robin counter and the deployments'
// health change.
type Model struct {
	ID                  string
	OwnedBy             string
	Created             int64
	DisplayName         string
	ContextLength       int
	MaxOutputTokens     int
	Capabilities        Capabilities
	SupportedParameters []string
	// DefaultTemperature and DefaultTopP are sent upstream when a request
	// omits the parameter; nil leaves it out. They are the spec's defaults
	// (0.7 and 1.0) unless the configuration overrides them.
	DefaultTemperature, DefaultTopP *float64

	quotedID    []byte // ID as a JSON string, for rewriting chunks
	deployments []*deployment
	next        atomic.Uint32
}

// QuotedID returns the model id as a JSON string. Callers must not change it.
func (m *Model) QuotedID() []byte { return m.quotedID }

// Deployments returns the provider id and upstream model name of each
// deployment, in configuration order.
func (m *Model) Deployments() []DeploymentInfo {
	out := make([]DeploymentInfo, len(m.deployments))
	for i, d := range m.deployments {
		out[i] = DeploymentInfo{Provider: d.providerID, Model: d.upstream}
	}
	return out
}

// DeploymentInfo names one deployment.
type DeploymentInfo struct {
	Provider string
	Model    string
}

// deployment is one provider serving a model under its upstream name.
type deployment struct {
	provider   Provider
	providerID string
	upstream   string
	health     *health
}

// maxInlineDeployments is how many deployments the routing order keeps on
// the stack.
const maxInlineDeployments = 8

// order returns the deployments to try, in order: the healthy ones first,
// starting at the next in round-robin, then those cooling down (still better
// than failing outright when all are).
func (m *Model) order(now int64, buf *[maxInlineDeployments]*deployment) []*deployment {
	n := len(m.deployments)
	out := buf[:0]
	if n > maxInlineDeployments {
		out = make([]*deployment, 0, n)
	}
	if n == 1 {
		return append(out, m.deployments[0])
	}
	start := int(m.next.Add(1)-1) % n
	for i := range n {
		if d := m.deployments[(start+i)%n]; !d.health.cooling(now) {
			out = append(out, d)
		}
	}
	for i := range n {
		if d := m.deployments[(start+i)%n]; d.health.cooling(now) {
			out = append(out, d)
		}
	}
	return out
}

// health is the shared failure state of one deployment. It survives table
// rebuilds (the router keys it by provider and upstream model).
type health struct {
	failures  atomic.Int32
	coolUntil atomic.Int64 // Unix nanoseconds
}

func (h *health) cooling(now int64) bool { return h.coolUntil.Load() > now }

func (h *health) succeeded() {
	// Read first: a write to a shared cache line on every request would cost
	// more than the check.
	if h.failures.Load() != 0 {
		h.failures.Store(0)
	}
}

func (h *health) failed(e *Error, p *healthPolicy, now time.Time) {
	if e.Kind == KindRateLimited && e.RetryAfter > 0 {
		h.coolUntil.Store(now.Add(min(e.RetryAfter, p.maxCooldown)).UnixNano())
	}
	if h.failures.Add(1) >= int32(p.threshold) {
		h.failures.Store(0)
		until := now.Add(p.cooldown).UnixNano()
		if until > h.coolUntil.Load() {
			h.coolUntil.Store(until)
		}
	}
}

type healthPolicy struct {
	threshold   int
	cooldown    time.Duration
	maxCooldown time.Duration
}

// The spec's sampling defaults, shared by every model that keeps them.
// Nothing writes them.
var (
	specTemperature = openai.SpecDefaultTemperature
	specTopP        = openai.SpecDefaultTopP
)

func newModel(spec ModelSpec) *Model {
	return &Model{
		ID:                  spec.ID,
		OwnedBy:             spec.OwnedBy,
		Created:             spec.Created,
		DisplayName:         spec.DisplayName,
		ContextLength:       spec.ContextLength,
		MaxOutputTokens:     spec.MaxOutputTokens,
		Capabilities:        spec.Capabilities,
		SupportedParameters: spec.SupportedParameters,
		DefaultTemperature:  &specTemperature,
		DefaultTopP:         &specTopP,
		quotedID:            openai.AppendString(nil, spec.ID),
	}
}
