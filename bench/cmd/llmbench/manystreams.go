package main

import (
	"context"
	"time"

	"github.com/caddy-llm/gateway/bench/loadgen"
)

// goroutineSlack is how many goroutines above the idle count still count
// as "back to idle": a server's background goroutines come and go.
const goroutineSlack = 5

// memory is what holding many streams open cost a server.
type memory struct {
	ran                    bool
	open, failed           int
	failure                string
	idleRSS, peakRSS       int64
	idleG, duringG, afterG int
	settled                time.Duration // how long goroutines took to come back
	backToIdle             bool
	// holdCPU is the cores the server used while relaying the open
	// streams' chunks (one per stream every -slow-chunk-delay).
	holdCPU float64
}

// memoryPhase runs manyStreams on every proxy, one after the other.
func (e *env) memoryPhase(ctx context.Context, o *options) []memory {
	mem := make([]memory, len(e.scenarios))
	if o.openStreams <= 0 {
		return mem
	}
	for i, s := range e.scenarios {
		if s.unavailable != "" || s.server == nil || ctx.Err() != nil {
			continue
		}
		logf("holding %d streams open through %s", o.openStreams, s.title)
		mem[i] = e.manyStreams(ctx, o, s)
	}
	return mem
}

// manyStreams opens o.openStreams streams to the slow upstream through s at
// once and measures the server's RSS and goroutines before, while they are
// open and after they are closed (by the client, mid-stream).
func (e *env) manyStreams(ctx context.Context, o *options, s *scenario) memory {
	m := memory{ran: true}
	// The measurement client's keep-alive connections hold server
	// goroutines; close them so that idle means idle.
	s.client.CloseIdleConnections()
	time.Sleep(time.Second)
	var err error
	if m.idleG, err = goroutines(ctx, s.admin); err != nil {
		m.failure = err.Error()
		return m
	}
	if m.idleRSS, err = rssBytes(s.server.pid()); err != nil {
		m.failure = err.Error()
		return m
	}

	client := loadgen.NewClient(o.openStreams)
	defer client.CloseIdleConnections()
	body := chatBody(slowModel, true, o.includeUsage, "")
	t := loadgen.Target{URL: s.base + "/v1/chat/completions", Header: s.header, Body: func(int) []byte { return body }}
	held := loadgen.HoldStreams(ctx, client, t, o.openStreams)
	m.open, m.failed, m.failure = held.Open, held.Failed, held.FirstFailure

	// The peak of a few samples while every stream is open, and the CPU
	// the server spends relaying their chunks meanwhile.
	cpu := startCPU(nil, s.server)
	for range 10 {
		if rss, err := rssBytes(s.server.pid()); err == nil {
			m.peakRSS = max(m.peakRSS, rss)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, m.holdCPU, _ = cpu.stop()
	m.duringG, _ = goroutines(ctx, s.admin)

	held.Close()
	client.CloseIdleConnections()
	start := time.Now()
	for {
		m.afterG, err = goroutines(ctx, s.admin)
		if err == nil && m.afterG <= m.idleG+goroutineSlack {
			m.backToIdle = true
			break
		}
		if time.Since(start) > 15*time.Second || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.settled = time.Since(start)
	return m
}
