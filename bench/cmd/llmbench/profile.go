package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// profiled lists the profiles captured from one scenario.
type profiled struct {
	scenario  string
	load      string
	cpu, heap string // files; empty when capturing failed
	err       error
}

// profile runs the profile load once more on each scenario of o.profile,
// outside the measured rounds, while Caddy's admin endpoint records a CPU
// profile and an allocation profile (the allocations of that window only)
// of the server.
func (e *env) profile(ctx context.Context, o *options, stamp string) []profiled {
	if o.profile == "" {
		return nil
	}
	dir := o.profileDir
	if dir == "" {
		dir = filepath.Join(o.root, "bench", "results", "pprof-"+stamp)
	}
	l, _ := parseLoad(o.profileLoad)
	secs := max(1, int(o.duration.Seconds()))
	var out []profiled
	for _, s := range e.scenarios {
		if !listHas(o.profile, s.key) {
			continue
		}
		p := profiled{scenario: s.title, load: l.String()}
		if s.unavailable != "" || s.admin == "" {
			p.err = fmt.Errorf("%s has no server to profile", s.title)
			out = append(out, p)
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			p.err = fmt.Errorf("creating %s: %w", dir, err)
			out = append(out, p)
			continue
		}
		logf("profiling %s under %s for %ds", s.title, l, secs)
		t, err := e.target(ctx, o, s, l)
		if err != nil {
			p.err = err
			out = append(out, p)
			continue
		}
		base := filepath.Join(dir, s.key+"-"+o.profileLoad)
		cpuFile, heapFile := base+".cpu.pprof", base+".allocs.pprof"
		var wg sync.WaitGroup
		var cpuErr, heapErr error
		// The load starts first and outlasts the profiles by half a second.
		wg.Go(func() {
			time.Sleep(200 * time.Millisecond)
			cpuErr = fetchProfile(ctx, s.admin, "profile?seconds="+strconv.Itoa(secs), cpuFile)
		})
		wg.Go(func() {
			time.Sleep(200 * time.Millisecond)
			heapErr = fetchProfile(ctx, s.admin, "allocs?seconds="+strconv.Itoa(secs), heapFile)
		})
		e.run(ctx, o, s, l, t, time.Duration(secs)*time.Second+700*time.Millisecond)
		wg.Wait()
		if cpuErr == nil {
			p.cpu = cpuFile
		}
		if heapErr == nil {
			p.heap = heapFile
		}
		if cpuErr != nil {
			p.err = cpuErr
		} else if heapErr != nil {
			p.err = heapErr
		}
		out = append(out, p)
	}
	return out
}
