// Command llmbench is the gateway's benchmark. It starts a fast fake
// OpenAI-compatible upstream, Redis, a database on PostgreSQL, bare Caddy
// and the gateway (bin/caddy, with the repository's Caddyfile as shipped and
// with a generated minimal one), measures five scenarios in interleaved
// rounds and prints one Markdown table:
//
//	(a) direct to the fake upstream
//	(b) bare Caddy reverse_proxy (the same binary, a plain config)
//	(c) the gateway as shipped: the default Caddyfile, set up by
//	    environment only (API key, per-IP and per-principal Redis limits
//	    that never refuse, log level info)
//	(d) (c) with conversation persistence in PostgreSQL
//	(m) the benchmark's minimal gateway config (one Redis limit)
//
// Run it with ./xcaddy.sh bench [flags], which builds bin/caddy first; -h
// lists the flags, -quick is a smoke run of under a minute.
//
// The fake upstream is a subprocess of this binary (it re-executes itself
// with the argument "fakeupstream"), so that the CPU each party uses is
// accounted apart: the table shows the upstream's, the server's and the
// load generator's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/caddy-llm/gateway/bench/fakeupstream"
)

// upstreamCommand is the first argument that makes this binary a fake
// upstream.
const upstreamCommand = "fakeupstream"

func main() {
	if len(os.Args) > 1 && os.Args[1] == upstreamCommand {
		if err := fakeupstream.Main(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "fakeupstream:", err)
			os.Exit(1)
		}
		return
	}
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "llmbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "llmbench:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, o *options) error {
	start := time.Now()
	e, err := setup(ctx, o)
	if err != nil {
		return err
	}
	defer e.close()
	for _, s := range e.scenarios {
		if s.unavailable != "" {
			logf("%s not available: %s", s.title, oneLine(s.unavailable))
		}
	}

	var mem []memory
	if o.memoryFirst {
		mem = e.memoryPhase(ctx, o)
	}
	res := e.runRounds(ctx, o)
	if !o.memoryFirst {
		mem = e.memoryPhase(ctx, o)
	}
	stamp := start.UTC().Format("20060102-150405")
	prof := e.profile(ctx, o, stamp)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}

	r := &report{
		o: o, scen: e.scenarios, loads: o.loads(), res: res, mem: mem, prof: prof,
		when: start, command: strings.TrimSpace("./xcaddy.sh bench " + strings.Join(os.Args[1:], " ")),
	}
	var sb strings.Builder
	r.write(&sb)
	fmt.Fprintf(&sb, "\nTotal time: %s.\n", time.Since(start).Round(time.Second))
	fmt.Print(sb.String())
	if o.resultsDir != "" {
		if err := os.MkdirAll(o.resultsDir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", o.resultsDir, err)
		}
		file := filepath.Join(o.resultsDir, stamp+".md")
		if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", file, err)
		}
		logf("wrote %s", file)
	}
	return nil
}
