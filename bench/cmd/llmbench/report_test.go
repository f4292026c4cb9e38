package main

import (
	"strings"
	"testing"
	"time"
)

// fakeRun builds a report of two rounds over a, b, c, d with known numbers:
// per round, c adds `cAdded` to a's latency where b adds 1 ms.
func fakeRun(t *testing.T, cAdded time.Duration, cThroughput float64, cRSS int64) string {
	t.Helper()
	o := &options{rounds: 2, duration: time.Second, warmup: time.Millisecond, concurrency: []int{128},
		streamConcurrency: 1, burstConcurrency: 100, burstChunks: 65, chunks: 20, chunkDelay: 5 * time.Millisecond,
		openStreams: 1000, slowChunkDelay: time.Second}
	scen := []*scenario{
		{key: "a", title: "(a) direct"},
		{key: "b", title: "(b) bare Caddy", server: &child{}},
		{key: "c", title: "(c) gateway as shipped", server: &child{}},
		{key: "d", title: "(d) as shipped + PostgreSQL", unavailable: "conversation turns: status 400"},
	}
	loads := o.loads()                                                  // plain c=1, plain c=128, stream c=1, burst c=1, burst c=100
	base := []time.Duration{2 * time.Millisecond, 3 * time.Millisecond} // a's p50 per round
	added := map[string]time.Duration{"a": 0, "b": time.Millisecond, "c": cAdded}
	throughput := map[string]float64{"a": 10000, "b": 4000, "c": cThroughput}
	res := make(results, len(scen))
	for i, s := range scen {
		res[i] = make([][]sample, len(loads))
		for j, l := range loads {
			res[i][j] = make([]sample, o.rounds)
			if s.unavailable != "" {
				continue
			}
			for r := range o.rounds {
				smp := sample{ok: true, throughput: throughput[s.key], serverCPU: 0.5, redisCommands: -1, pgCommits: -1}
				switch l.kind {
				case streamLoad:
					smp.ttft50 = base[r] + added[s.key]
					smp.gap50 = 5*time.Millisecond + added[s.key]/100
					smp.streams, smp.chunks, smp.separateChunks = 10, 200, 200
				case burstLoad:
					smp.total50 = 2*base[r] + added[s.key]
				default:
					smp.p50 = base[r] + added[s.key]
					smp.p99 = 2 * smp.p50
				}
				if s.key == "c" && l.concurrency == 1 {
					smp.requests, smp.redisCommands = 100, 200
				}
				res[i][j][r] = smp
			}
		}
	}
	mem := make([]memory, len(scen))
	mem[1] = memory{ran: true, open: 1000, idleRSS: 50 << 20, peakRSS: 100 << 20, idleG: 20, duringG: 4020, afterG: 21, backToIdle: true}
	mem[2] = memory{ran: true, open: 1000, idleRSS: 50 << 20, peakRSS: cRSS << 20, idleG: 20, duringG: 4020, afterG: 21, backToIdle: true, holdCPU: 0.05}
	var sb strings.Builder
	(&report{o: o, scen: scen, loads: loads, res: res, mem: mem, when: time.Unix(0, 0), command: "./xcaddy.sh bench"}).write(&sb)
	return sb.String()
}

func TestReportPasses(t *testing.T) {
	out := fakeRun(t, 1200*time.Microsecond, 3800, 105)
	for _, want := range []string{
		"| added p50 over (a) (ms) |  | 1.000 | 1.200 (1.20× b) | n/a |",
		"| throughput, plain, c=128 (req/s) | 10000 | 4000 (0.40× a) | 3800 (0.38× a, 0.95× b) | n/a |",
		"| streams/s, unpaced, c=100 | 10000 | 4000 (0.40× a) | 3800 (0.38× a, 0.95× b) | n/a |",
		"| server CPU per unpaced stream, c=100 (µs) |  | 125 (8000 streams/s per core) | 132 (7600 streams/s per core) (1.05× b) | n/a |",
		"| added stream total time p50 (ms) |  | 1.000 | 1.200 (1.20× b) | n/a |",
		"| server CPU per paced stream, c=1, 23 events (µs) |  | 125 | 132 (1.05× b) | n/a |",
		"| Redis round trips (rate limit scripts) per request, plain, c=1 |  |  | 2.00 | n/a |",
		"| RSS per open stream (KB) |  | 51 | 56 | n/a |",
		"| server CPU relaying 1000 open streams, a chunk each every 1s (cores; µs per chunk) |  | 0.000; 0 | 0.050; 50 | n/a |",
		"- PASS added p50 at c=1 ≤ 1.3× bare Caddy's: 1.20×",
		"- PASS added p99 at c=1 ≤ 1.5× bare Caddy's: 1.20×",
		"- PASS throughput at c=128 ≥ 0.9× bare Caddy's: 0.95×",
		"- PASS added stream total time at c=1 (68 events, no pause) ≤ 1.5× bare Caddy's: 1.20×",
		"- PASS unpaced streams/s at c=100 ≥ 0.8× bare Caddy's: 0.95×",
		"- PASS RSS with 1000 open streams ≤ bare Caddy's + 10%: 105.0 MB, 1.05× bare Caddy's 100.0 MB",
		"- PASS added inter-chunk delay p50 ≤ 0.2 ms (issue 8): 0.012 ms",
		"- PASS every paced chunk delivered separately (issue 8): 400 of 400 chunks",
		"- PASS goroutines back to idle after the streams close",
		"(d) as shipped + PostgreSQL: not available: conversation turns: status 400",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "persisted conversation turn adds") {
		t.Errorf("a target of the unavailable (d) was checked:\n%s", out)
	}
}

func TestReportFails(t *testing.T) {
	out := fakeRun(t, 2*time.Millisecond, 3000, 120)
	for _, want := range []string{
		"- FAIL added p50 at c=1 ≤ 1.3× bare Caddy's: 2.00×",
		"- FAIL added time to first token ≤ 1.5× bare Caddy's: 2.00×",
		"- FAIL added stream total time at c=1 (68 events, no pause) ≤ 1.5× bare Caddy's: 2.00×",
		"- FAIL throughput at c=128 ≥ 0.9× bare Caddy's: 0.75×",
		"- FAIL unpaced streams/s at c=100 ≥ 0.8× bare Caddy's: 0.75×",
		"- FAIL RSS with 1000 open streams ≤ bare Caddy's + 10%: 120.0 MB, 1.20× bare Caddy's 100.0 MB",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}
