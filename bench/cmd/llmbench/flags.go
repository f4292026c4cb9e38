package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options are the command's settings.
type options struct {
	caddyBin          string
	rounds            int
	duration          time.Duration
	warmup            time.Duration
	concurrency       []int // throughput measurements; latency is always at 1
	streamConcurrency int
	burstConcurrency  int
	burstChunks       int
	chunks            int
	chunkDelay        time.Duration
	includeUsage      bool
	openStreams       int
	slowChunkDelay    time.Duration
	memoryFirst       bool
	scenarios         string
	databaseURL       string
	caddyIdleConns    int
	quick             bool
	profile           string // scenarios to profile, e.g. "c,d"
	profileLoad       string // "plain-<c>" or "stream-<c>"
	profileDir        string
	resultsDir        string
	root              string // the repository's root
	caddyfile         string // the default Caddyfile, run as shipped
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	o := &options{root: root}
	fs := flag.NewFlagSet("llmbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `llmbench measures the gateway against a fast fake upstream and bare Caddy.

  ./xcaddy.sh bench [flags]     (builds bin/caddy, then runs this)

Scenarios: (a) direct to the fake upstream, (b) bare Caddy reverse_proxy,
(c) the gateway as shipped: the repository's Caddyfile unchanged, set up by
environment only (API key, per-IP and per-principal Redis limits that never
refuse, log level info), (d) (c) + PostgreSQL conversation persistence,
(u) (c) with usage metering off (its cost: (c) − (u)), (m) the benchmark's
own minimal gateway config. Prints one Markdown table.

`)
		fs.PrintDefaults()
	}
	dbDefault := os.Getenv("TEST_DATABASE_URL")
	if dbDefault == "" {
		dbDefault = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	conc := fs.String("concurrency", "32,128", "comma-separated concurrencies of the throughput measurements (latency is measured at 1)")
	fs.StringVar(&o.caddyBin, "caddy", filepath.Join(root, "bin", "caddy"), "the Caddy binary with the gateway (./xcaddy.sh builds it)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; every round runs every measurement of every scenario, and the table shows medians")
	fs.DurationVar(&o.duration, "duration", 4*time.Second, "length of one measurement")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each measurement (not measured)")
	fs.IntVar(&o.streamConcurrency, "stream-concurrency", 1, "concurrency of the paced streaming measurement")
	fs.IntVar(&o.burstConcurrency, "burst-concurrency", 100, "concurrency of the unpaced stream throughput measurement (streams/s)")
	fs.IntVar(&o.burstChunks, "burst-chunks", 65, "content chunks of an unpaced stream (with the role and usage chunks and [DONE]: 3 events more)")
	fs.IntVar(&o.chunks, "chunks", 20, "content chunks per stream (words per plain answer)")
	fs.DurationVar(&o.chunkDelay, "chunk-delay", 5*time.Millisecond, "upstream pause between content chunks (long enough that a busy client rarely reads two at once)")
	fs.BoolVar(&o.includeUsage, "include-usage", true, "streams ask for the usage chunk (stream_options.include_usage)")
	fs.IntVar(&o.openStreams, "streams", 1000, "concurrent open streams for the memory measurement (0: skip it)")
	fs.DurationVar(&o.slowChunkDelay, "slow-chunk-delay", 500*time.Millisecond, "chunk pause of the slow upstream that keeps those streams open")
	fs.BoolVar(&o.memoryFirst, "memory-first", false, "hold the open streams before the rounds, on fresh servers, instead of after them (a server's RSS keeps the heap its earlier load grew)")
	fs.StringVar(&o.scenarios, "scenarios", "a,b,c,d,u,m", "scenarios to run")
	fs.StringVar(&o.caddyfile, "caddyfile", filepath.Join(root, "Caddyfile"), "the default Caddyfile that (c) and (d) run as shipped")
	fs.StringVar(&o.databaseURL, "database-url", dbDefault, "PostgreSQL server for (d); a fresh database is created on it and dropped at the end")
	fs.IntVar(&o.caddyIdleConns, "caddy-idle-conns", 512, "bare Caddy's idle upstream connections per host, matched to the gateway's provider default (0: Caddy's default, 32)")
	fs.BoolVar(&o.quick, "quick", false, "a fast smoke run: 1 round of 1s measurements, 100 open streams (flags given explicitly still win)")
	fs.StringVar(&o.profile, "profile", "", "after the rounds, capture a CPU and an allocation profile of these scenarios (e.g. b,c) under -profile-load")
	fs.StringVar(&o.profileLoad, "profile-load", "", "the load of the profiled run: plain-<c>, stream-<c> (paced) or burst-<c> (unpaced) (default plain at the highest concurrency)")
	fs.StringVar(&o.profileDir, "profile-dir", "", "where profiles go (default bench/results/pprof-<time>)")
	fs.StringVar(&o.resultsDir, "results", filepath.Join(root, "bench", "results"), "also write the table to <dir>/<time>.md (empty: do not)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.concurrency, err = parseInts(*conc); err != nil {
		return nil, fmt.Errorf("-concurrency: %w", err)
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]func(){
			"rounds":   func() { o.rounds = 1 },
			"duration": func() { o.duration = time.Second },
			"warmup":   func() { o.warmup = 200 * time.Millisecond },
			"streams":  func() { o.openStreams = 100 },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	switch {
	case o.rounds < 1:
		return nil, errors.New("-rounds must be at least 1")
	case o.duration <= 0:
		return nil, errors.New("-duration must be positive")
	case o.chunks < 2:
		return nil, errors.New("-chunks must be at least 2 (inter-chunk delays need two chunks)")
	case o.streamConcurrency < 1:
		return nil, errors.New("-stream-concurrency must be at least 1")
	case o.burstConcurrency < 1:
		return nil, errors.New("-burst-concurrency must be at least 1")
	case o.burstChunks < 1:
		return nil, errors.New("-burst-chunks must be at least 1")
	}
	for s := range strings.SplitSeq(o.scenarios, ",") {
		if !slices.Contains([]string{"a", "b", "c", "d", "u", "m"}, strings.TrimSpace(s)) {
			return nil, fmt.Errorf("-scenarios: unknown scenario %q (a, b, c, d, u, m)", s)
		}
	}
	if o.profileLoad == "" {
		o.profileLoad = "plain-" + strconv.Itoa(slices.Max(append([]int{1}, o.concurrency...)))
	}
	if _, err := parseLoad(o.profileLoad); err != nil {
		return nil, fmt.Errorf("-profile-load: %w", err)
	}
	return o, nil
}

// wants reports whether scenario key is to run.
func (o *options) wants(key string) bool { return listHas(o.scenarios, key) }

// listHas reports whether the comma-separated list holds key.
func listHas(list, key string) bool {
	for s := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(s) == key {
			return true
		}
	}
	return false
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseLoad reads "plain-128", "stream-1" or "burst-100".
func parseLoad(s string) (load, error) {
	name, n, ok := strings.Cut(s, "-")
	kind := slices.Index(loadKinds[:], name)
	c, err := strconv.Atoi(n)
	if !ok || kind < 0 || err != nil || c < 1 {
		return load{}, fmt.Errorf("%q: want plain-<concurrency>, stream-<concurrency> or burst-<concurrency>", s)
	}
	return load{kind: loadKind(kind), concurrency: c}, nil
}

// repoRoot finds the repository's root: the nearest folder up from the
// working directory that holds go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}
