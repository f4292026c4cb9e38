package llmapp

import (
	"errors"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the gateway's own Prometheus metrics, served on Caddy's
// metrics endpoint beside Caddy's. The collectors are created once per
// process, so counts survive reloads; each config's registry (Caddy makes a
// new one per load) gets them registered again. No label carries a user, a
// key or anything else of unbounded cardinality.
type Metrics struct {
	rateLimitDecisions *prometheus.CounterVec
	rateLimitErrors    prometheus.Counter
	requests           *prometheus.CounterVec
	tokens             *prometheus.CounterVec
	timeToFirstToken   *prometheus.HistogramVec
	upstreamLatency    *prometheus.HistogramVec
	storeErrors        *prometheus.CounterVec
}

const namespace = "llm_gateway"

var metrics = newMetrics()

func newMetrics() *Metrics {
	latencyBuckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	return &Metrics{
		rateLimitDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limit_decisions_total",
			Help: "Rate-limit decisions by limit name and decision (allowed, refused, degraded).",
		}, []string{"limit", "decision"}),
		rateLimitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limit_backend_errors_total",
			Help: "Decisions the limiter's backend (Redis) failed to make.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "chat_requests_total",
			Help: "Chat completion requests by public model, provider, status code and whether streamed.",
		}, []string{"model", "provider", "status", "stream"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tokens_total",
			Help: "Tokens by public model, provider and direction (prompt, completion).",
		}, []string{"model", "provider", "direction"}),
		timeToFirstToken: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "time_to_first_token_seconds",
			Help: "Time from the request to the first byte of the upstream's answer.", Buckets: latencyBuckets,
		}, []string{"model", "provider"}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "upstream_duration_seconds",
			Help: "Time from sending to the upstream until its answer ended.", Buckets: latencyBuckets,
		}, []string{"model", "provider"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "backend_errors_total",
			Help: "Errors talking to the gateway's backends (database, redis).",
		}, []string{"backend"}),
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.rateLimitDecisions, m.rateLimitErrors, m.requests, m.tokens,
		m.timeToFirstToken, m.upstreamLatency, m.storeErrors,
	}
}

// register adds the collectors to the config's registry.
func (m *Metrics) register(ctx caddy.Context) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

// RateLimitDecision counts one decision of the limit called name.
func (m *Metrics) RateLimitDecision(name string, allowed, degraded bool) {
	decision := "refused"
	switch {
	case degraded:
		decision = "degraded"
	case allowed:
		decision = "allowed"
	}
	m.rateLimitDecisions.WithLabelValues(name, decision).Inc()
}

// RateLimitError counts a decision the limiter's backend failed to make.
func (m *Metrics) RateLimitError() {
	m.rateLimitErrors.Inc()
	m.storeErrors.WithLabelValues("redis").Inc()
}

// StoreError counts a failed database operation.
func (m *Metrics) StoreError() { m.storeErrors.WithLabelValues("database").Inc() }

// ChatRequest counts a finished chat request.
func (m *Metrics) ChatRequest(model, provider string, status int, stream bool, promptTokens, completionTokens int, ttft, upstream float64) {
	m.requests.WithLabelValues(model, provider, strconv.Itoa(status), strconv.FormatBool(stream)).Inc()
	if promptTokens > 0 {
		m.tokens.WithLabelValues(model, provider, "prompt").Add(float64(promptTokens))
	}
	if completionTokens > 0 {
		m.tokens.WithLabelValues(model, provider, "completion").Add(float64(completionTokens))
	}
	if ttft > 0 {
		m.timeToFirstToken.WithLabelValues(model, provider).Observe(ttft)
	}
	if upstream > 0 {
		m.upstreamLatency.WithLabelValues(model, provider).Observe(upstream)
	}
}
