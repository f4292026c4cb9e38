// Package fakeupstream is a fake OpenAI-compatible model server for the
// benchmark, built on fasthttp so that it is never what limits a
// measurement. It serves:
//
//   - POST /v1/chat/completions: a whole chat.completion, or with
//     "stream": true an SSE stream of a role chunk, Chunks content chunks
//     (each written and flushed on its own, ChunkDelay apart; the last carries
//     finish_reason "stop"), a usage chunk when
//     stream_options.include_usage is true, and data: [DONE];
//   - GET /v1/models: the configured model ids.
//
// A Variant is a model id with a stream shape of its own (say unpaced, or
// very slow), so that one upstream behind one gateway provider serves every
// kind of stream the benchmark needs; any other model name gets the default
// shape. Every body is rendered once at start-up; serving a request copies
// bytes. It accepts any credentials.
package fakeupstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
)

// Options configure a fake upstream.
type Options struct {
	// Chunks is the number of content chunks of a stream, and of words of
	// a plain answer (default 16).
	Chunks int
	// ChunkDelay is the pause before each content chunk but the first
	// (default none).
	ChunkDelay time.Duration
	// Models are the model ids GET /v1/models lists; the first is the
	// "model" of every answer but the variants' (default "bench-model").
	Models []string
	// Variants are further models, listed too, whose answers have a shape
	// of their own.
	Variants []Variant
}

// Variant is a model whose streams have their own number of chunks and
// pause between them.
type Variant struct {
	Model      string
	Chunks     int
	ChunkDelay time.Duration
}

// DefaultModel is the model id served when Options.Models is empty.
const DefaultModel = "bench-model"

func (o Options) withDefaults() Options {
	if o.Chunks <= 0 {
		o.Chunks = 16
	}
	if o.ChunkDelay < 0 {
		o.ChunkDelay = 0
	}
	if len(o.Models) == 0 {
		o.Models = []string{DefaultModel}
	}
	for i := range o.Variants {
		v := &o.Variants[i]
		v.Chunks = max(v.Chunks, 1)
		v.ChunkDelay = max(v.ChunkDelay, 0)
	}
	return o
}

// Server is a running fake upstream.
type Server struct {
	// Addr is the host:port it listens on.
	Addr string

	srv      *fasthttp.Server
	ln       net.Listener
	body     rendered            // the default shape's answers, and the shared bodies
	variants map[string]rendered // by model id
	quit     chan struct{}       // closed by Stop: open streams end at once
	done     chan error          // Serve's result
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves in the
// background until Stop.
func Start(addr string, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	s := &Server{
		Addr:     ln.Addr().String(),
		ln:       ln,
		body:     render(opts),
		variants: make(map[string]rendered, len(opts.Variants)),
		quit:     make(chan struct{}),
		done:     make(chan error, 1),
	}
	for _, v := range opts.Variants {
		s.variants[v.Model] = render(Options{Chunks: v.Chunks, ChunkDelay: v.ChunkDelay, Models: []string{v.Model}})
	}
	s.srv = &fasthttp.Server{
		Handler:         s.handle,
		Name:            "fakeupstream",
		CloseOnShutdown: true,
		// Idle keep-alive connections are closed on shutdown by the
		// server; this only bounds connections a client forgot.
		IdleTimeout: 5 * time.Minute,
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Stop ends open streams, closes the listener and waits (a few seconds at
// most) for connections to finish.
func (s *Server) Stop() error {
	close(s.quit)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := s.srv.ShutdownWithContext(ctx)
	if serveErr := <-s.done; serveErr != nil && err == nil {
		err = serveErr
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stopping the fake upstream: %w", err)
	}
	return nil
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/v1/chat/completions":
		if !ctx.IsPost() {
			s.writeJSON(ctx, fasthttp.StatusMethodNotAllowed, s.body.notFound)
			return
		}
		s.chat(ctx)
	case "/v1/models":
		if !ctx.IsGet() {
			s.writeJSON(ctx, fasthttp.StatusMethodNotAllowed, s.body.notFound)
			return
		}
		s.writeJSON(ctx, fasthttp.StatusOK, s.body.models)
	default:
		s.writeJSON(ctx, fasthttp.StatusNotFound, s.body.notFound)
	}
}

func (s *Server) chat(ctx *fasthttp.RequestCtx) {
	body := ctx.PostBody()
	if !gjson.ValidBytes(body) || gjson.GetBytes(body, "messages.#").Int() == 0 {
		s.writeJSON(ctx, fasthttp.StatusBadRequest, s.body.badInput)
		return
	}
	answers := s.body
	if len(s.variants) > 0 {
		if v, ok := s.variants[gjson.GetBytes(body, "model").Str]; ok {
			answers = v
		}
	}
	if !gjson.GetBytes(body, "stream").Bool() {
		s.writeJSON(ctx, fasthttp.StatusOK, answers.plain)
		return
	}
	includeUsage := gjson.GetBytes(body, "stream_options.include_usage").Bool()
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) { s.stream(w, answers, includeUsage) })
}

// stream writes one SSE stream, flushing every event on its own so that
// each reaches the network as a chunk of its own. It returns early when
// the client goes away (a flush fails) or the server stops.
func (s *Server) stream(w *bufio.Writer, body rendered, includeUsage bool) {
	if !writeFlush(w, body.role) {
		return
	}
	var timer *time.Timer
	for i, ev := range body.content {
		if i > 0 && body.delay > 0 {
			if timer == nil {
				timer = time.NewTimer(body.delay)
			} else {
				timer.Reset(body.delay)
			}
			select {
			case <-timer.C:
			case <-s.quit:
				timer.Stop()
				return
			}
		}
		if !writeFlush(w, ev) {
			return
		}
	}
	if includeUsage {
		_, _ = w.Write(body.usage)
	}
	_, _ = w.Write(body.done)
	_ = w.Flush()
}

func writeFlush(w *bufio.Writer, b []byte) bool {
	if _, err := w.Write(b); err != nil {
		return false
	}
	return w.Flush() == nil
}

func (s *Server) writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}
