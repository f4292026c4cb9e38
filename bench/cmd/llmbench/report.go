package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// report turns the samples into one Markdown table, medians across rounds,
// and a list of the targets.
type report struct {
	o       *options
	scen    []*scenario
	loads   []load
	res     results
	mem     []memory // per scenario
	prof    []profiled
	when    time.Time
	command string
}

func (r *report) index(key string) int {
	return slices.IndexFunc(r.scen, func(s *scenario) bool { return s.key == key && s.unavailable == "" })
}

func (r *report) loadIndex(l load) int { return slices.Index(r.loads, l) }

// per returns, per round, f of scenario i's sample of load j.
func (r *report) per(i, j int, f func(sample) float64) []float64 {
	if i < 0 || j < 0 {
		return nil
	}
	var out []float64
	for _, s := range r.res[i][j] {
		if s.ok {
			out = append(out, f(s))
		} else {
			out = append(out, math.NaN())
		}
	}
	return out
}

// paired combines two scenarios' per-round values round by round.
func paired(a, b []float64, f func(x, y float64) float64) []float64 {
	var out []float64
	for k := range min(len(a), len(b)) {
		out = append(out, f(a[k], b[k]))
	}
	return out
}

func sub(x, y float64) float64 { return x - y }
func div(x, y float64) float64 { return x / y }

// median of the values that are numbers; NaN when none is.
func median(xs []float64) float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtMs(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.3f", x)
}

func fmtRatio(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", x)
}

// row is one line of the table: a label and a cell per scenario.
type row struct {
	label string
	cell  func(i int) string
}

func (r *report) write(w io.Writer) {
	o := r.o
	fmt.Fprintf(w, "## LLM gateway benchmark, %s\n\n", r.when.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "Machine: %s. Command: `%s`.\n\n", machine(), r.command)
	var keys []string
	for _, s := range r.scen {
		keys = append(keys, s.key)
	}
	fmt.Fprintf(w, "%d round(s); every measurement %s after a %s warm-up, interleaved %s per measurement; medians across rounds. "+
		"Plain chat: one user message, a %d-word answer. Paced streams (concurrency %d): role chunk, %d content chunks %s apart, usage chunk, [DONE]. "+
		"Unpaced streams: role chunk, %d content chunks with no pause, usage chunk, [DONE] (%d events). "+
		"Fake upstream: fasthttp, in a process of its own. All on loopback. "+
		"(c) and (d) run the repository's Caddyfile unchanged, set up by environment only (limits of %s that decide but never refuse, log level info).\n\n",
		o.rounds, o.duration, o.warmup, strings.Join(keys, ", "), o.chunks, o.streamConcurrency, o.chunks, o.chunkDelay,
		o.burstChunks, o.burstChunks+3, neverRefuse)
	if o.openStreams > 0 {
		when := "after the rounds, so a server's RSS includes the heap the earlier load grew"
		if o.memoryFirst {
			when = "on fresh servers, before the rounds"
		}
		fmt.Fprintf(w, "Memory: %d streams held open at once to a slow upstream (a chunk every %s), %s; goroutines from the admin endpoint.\n\n",
			o.openStreams, o.slowChunkDelay, when)
	}

	a, b := r.index("a"), r.index("b")
	j1 := r.loadIndex(load{concurrency: 1})
	js := r.loadIndex(load{kind: streamLoad, concurrency: o.streamConcurrency})
	jb1 := r.loadIndex(load{kind: burstLoad, concurrency: 1})
	jbn := r.loadIndex(load{kind: burstLoad, concurrency: o.burstConcurrency})
	cmax := slices.Max(append([]int{1}, o.concurrency...))
	jmax := r.loadIndex(load{concurrency: cmax})

	p50 := func(s sample) float64 { return ms(s.p50) }
	p99 := func(s sample) float64 { return ms(s.p99) }
	ttft := func(s sample) float64 { return ms(s.ttft50) }
	gap := func(s sample) float64 { return ms(s.gap50) }
	total := func(s sample) float64 { return ms(s.total50) }
	tput := func(s sample) float64 { return s.throughput }
	cpuPer := func(s sample) float64 { return s.serverCPU * 1e6 / s.throughput }

	// added is scenario i's per-round excess over direct.
	added := func(i, j int, f func(sample) float64) float64 {
		return median(paired(r.per(i, j, f), r.per(a, j, f), sub))
	}
	// addedCell shows the added value, and with ratio its ratio to bare
	// Caddy's.
	addedCell := func(j int, f func(sample) float64, ratio bool) func(int) string {
		return func(i int) string {
			if i == a || a < 0 {
				return ""
			}
			v := added(i, j, f)
			cell := fmtMs(v)
			if ratio && i != b && b >= 0 && !math.IsNaN(v) {
				cell += " (" + fmtRatio(v/added(b, j, f)) + " b)"
			}
			return cell
		}
	}
	plainCell := func(j int, f func(sample) float64) func(int) string {
		return func(i int) string { return fmtMs(median(r.per(i, j, f))) }
	}
	// rateCell shows a rate with its per-round ratios to (a) and (b).
	rateCell := func(j int) func(int) string {
		return func(i int) string {
			v := median(r.per(i, j, tput))
			if math.IsNaN(v) {
				return "–"
			}
			cell := fmt.Sprintf("%.0f", v)
			var ratios []string
			if i != a && a >= 0 {
				ratios = append(ratios, fmtRatio(median(paired(r.per(i, j, tput), r.per(a, j, tput), div)))+" a")
			}
			if i != b && i != a && b >= 0 {
				ratios = append(ratios, fmtRatio(median(paired(r.per(i, j, tput), r.per(b, j, tput), div)))+" b")
			}
			if len(ratios) > 0 {
				cell += " (" + strings.Join(ratios, ", ") + ")"
			}
			return cell
		}
	}
	// cpuCell shows the server's CPU time per request (µs) and its ratio
	// to bare Caddy's; perCore adds how many a core would serve.
	cpuCell := func(j int, perCore string) func(int) string {
		return func(i int) string {
			if r.scen[i].server == nil {
				return ""
			}
			v := median(r.per(i, j, cpuPer))
			if math.IsNaN(v) {
				return "–"
			}
			cell := fmt.Sprintf("%.0f", v)
			if perCore != "" {
				cell += fmt.Sprintf(" (%.0f %s)", 1e6/v, perCore)
			}
			if i != b && b >= 0 {
				cell += " (" + fmtRatio(median(paired(r.per(i, j, cpuPer), r.per(b, j, cpuPer), div))) + " b)"
			}
			return cell
		}
	}
	gatewayOnly := func(i int) bool { return slices.Contains([]string{"c", "d", "u", "m"}, r.scen[i].key) }
	perRequest := func(j int, f func(sample) int64) func(int) string {
		return func(i int) string {
			if !gatewayOnly(i) {
				return ""
			}
			v := median(r.per(i, j, func(s sample) float64 {
				if f(s) < 0 || s.requests == 0 {
					return math.NaN()
				}
				return float64(f(s)) / float64(s.requests)
			}))
			if math.IsNaN(v) {
				return "–"
			}
			return fmt.Sprintf("%.2f", v)
		}
	}

	rows := []row{
		{"latency p50, plain, c=1 (ms)", plainCell(j1, p50)},
		{"latency p99, plain, c=1 (ms)", plainCell(j1, p99)},
		{"added p50 over (a) (ms)", addedCell(j1, p50, true)},
		{"added p99 over (a) (ms)", addedCell(j1, p99, true)},
	}
	low := 0
	for _, c := range o.concurrency {
		if c == 1 {
			continue
		}
		if low == 0 || c < low {
			low = c
		}
		rows = append(rows, row{fmt.Sprintf("throughput, plain, c=%d (req/s)", c), rateCell(r.loadIndex(load{concurrency: c}))})
	}
	if jmax >= 0 && cmax > 1 {
		rows = append(rows, row{fmt.Sprintf("latency p50 / p99, plain, c=%d (ms)", cmax), func(i int) string {
			return fmtMs(median(r.per(i, jmax, p50))) + " / " + fmtMs(median(r.per(i, jmax, p99)))
		}})
	}
	if low > 0 {
		rows = append(rows, row{fmt.Sprintf("server CPU per request, plain, c=%d (µs)", low), cpuCell(r.loadIndex(load{concurrency: low}), "")})
	}
	rows = append(rows,
		row{"time to first token p50, paced stream (ms)", plainCell(js, ttft)},
		row{"added time to first token p50 (ms)", addedCell(js, ttft, true)},
		row{"inter-chunk delay p50 / p99 (ms)", func(i int) string {
			return fmtMs(median(r.per(i, js, gap))) + " / " + fmtMs(median(r.per(i, js, func(s sample) float64 { return ms(s.gap99) })))
		}},
		row{"added inter-chunk delay p50 (ms)", addedCell(js, gap, false)},
		row{fmt.Sprintf("server CPU per paced stream, c=%d, %d events (µs)", o.streamConcurrency, o.chunks+3), cpuCell(js, "")},
		row{"chunks in a read of their own (streams with all)", func(i int) string {
			st := r.streamTotals(i, js)
			if st.streams == 0 {
				return "–"
			}
			cell := fmt.Sprintf("%d / %d (%d / %d)", st.separateChunks, st.chunks, st.streams-st.coalesced, st.streams)
			if st.wrong > 0 {
				cell += fmt.Sprintf(", %d streams with a wrong chunk count", st.wrong)
			}
			return cell
		}},
		row{fmt.Sprintf("stream total time p50, unpaced, c=1, %d events (ms)", o.burstChunks+3), plainCell(jb1, total)},
		row{"added stream total time p50 (ms)", addedCell(jb1, total, true)},
		row{fmt.Sprintf("streams/s, unpaced, c=%d", o.burstConcurrency), rateCell(jbn)},
		row{fmt.Sprintf("server CPU per unpaced stream, c=%d (µs)", o.burstConcurrency), cpuCell(jbn, "streams/s per core")},
		row{"Redis round trips (rate limit scripts) per request, plain, c=1", perRequest(j1, func(s sample) int64 { return s.redisCommands })},
		row{"PostgreSQL commits per request, plain, c=1", func(i int) string {
			if !r.scen[i].conversations {
				return ""
			}
			return perRequest(j1, func(s sample) int64 { return s.pgCommits })(i)
		}},
		// A Redis slower than redis_timeout (a loaded machine) opens the
		// limiter's circuit breaker: requests then skip Redis, by policy,
		// and cost less than the table's other requests.
		row{"Redis circuit breaker openings (server log)", func(i int) string {
			if !gatewayOnly(i) || r.scen[i].server == nil {
				return ""
			}
			return r.scen[i].server.logCount("redis circuit breaker opened")
		}},
		row{"errors / non-2xx / incomplete streams", func(i int) string {
			var e, n, inc int
			for _, byLoad := range r.res[i] {
				for _, s := range byLoad {
					e, n, inc = e+s.errors, n+s.non2xx, inc+s.incomplete
				}
			}
			return fmt.Sprintf("%d / %d / %d", e, n, inc)
		}},
		row{fmt.Sprintf("CPU cores at plain c=%d: upstream / server / load generator", cmax), func(i int) string {
			if !r.scen[i].runs(load{concurrency: cmax}) {
				return "–"
			}
			up := median(r.per(i, jmax, func(s sample) float64 { return s.upstreamCPU }))
			own := median(r.per(i, jmax, func(s sample) float64 { return s.own }))
			srv := "–"
			if r.scen[i].server != nil {
				srv = fmt.Sprintf("%.2f", median(r.per(i, jmax, func(s sample) float64 { return s.serverCPU })))
			}
			return fmt.Sprintf("%.2f / %s / %.2f", up, srv, own)
		}},
	)
	if o.openStreams > 0 {
		rows = append(rows,
			row{fmt.Sprintf("RSS idle → %d open streams (MB)", o.openStreams), func(i int) string {
				m := r.mem[i]
				if !m.ran {
					return ""
				}
				cell := fmt.Sprintf("%.1f → %.1f", float64(m.idleRSS)/(1<<20), float64(m.peakRSS)/(1<<20))
				if m.failed > 0 {
					cell += fmt.Sprintf(" (%d failed)", m.failed)
				}
				return cell
			}},
			row{"RSS per open stream (KB)", func(i int) string {
				m := r.mem[i]
				if !m.ran || m.open == 0 {
					return ""
				}
				return fmt.Sprintf("%.0f", float64(m.peakRSS-m.idleRSS)/1024/float64(m.open))
			}},
			row{fmt.Sprintf("server CPU relaying %d open streams, a chunk each every %s (cores; µs per chunk)", o.openStreams, o.slowChunkDelay), func(i int) string {
				m := r.mem[i]
				if !m.ran || m.open == 0 {
					return ""
				}
				perChunk := m.holdCPU * 1e6 * o.slowChunkDelay.Seconds() / float64(m.open)
				return fmt.Sprintf("%.3f; %.0f", m.holdCPU, perChunk)
			}},
			row{"goroutines idle / open / after close", func(i int) string {
				m := r.mem[i]
				if !m.ran {
					return ""
				}
				return fmt.Sprintf("%d / %d / %d (%.1fs)", m.idleG, m.duringG, m.afterG, m.settled.Seconds())
			}},
		)
	}

	// The table.
	fmt.Fprint(w, "| |")
	for _, s := range r.scen {
		fmt.Fprintf(w, " %s |", s.title)
	}
	fmt.Fprint(w, "\n|---|")
	for range r.scen {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	for _, rw := range rows {
		fmt.Fprintf(w, "| %s |", rw.label)
		for i, s := range r.scen {
			cell := "n/a"
			if s.unavailable == "" {
				cell = rw.cell(i)
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios in parentheses: to (a) direct and (b) bare Caddy, medians of per-round ratios. Added = minus (a), per round. – : not measured.")
	fmt.Fprintln(w)
	r.writeUpstreamNote(w, a, jmax, cmax)

	for _, s := range r.scen {
		if s.unavailable != "" {
			fmt.Fprintf(w, "- %s: not available: %s\n", s.title, oneLine(s.unavailable))
		}
	}
	for i, s := range r.scen {
		if f := r.firstFailure(i); f != "" {
			fmt.Fprintf(w, "- %s: first failure: %s\n", s.title, oneLine(f))
		}
	}
	r.writeTargets(w)
	for _, p := range r.prof {
		if p.err != nil {
			fmt.Fprintf(w, "- profile of %s: %v\n", p.scenario, p.err)
			continue
		}
		fmt.Fprintf(w, "- profiles of %s under %s: `go tool pprof -top %s` (CPU), `go tool pprof -sample_index=alloc_space -top %s` (allocations)\n",
			p.scenario, p.load, p.cpu, p.heap)
	}
}

func (r *report) firstFailure(i int) string {
	for _, byLoad := range r.res[i] {
		for _, s := range byLoad {
			if s.failure != "" {
				return s.failure
			}
		}
	}
	if m := r.mem[i]; m.failure != "" {
		return "open streams: " + m.failure
	}
	return ""
}

// streamTotals sums the stream counts of scenario i's load j over rounds.
func (r *report) streamTotals(i, j int) sample {
	var t sample
	if i < 0 || j < 0 {
		return t
	}
	for _, s := range r.res[i][j] {
		t.streams += s.streams
		t.coalesced += s.coalesced
		t.wrong += s.wrong
		t.chunks += s.chunks
		t.separateChunks += s.separateChunks
	}
	return t
}

// sharedShare is the fraction of chunks that arrived in a read with
// another one.
func (t sample) sharedShare() float64 {
	if t.chunks == 0 {
		return math.NaN()
	}
	return float64(t.chunks-t.separateChunks) / float64(t.chunks)
}

// writeUpstreamNote shows that the fake upstream is not what limits the
// measurements: direct, it serves far more than any proxy gets through,
// and it uses little CPU.
func (r *report) writeUpstreamNote(w io.Writer, a, jmax, cmax int) {
	if a < 0 || jmax < 0 {
		return
	}
	direct := median(r.per(a, jmax, func(s sample) float64 { return s.throughput }))
	best := math.NaN()
	for i, s := range r.scen {
		if i == a || s.unavailable != "" {
			continue
		}
		if v := median(r.per(i, jmax, func(s sample) float64 { return s.throughput })); math.IsNaN(best) || v > best {
			best = v
		}
	}
	var maxCPU float64
	for i := range r.scen {
		for _, byLoad := range r.res[i] {
			for _, s := range byLoad {
				maxCPU = max(maxCPU, s.upstreamCPU)
			}
		}
	}
	fmt.Fprintf(w, "The fake upstream is not the bottleneck: direct at c=%d it served %.0f req/s (%s the best proxied scenario) and it used at most %.2f cores in any measurement.\n\n",
		cmax, direct, fmtRatio(direct/best), maxCPU)
}

// writeTargets checks the targets of issue 14 for the gateway as shipped
// (c) against bare Caddy (b), and persistence (d) against (c); and the
// streaming targets of issue 8.
func (r *report) writeTargets(w io.Writer) {
	o := r.o
	a, b, c, d := r.index("a"), r.index("b"), r.index("c"), r.index("d")
	if c < 0 {
		return
	}
	j1 := r.loadIndex(load{concurrency: 1})
	js := r.loadIndex(load{kind: streamLoad, concurrency: o.streamConcurrency})
	jb1 := r.loadIndex(load{kind: burstLoad, concurrency: 1})
	jbn := r.loadIndex(load{kind: burstLoad, concurrency: o.burstConcurrency})

	fmt.Fprintln(w, "\nTargets (the gateway as shipped (c) against bare Caddy (b), same run):")
	check := func(name, value string, ok, applicable bool) {
		verdict := "FAIL"
		switch {
		case !applicable || value == "" || strings.Contains(value, "–"):
			verdict = "n/a"
		case ok:
			verdict = "PASS"
		}
		fmt.Fprintf(w, "- %s %s: %s\n", verdict, name, value)
	}
	addedOf := func(i, j int, f func(sample) float64) float64 {
		return median(paired(r.per(i, j, f), r.per(a, j, f), sub))
	}
	p50 := func(s sample) float64 { return ms(s.p50) }
	p99 := func(s sample) float64 { return ms(s.p99) }
	ttft := func(s sample) float64 { return ms(s.ttft50) }
	total := func(s sample) float64 { return ms(s.total50) }
	tput := func(s sample) float64 { return s.throughput }
	if a >= 0 && b >= 0 {
		v := addedOf(c, j1, p50) / addedOf(b, j1, p50)
		check("added p50 at c=1 ≤ 1.3× bare Caddy's", fmtRatio(v), v <= 1.3, true)
		v = addedOf(c, j1, p99) / addedOf(b, j1, p99)
		check("added p99 at c=1 ≤ 1.5× bare Caddy's", fmtRatio(v), v <= 1.5, true)
	}
	if b >= 0 {
		for _, conc := range o.concurrency {
			if conc == 1 {
				continue
			}
			j := r.loadIndex(load{concurrency: conc})
			v := median(paired(r.per(c, j, tput), r.per(b, j, tput), div))
			check(fmt.Sprintf("throughput at c=%d ≥ 0.9× bare Caddy's", conc), fmtRatio(v), v >= 0.9, true)
		}
	}
	if a >= 0 && b >= 0 {
		v := addedOf(c, js, ttft) / addedOf(b, js, ttft)
		check("added time to first token ≤ 1.5× bare Caddy's", fmtRatio(v), v <= 1.5, true)
		v = addedOf(c, jb1, total) / addedOf(b, jb1, total)
		check(fmt.Sprintf("added stream total time at c=1 (%d events, no pause) ≤ 1.5× bare Caddy's", o.burstChunks+3), fmtRatio(v), v <= 1.5, true)
	}
	if b >= 0 {
		v := median(paired(r.per(c, jbn, tput), r.per(b, jbn, tput), div))
		check(fmt.Sprintf("unpaced streams/s at c=%d ≥ 0.8× bare Caddy's", o.burstConcurrency), fmtRatio(v), v >= 0.8, true)
		if mc, mb := r.mem[c], r.mem[b]; mc.ran && mb.ran {
			v := float64(mc.peakRSS) / float64(mb.peakRSS)
			check(fmt.Sprintf("RSS with %d open streams ≤ bare Caddy's + 10%%", o.openStreams),
				fmt.Sprintf("%.1f MB, %s bare Caddy's %.1f MB", float64(mc.peakRSS)/(1<<20), fmtRatio(v), float64(mb.peakRSS)/(1<<20)),
				v <= 1.1 && mc.failed == 0, true)
		}
	}
	if d >= 0 {
		v := median(paired(r.per(d, j1, p50), r.per(c, j1, p50), sub))
		check("a persisted conversation turn adds ≤ 1 ms p50 ((d) − (c), c=1)", fmtMs(v)+" ms", v <= 1, true)
	}
	if u := r.index("u"); u >= 0 {
		v := median(paired(r.per(c, j1, p50), r.per(u, j1, p50), sub))
		check("usage metering adds ≤ 50 µs p50 ((c) − (u), c=1)", fmt.Sprintf("%.0f µs", v*1000), v <= 0.05, true)
	}
	if a >= 0 {
		v := addedOf(c, js, func(s sample) float64 { return ms(s.gap50) })
		check("added inter-chunk delay p50 ≤ 0.2 ms (issue 8)", fmtMs(v)+" ms", v <= 0.2, true)
	}
	// A busy machine sometimes delivers two chunks in one read whoever
	// relayed them; direct (a) and bare Caddy (b), measured alongside, show
	// how often, and the gateway may not do worse by more than a point.
	st := r.streamTotals(c, js)
	share := st.sharedShare()
	value := fmt.Sprintf("%d of %d chunks in a read of their own", st.separateChunks, st.chunks)
	ok := st.chunks > 0 && st.wrong == 0 && st.separateChunks == st.chunks
	if !ok && st.chunks > 0 && st.wrong == 0 && (a >= 0 || b >= 0) {
		floor := 0.0
		for _, k := range []int{a, b} {
			if t := r.streamTotals(k, js); t.chunks > 0 {
				floor = max(floor, t.sharedShare())
			}
		}
		value += fmt.Sprintf("; %.2f%% shared a read, at most %.2f%% in (a) and (b)", 100*share, 100*floor)
		ok = share <= floor+0.01
	}
	check("every paced chunk delivered separately (issue 8)", value, ok, st.chunks > 0)
	if m := r.mem[c]; m.ran {
		check("goroutines back to idle after the streams close (issue 8)", fmt.Sprintf("%d after, %d idle (slack %d)", m.afterG, m.idleG, goroutineSlack),
			m.backToIdle, true)
	}
}
