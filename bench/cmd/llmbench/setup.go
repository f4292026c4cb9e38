package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-llm/gateway/bench/fakeupstream"
	"github.com/caddy-llm/gateway/bench/loadgen"
)

// scenario is one way of reaching the fake upstream.
type scenario struct {
	key, title string
	// base is the URL the measured requests go to; slowBase where the
	// slow upstream's streams are opened ("" skips the memory
	// measurement).
	base, slowBase string
	slowModel      string
	header         http.Header
	// conversations makes every worker's requests stored turns of a
	// conversation of its own, created before each measurement.
	conversations bool
	// server is the process in the path (Caddy), nil when direct; admin
	// its admin endpoint.
	server *child
	admin  string
	// unavailable says why the scenario cannot run; empty when it can.
	unavailable string
	client      *http.Client
}

// env is what the run started, stopped in reverse order by close.
type env struct {
	tmp       string
	upstream  *child // the fast fake upstream
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

	if _, err := os.Stat(o.caddyBin); err != nil && (o.wants("b") || o.wants("c") || o.wants("d")) {
		return nil, fmt.Errorf("the Caddy binary %s is missing; build it with ./xcaddy.sh (./xcaddy.sh bench does): %w", o.caddyBin, err)
	}

	// The fake upstreams run as subprocesses of this very binary, so that
	// their CPU time is accounted apart from the load generator's.
	fast, fastAddr, err := startUpstream(tmp, "upstream", o.chunks, o.chunkDelay)
	if err != nil {
		return nil, err
	}
	e.upstream = fast
	e.onClose(func() { _ = fast.stop(5 * time.Second) })
	// The slow upstream's streams last long enough to be cancelled, not
	// to end, while they are counted.
	slow, slowAddr, err := startUpstream(tmp, "slow-upstream", 1000, o.slowChunkDelay)
	if err != nil {
		return nil, err
	}
	e.onClose(func() { _ = slow.stop(5 * time.Second) })

	maxConc := max(o.streamConcurrency, 1)
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
		add(&scenario{key: "a", title: "(a) direct", base: "http://" + fastAddr})
	}
	if o.wants("b") {
		s := &scenario{key: "b", title: "(b) bare Caddy"}
		logf("starting bare Caddy")
		srv, err := startCaddy(ctx, o.caddyBin, tmp, "caddy-bare", bareCaddyfile, caddyConfig{
			Upstream: fastAddr, SlowUpstream: slowAddr, IdleConns: o.caddyIdleConns,
		}, "/v1/models")
		if err != nil {
			s.unavailable = err.Error()
		} else {
			e.onClose(func() { _ = srv.proc.stop(10 * time.Second) })
			s.base, s.slowBase, s.slowModel, s.server, s.admin = srv.base, srv.slow, fakeupstream.DefaultModel, srv.proc, srv.admin
		}
		add(s)
	}
	if !o.wants("c") && !o.wants("d") {
		ok = true
		return e, nil
	}

	gw := gatewayConfig{fastAddr: fastAddr, slowAddr: slowAddr}
	redis, redisURL, err := startRedis(tmp)
	if err != nil {
		gw.unavailable = err.Error()
	} else {
		e.onClose(func() { _ = redis.stop(5 * time.Second) })
		gw.redisURL = redisURL
	}
	issuer, err := startOIDCIssuer()
	if err != nil {
		return nil, err
	}
	e.onClose(issuer.close)
	gw.issuer = issuer

	if o.wants("c") {
		add(gw.start(ctx, o, e, "c", "(c) gateway", ""))
	}
	if o.wants("d") {
		s := &scenario{key: "d", title: "(d) gateway + PostgreSQL"}
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
			add(gw.start(ctx, o, e, "d", s.title, db.URL))
		}
	}
	ok = true
	return e, nil
}

// startUpstream runs a fake upstream in a child process of this binary.
func startUpstream(tmp, name string, chunks int, delay time.Duration) (*child, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("finding this program to start the fake upstream: %w", err)
	}
	c, addr, err := startChild(childSpec{
		name: name,
		argv: []string{self, upstreamCommand, "-addr", "127.0.0.1:0",
			"-chunks", strconv.Itoa(chunks), "-chunk-delay", delay.String()},
		ready: fakeupstream.ReadyPrefix,
	}, tmp)
	if err != nil {
		return nil, "", err
	}
	return c, addr, nil
}

// gatewayConfig is what the gateway scenarios share.
type gatewayConfig struct {
	fastAddr, slowAddr string
	redisURL           string
	issuer             *oidcIssuerServer
	unavailable        string
}

// start runs a gateway (with PostgreSQL when databaseURL is set), creates
// its API key and checks that chat (and for (d) conversation turns) work.
func (g gatewayConfig) start(ctx context.Context, o *options, e *env, key, title, databaseURL string) *scenario {
	s := &scenario{key: key, title: title, slowModel: slowModel, conversations: databaseURL != ""}
	if g.unavailable != "" {
		s.unavailable = g.unavailable
		return s
	}
	logf("starting the gateway for %s", title)
	srv, err := startCaddy(ctx, o.caddyBin, e.tmp, "caddy-gateway-"+key, gatewayCaddyfile, caddyConfig{
		Upstream: g.fastAddr, SlowUpstream: g.slowAddr,
		RedisURL: g.redisURL, DatabaseURL: databaseURL, JWKSURL: g.issuer.JWKSURL,
	}, "/v1/healthz")
	if err != nil {
		s.unavailable = err.Error()
		return s
	}
	e.onClose(func() { _ = srv.proc.stop(10 * time.Second) })
	s.base, s.slowBase, s.server, s.admin = srv.base, srv.base, srv.proc, srv.admin
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
