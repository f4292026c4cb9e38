package main

import (
	"context"
	"fmt"
	"time"

	"github.com/caddy-llm/gateway/bench/loadgen"
)

// loadKind is what a measurement sends.
type loadKind int

const (
	plainLoad  loadKind = iota // chat completions without stream
	streamLoad                 // paced streams: time to first token, gaps
	burstLoad                  // unpaced streams: total time, streams/s
)

// loadKinds are the kinds' names, as -profile-load takes them.
var loadKinds = [...]string{"plain", "stream", "burst"}

// load is one kind of measurement at a concurrency.
type load struct {
	kind        loadKind
	concurrency int
}

func (l load) stream() bool { return l.kind != plainLoad }

func (l load) String() string { return fmt.Sprintf("%s c=%d", loadKinds[l.kind], l.concurrency) }

// model is the fake upstream's model that gives the load's answers.
func (l load) model() string {
	if l.kind == burstLoad {
		return burstModel
	}
	return fastModel
}

// loads returns the measurements of a round, latency first.
func (o *options) loads() []load {
	out := []load{{concurrency: 1}}
	for _, c := range o.concurrency {
		if c != 1 {
			out = append(out, load{concurrency: c})
		}
	}
	out = append(out, load{kind: streamLoad, concurrency: o.streamConcurrency}, load{kind: burstLoad, concurrency: 1})
	if o.burstConcurrency != 1 {
		out = append(out, load{kind: burstLoad, concurrency: o.burstConcurrency})
	}
	return out
}

// chunksOf is the number of content chunks every stream of l must carry.
func (o *options) chunksOf(l load) int {
	if l.kind == burstLoad {
		return o.burstChunks
	}
	return o.chunks
}

// sample is one measurement of one scenario in one round, reduced to the
// numbers the report uses.
type sample struct {
	ok                          bool // ran (the scenario was available)
	p50, p99                    time.Duration
	throughput                  float64 // successful requests (streams) per second
	ttft50, ttft99              time.Duration
	gap50, gap99                time.Duration
	total50, total99            time.Duration // stream: request sent → end read
	requests                    int           // successful requests (complete streams)
	redisCommands, pgCommits    int64         // during the measurement; -1 unknown
	streams, coalesced, wrong   int
	chunks, separateChunks      int
	errors, non2xx, incomplete  int
	failure                     string
	upstreamCPU, serverCPU, own float64 // cores used during the measurement
}

// cpuMeter measures the CPU the three parties use during a measurement.
type cpuMeter struct {
	upstream, server int // pids; 0 for none
	start            time.Time
	up0, srv0, own0  time.Duration
}

func startCPU(upstream, server *child) *cpuMeter {
	m := &cpuMeter{start: time.Now()}
	if upstream != nil {
		m.upstream = upstream.pid()
		m.up0, _ = cpuTime(m.upstream)
	}
	if server != nil {
		m.server = server.pid()
		m.srv0, _ = cpuTime(m.server)
	}
	m.own0, _ = cpuTime(0)
	return m
}

// stop returns the cores each party used on average since start.
func (m *cpuMeter) stop() (upstream, server, own float64) {
	secs := time.Since(m.start).Seconds()
	cores := func(pid int, before time.Duration) float64 {
		after, err := cpuTime(pid)
		if err != nil {
			return 0
		}
		return (after - before).Seconds() / secs
	}
	if m.upstream != 0 {
		upstream = cores(m.upstream, m.up0)
	}
	if m.server != 0 {
		server = cores(m.server, m.srv0)
	}
	return upstream, server, cores(0, m.own0)
}

// target builds the request of a load on a scenario; (d) first creates a
// conversation per worker.
func (e *env) target(ctx context.Context, o *options, s *scenario, l load) (loadgen.Target, error) {
	var convs []string
	if s.conversations {
		var err error
		if convs, err = createConversations(ctx, s.base, s.header, l.concurrency); err != nil {
			return loadgen.Target{}, err
		}
	}
	bodies := make([][]byte, l.concurrency)
	for i := range bodies {
		conv := ""
		if convs != nil {
			conv = convs[i]
		}
		bodies[i] = chatBody(l.model(), l.stream(), o.includeUsage, conv)
	}
	return loadgen.Target{
		URL:    s.base + "/v1/chat/completions",
		Header: s.header,
		Body:   func(w int) []byte { return bodies[w] },
	}, nil
}

// measure runs one load on one scenario: a warm-up at the same
// concurrency (it opens the connections), then the measurement.
func (e *env) measure(ctx context.Context, o *options, s *scenario, l load) sample {
	t, err := e.target(ctx, o, s, l)
	if err != nil {
		// Not measured: the failure is reported, the numbers are not.
		return sample{errors: 1, failure: err.Error()}
	}
	if o.warmup > 0 {
		cfg := loadgen.Config{Concurrency: l.concurrency, Duration: o.warmup}
		if l.stream() {
			loadgen.RunStream(ctx, s.client, t, loadgen.StreamConfig{Config: cfg})
		} else {
			loadgen.RunPlain(ctx, s.client, t, cfg)
		}
	}
	return e.run(ctx, o, s, l, t, o.duration)
}

// run is the measured part of measure.
func (e *env) run(ctx context.Context, o *options, s *scenario, l load, t loadgen.Target, d time.Duration) (smp sample) {
	cfg := loadgen.Config{Concurrency: l.concurrency, Duration: d}
	smp = sample{ok: true}
	ops := e.startOps(ctx, s)
	cpu := startCPU(e.upstream, s.server)
	defer func() { smp.redisCommands, smp.pgCommits = ops.stop(ctx) }()
	if l.stream() {
		r := loadgen.RunStream(ctx, s.client, t, loadgen.StreamConfig{Config: cfg, Chunks: o.chunksOf(l)})
		smp.upstreamCPU, smp.serverCPU, smp.own = cpu.stop()
		smp.ttft50, smp.ttft99 = loadgen.Percentile(r.TTFT, 50), loadgen.Percentile(r.TTFT, 99)
		smp.gap50, smp.gap99 = loadgen.Percentile(r.Gaps, 50), loadgen.Percentile(r.Gaps, 99)
		smp.total50, smp.total99 = loadgen.Percentile(r.Total, 50), loadgen.Percentile(r.Total, 99)
		smp.requests = r.Complete
		smp.streams, smp.coalesced, smp.wrong = r.Complete, r.Coalesced, r.WrongCount
		smp.chunks, smp.separateChunks = r.Chunks, r.ContentReads
		smp.errors, smp.non2xx, smp.incomplete = r.Errors, r.Non2xx, r.Incomplete
		smp.throughput = float64(r.Complete) / r.Elapsed.Seconds()
		smp.failure = r.FirstFailure
		return smp
	}
	r := loadgen.RunPlain(ctx, s.client, t, cfg)
	smp.upstreamCPU, smp.serverCPU, smp.own = cpu.stop()
	smp.p50, smp.p99 = loadgen.Percentile(r.Latencies, 50), loadgen.Percentile(r.Latencies, 99)
	smp.throughput = r.Throughput()
	smp.requests = r.OK
	smp.errors, smp.non2xx = r.Errors, r.Non2xx
	smp.failure = r.FirstFailure
	return smp
}

// results holds every sample: results[scenario][load][round].
type results [][][]sample

// runRounds runs every load on every scenario, round after round. Within
// a round each load runs on the scenarios one after the other (a, b, c, d),
// so that the numbers compared are measured close together in time.
func (e *env) runRounds(ctx context.Context, o *options) results {
	loads := o.loads()
	res := make(results, len(e.scenarios))
	for i := range res {
		res[i] = make([][]sample, len(loads))
		for j := range res[i] {
			res[i][j] = make([]sample, o.rounds)
		}
	}
	for r := range o.rounds {
		for j, l := range loads {
			logf("round %d/%d: %s", r+1, o.rounds, l)
			for i, s := range e.scenarios {
				if !s.runs(l) || ctx.Err() != nil {
					continue
				}
				res[i][j][r] = e.measure(ctx, o, s, l)
				if f := res[i][j][r].failure; f != "" {
					logf("  %s: %s", s.title, oneLine(f))
				}
			}
		}
	}
	return res
}
