package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-llm/gateway/bench/fakeupstream"
	"github.com/caddy-llm/gateway/bench/loadgen"
)

// scenario is one way of reaching the fake upstream.
type scenario struct {
	key, title string
	// base is the URL the measured requests go to, and where the slow
	// streams of the memory measurement are opened.
	base   string
	header http.Header
	// conversations makes every worker's requests stored turns of a
	// conversation of its own, created before each measurement.
	conversations bool
	// skip, when set, leaves out some loads (to keep the run short).
	skip func(load) bool
	// server is the process in the path (Caddy), nil when direct; admin
	// its admin endpoint.
	server *child
	admin  string
	// unavailable says why the scenario cannot run; empty when it can.
	unavailable string
	client      *http.Client
}

// runs reports whether load l is measured on s.
func (s *scenario) runs(l load) bool { return s.unavailable == "" && (s.skip == nil || !s.skip(l)) }

// env is what the run started, stopped in reverse order by close.
type env struct {
	tmp       string
	upstream  *child // the fake upstream
	redisURL  string // "" without Redis
	db        *benchDatabase
	cleanups  []func()
	scenarios []*scenario
}

// onClose registers f to run at close, before what was registered earlier.
func (e *env) onClose(f func()) { e.cleanups = append(e.cleanups, f) }

func (e *env) close() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}

// logf prints progress to stderr; stdout carries only the table.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "llmbench: "+format+"\n", args...)
}

// setup starts everything the scenarios need. A scenario that cannot be
// set up is kept, marked unavailable with the reason.
func setup(ctx context.Context, o *options) (*env, error) {
	tmp, err := os.MkdirTemp("", "llmbench-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary folder: %w", err)
	}
	e := &env{tmp: tmp}
	e.onClose(func() { _ = os.RemoveAll(tmp) })
	ok := false
	defer func() {
		if !ok {
			e.close()
		}
	}()

	if _, err := os.Stat(o.caddyBin); err != nil && (o.wants("b") || o.wants("c") || o.wants("d") || o.wants("u") || o.wants("m")) {
		return nil, fmt.Errorf("the Caddy binary %s is missing; build it with ./xcaddy.sh (./xcaddy.sh bench does): %w", o.caddyBin, err)
	}

	// The fake upstream runs as a subprocess of this very binary, so that
	// its CPU time is accounted apart from the load generator's. Its
	// variants are the unpaced streams and the slow ones that stay open
	// while they are counted.
	up, upAddr, err := startUpstream(tmp, "upstream", o.chunks, o.chunkDelay,
		fakeupstream.Variant{Model: burstModel, Chunks: o.burstChunks},
		fakeupstream.Variant{Model: slowModel, Chunks: 1000, ChunkDelay: o.slowChunkDelay})
	if err != nil {
		return nil, err
	}
	e.upstream = up
	e.onClose(func() { _ = up.stop(5 * time.Second) })

	maxConc := max(o.streamConcurrency, o.burstConcurrency, 1)
	for _, c := range o.concurrency {
		maxConc = max(maxConc, c)
	}
	add := func(s *scenario) {
		s.client = loadgen.NewClient(maxConc)
		if s.header == nil {
			s.header = http.Header{}
		}
		e.scenarios = append(e.scenarios, s)
	}

	if o.wants("a") {
		add(&scenario{key: "a", title: "(a) direct", base: "http://" + upAddr})
	}
	if o.wants("b") {
		s := &scenario{key: "b", title: "(b) bare Caddy"}
		logf("starting bare Caddy")
		srv, err := startGenerated(ctx, o.caddyBin, tmp, "caddy-bare", bareCaddyfile, caddyConfig{
			Upstream: upAddr, IdleConns: o.caddyIdleConns,
		}, "/v1/models")
		if err != nil {
			s.unavailable = err.Error()
		} else {
			e.onClose(func() { _ = srv.proc.stop(10 * time.Second) })
			s.base, s.server, s.admin = srv.base, srv.proc, srv.admin
		}
		add(s)
	}
	if !o.wants("c") && !o.wants("d") && !o.wants("u") && !o.wants("m") {
		ok = true
		return e, nil
	}

	gw := gatewayConfig{upstreamAddr: upAddr}
	redis, redisURL, err := startRedis(tmp)
	if err != nil {
		gw.unavailable = err.Error()
	} else {
		e.onClose(func() { _ = redis.stop(5 * time.Second) })
		gw.redisURL = redisURL
	}
	e.redisURL = gw.redisURL
	issuer, err := startOIDCIssuer()
	if err != nil {
		return nil, err
	}
	e.onClose(issuer.close)
	gw.issuer = issuer

	if o.wants("c") {
		add(gw.start(ctx, o, e, "c", "(c) gateway as shipped", ""))
	}
	if o.wants("d") {
		s := &scenario{key: "d", title: "(d) as shipped + PostgreSQL"}
		db, err := createDatabase(ctx, o.databaseURL)
		if err != nil {
			s.unavailable = "PostgreSQL: " + err.Error()
			add(s)
		} else {
			// Registered before the gateway starts, so it is dropped after
			// the gateway stops.
			e.onClose(func() {
				if err := db.drop(); err != nil {
					logf("%v", err)
				}
			})
			e.db = db
			s = gw.start(ctx, o, e, "d", s.title, db.URL)
			// Persistence is measured on conversation turns at c=1 and at
			// the lowest throughput concurrency; the rest would only
			// lengthen the run.
			low := slices.Min(append([]int{1 << 30}, o.concurrency...))
			s.skip = func(l load) bool { return l.kind != plainLoad || (l.concurrency != 1 && l.concurrency != low) }
			add(s)
		}
	}
	if o.wants("u") {
		s := gw.start(ctx, o, e, "u", "(u) as shipped, usage metering off", "")
		// Metering's cost is measured on plain requests at c=1 and at the
		// lowest throughput concurrency, as persistence's.
		low := slices.Min(append([]int{1 << 30}, o.concurrency...))
		s.skip = func(l load) bool { return l.kind != plainLoad || (l.concurrency != 1 && l.concurrency != low) }
		add(s)
	}
	if o.wants("m") {
		add(gw.start(ctx, o, e, "m", "(m) gateway, minimal config", ""))
	}
	ok = true
	return e, nil
}

// startUpstream runs a fake upstream in a child process of this binary.
func startUpstream(tmp, name string, chunks int, delay time.Duration, variants ...fakeupstream.Variant) (*child, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("finding this program to start the fake upstream: %w", err)
	}
	argv := []string{self, upstreamCommand, "-addr", "127.0.0.1:0",
		"-chunks", strconv.Itoa(chunks), "-chunk-delay", delay.String(), "-models", fastModel}
	for _, v := range variants {
		argv = append(argv, "-variant", v.String())
	}
	c, addr, err := startChild(childSpec{
		name:  name,
		argv:  argv,
		ready: fakeupstream.ReadyPrefix,
	}, tmp)
	if err != nil {
		return nil, "", err
	}
	return c, addr, nil
}

// gatewayConfig is what the gateway scenarios share.
type gatewayConfig struct {
	upstreamAddr string
	redisURL     string
	issuer       *oidcIssuerServer
	unavailable  string
}

// start runs a gateway: the repository's Caddyfile as shipped (with
// PostgreSQL when databaseURL is set), or for (m) the benchmark's minimal
// one; it creates its API key and checks that chat (and for (d)
// conversation turns) work.
func (g gatewayConfig) start(ctx context.Context, o *options, e *env, key, title, databaseURL string) *scenario {
	s := &scenario{key: key, title: title, conversations: databaseURL != ""}
	if g.unavailable != "" {
		s.unavailable = g.unavailable
		return s
	}
	logf("starting %s", title)
	name := "caddy-gateway-" + key
	var srv *caddyServer
	var err error
	if key == "m" {
		srv, err = startGenerated(ctx, o.caddyBin, e.tmp, name, minimalCaddyfile, caddyConfig{
			Upstream: g.upstreamAddr, RedisURL: g.redisURL, JWKSURL: g.issuer.JWKSURL,
		}, "/v1/healthz")
	} else {
		var run caddyRun
		if key == "u" {
			run, err = meteringOffRun(o.caddyfile, filepath.Join(e.tmp, name), g)
		} else {
			run, err = shippedRun(o.caddyfile, filepath.Join(e.tmp, name), g, databaseURL)
		}
		if err == nil {
			srv, err = startCaddy(ctx, o.caddyBin, e.tmp, run)
		}
	}
	if err != nil {
		s.unavailable = err.Error()
		return s
	}
	e.onClose(func() { _ = srv.proc.stop(10 * time.Second) })
	s.base, s.server, s.admin = srv.base, srv.proc, srv.admin
	if err := g.prepare(ctx, s); err != nil {
		s.unavailable = err.Error()
		// Stopped now, so that an idle gateway does not share the cores
		// with the measurements.
		_ = srv.proc.stop(10 * time.Second)
	}
	return s
}

// prepare creates the API key of a running gateway's scenario and checks
// that chat works through the key and the Redis rate limiter (and for (d)
// that a stored turn lands in its conversation).
func (g gatewayConfig) prepare(ctx context.Context, s *scenario) error {
	apiKey, err := createAPIKey(ctx, s.base, g.issuer, "bench-user")
	if err != nil {
		return err
	}
	s.header = http.Header{"Authorization": {"Bearer " + apiKey}}
	calls, err := redisScriptCalls(g.redisURL)
	if err != nil {
		return err
	}
	if err := probeChat(ctx, s.base, s.header, chatBody(fastModel, false, false, "")); err != nil {
		return err
	}
	// The limiter fails open when Redis does not answer: make sure it asked
	// Redis rather than measure a gateway without it.
	after, err := redisScriptCalls(g.redisURL)
	if err != nil {
		return err
	}
	if after <= calls {
		return errors.New("probing chat: the rate limiter ran no script in Redis")
	}
	if !s.conversations {
		return nil
	}
	ids, err := createConversations(ctx, s.base, s.header, 1)
	if err == nil {
		err = probeConversationTurn(ctx, s.base, s.header, ids[0])
	}
	if err != nil {
		return fmt.Errorf("conversation turns: %s", strings.TrimPrefix(err.Error(), errNotAvailable.Error()+": "))
	}
	return nil
}

// oneLine flattens a message for a table cell.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}
