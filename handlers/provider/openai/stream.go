package openai

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	wire "github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/internal/upstream"
	"github.com/caddy-llm/gateway/handlers/provider/sse"
)

var doneMarker = []byte("[DONE]")

// ChatCompletionStream starts a streamed answer. It returns once the upstream
// answered 200 with an event stream; the first-byte timeout keeps running
// until the first event arrives.
func (p *Provider) ChatCompletionStream(ctx context.Context, req *provider.Request) (provider.Stream, error) {
	ctx, wd := provider.NewWatchdog(ctx, p.cfg.FirstByteTimeout)
	hreq, err := p.newRequest(ctx, req)
	if err != nil {
		wd.Stop()
		return nil, err
	}
	resp, err := p.client.Do(hreq)
	if err != nil {
		perr := provider.ErrorFromTransport(ctx, err) // before Stop cancels ctx
		wd.Stop()
		return nil, perr
	}
	if resp.StatusCode != http.StatusOK {
		perr := p.statusError(resp, req)
		resp.Body.Close()
		wd.Stop()
		return nil, perr
	}
	if !upstream.IsEventStream(resp.Header) {
		resp.Body.Close()
		wd.Stop()
		return nil, &provider.Error{Kind: provider.KindServer, Status: resp.StatusCode, Err: errors.New("upstream answered a stream request without an event stream")}
	}
	return &stream{
		ctx:          ctx,
		wd:           wd,
		idle:         p.cfg.IdleTimeout,
		body:         resp.Body,
		events:       sse.NewReader(resp.Body, 0),
		quotedModel:  req.Model.QuotedID(),
		includeUsage: req.Chat.IncludeUsage,
	}, nil
}

// stream relays an upstream's chunks as bytes: it reads each event's
// top-level members once (for the model, usage and errors) and rewrites a
// chunk only when its model or usage must change.
type stream struct {
	ctx          context.Context
	wd           *provider.Watchdog
	idle         time.Duration
	body         io.ReadCloser
	events       *sse.Reader
	quotedModel  []byte
	includeUsage bool

	buf    []byte // a rewritten chunk, reused
	err    error  // set once the stream ended: io.EOF or the failure
	closed bool
}

func (s *stream) Next() (provider.Chunk, error) {
	if s.err != nil {
		return provider.Chunk{}, s.err
	}
	for {
		ev, err := s.events.Next()
		if err != nil {
			return provider.Chunk{}, s.fail(s.readError(err))
		}
		s.wd.Kick(s.idle)
		if string(ev.Type) == "error" {
			return provider.Chunk{}, s.fail(&provider.Error{Kind: provider.KindServer, Err: errors.New("upstream sent an error event")})
		}
		data := bytes.TrimSpace(ev.Data)
		if len(data) == 0 {
			continue
		}
		if bytes.Equal(data, doneMarker) {
			s.err = io.EOF
			return provider.Chunk{}, io.EOF
		}
		info, ok := wire.InspectChunk(data)
		if !ok {
			return provider.Chunk{}, s.fail(&provider.Error{Kind: provider.KindServer, Err: errors.New("upstream sent a malformed chunk")})
		}
		if info.HasError {
			return provider.Chunk{}, s.fail(&provider.Error{Kind: provider.KindServer, Err: errors.New("upstream failed mid-stream")})
		}
		var model []byte
		if !info.ModelIs(data, s.quotedModel) {
			model = s.quotedModel
		}
		// Usage rides on a content chunk with some servers: hide it when the
		// client did not ask. The usage-only chunk is left to the caller.
		dropUsage := info.HasUsage && !info.NoChoices && !s.includeUsage
		if model != nil || dropUsage {
			s.buf = info.Rewrite(s.buf[:0], data, model, dropUsage)
			data = s.buf
		}
		return provider.Chunk{
			Data:      data,
			Usage:     info.Usage,
			HasUsage:  info.HasUsage,
			UsageOnly: info.HasUsage && info.NoChoices,
		}, nil
	}
}

// Ready reports whether the next chunk has already arrived from the
// upstream, whole: Next returns it without waiting.
func (s *stream) Ready() bool {
	return s.err == nil && !s.closed && s.events.Ready()
}

// readError classifies a failure to read the next event.
func (s *stream) readError(err error) *provider.Error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if s.ctx.Err() == nil {
			return &provider.Error{Kind: provider.KindServer, Err: errors.New("upstream stream ended without [DONE]")}
		}
	}
	if errors.Is(err, sse.ErrEventTooLarge) {
		return &provider.Error{Kind: provider.KindServer, Err: err}
	}
	return provider.ErrorFromTransport(s.ctx, err)
}

func (s *stream) fail(e *provider.Error) error {
	s.err = e
	return e
}

// Close ends the stream. After a normal end it reads what is left of the
// body (briefly) so that the connection can be reused; otherwise it aborts
// the upstream request.
func (s *stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.err == io.EOF {
		s.wd.Kick(upstream.DrainTimeout)
		_, _ = io.CopyN(io.Discard, s.body, upstream.DrainBytes)
	}
	s.wd.Stop()
	err := s.body.Close()
	s.events.Release()
	return err
}
