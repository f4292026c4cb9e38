package llmapp

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-llm/gateway/handlers/usage"
	"github.com/caddy-llm/gateway/store"
)

// usageMetricsT are metering's metrics, created once per process like
// Metrics: cost by model and provider (tokens are llm_gateway_tokens_total),
// and the writer's queue, batches and drops. No user or key labels.
type usageMetricsT struct {
	cost         *prometheus.CounterVec
	queue        prometheus.GaugeFunc
	batchSeconds prometheus.Histogram
	batchErrors  prometheus.Counter
	dropped      prometheus.Counter
	// writer is the writer whose queue the gauge reports (the latest
	// config's).
	writer atomic.Pointer[usage.Writer]
}

var usageMetrics = newUsageMetrics()

func newUsageMetrics() *usageMetricsT {
	m := &usageMetricsT{
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "cost_total",
			Help: "Cost of answered requests by public model and provider, in the prices' unit (USD), from the configured prices.",
		}, []string{"model", "provider"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "usage_write_batch_seconds",
			Help:    "Time to write one batch of usage records.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}),
		batchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "usage_write_errors_total",
			Help: "Batches of usage records the database failed to take (they are retried while buffered).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "usage_records_dropped_total",
			Help: "Usage records dropped: the buffer was full during a database outage, or the database refused them.",
		}),
	}
	m.queue = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "usage_write_queue_length",
		Help: "Usage records waiting to be written.",
	}, func() float64 {
		if w := m.writer.Load(); w != nil {
			return float64(w.Len())
		}
		return 0
	})
	return m
}

func (m *usageMetricsT) register(ctx caddy.Context) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{m.cost, m.queue, m.batchSeconds, m.batchErrors, m.dropped} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

func (m *usageMetricsT) watch(w *usage.Writer) { m.writer.Store(w) }

func (m *usageMetricsT) batch(_ int, took time.Duration, err error) {
	m.batchSeconds.Observe(took.Seconds())
	if err != nil {
		m.batchErrors.Inc()
	}
}

func (m *usageMetricsT) drop(n int) { m.dropped.Add(float64(n)) }

func (m *usageMetricsT) record(r *store.UsageRecord) {
	if r.CostNanos > 0 {
		m.cost.WithLabelValues(r.Model, r.Provider).Add(float64(r.CostNanos) / 1e9)
	}
}
