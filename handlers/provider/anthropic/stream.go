package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	wire "github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/internal/upstream"
	"github.com/caddy-llm/gateway/handlers/provider/sse"
)

// ChatCompletionStream starts a streamed answer and translates its events.
func (p *Provider) ChatCompletionStream(ctx context.Context, req *provider.Request) (provider.Stream, error) {
	ctx, wd := provider.NewWatchdog(ctx, p.cfg.FirstByteTimeout)
	hreq, _, err := p.newRequest(ctx, req, true)
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
		perr := provider.ErrorFromStatus(resp.StatusCode, resp.Header, upstream.ReadError(resp.Body),
			req.UpstreamModel, req.Model.ID, p.cfg.APIKey, "[redacted]")
		resp.Body.Close()
		wd.Stop()
		return nil, perr
	}
	if !upstream.IsEventStream(resp.Header) {
		resp.Body.Close()
		wd.Stop()
		return nil, &provider.Error{Kind: provider.KindServer, Status: resp.StatusCode, Err: errors.New("upstream answered a stream request without an event stream")}
	}
	s := &stream{
		ctx:     ctx,
		wd:      wd,
		idle:    p.cfg.IdleTimeout,
		body:    resp.Body,
		events:  sse.NewReader(resp.Body, 0),
		model:   req.Model.ID,
		created: time.Now().Unix(),
	}
	s.enc = json.NewEncoder(&s.buf)
	s.enc.SetEscapeHTML(false)
	return s, nil
}

// event is any Messages stream event; unused fields stay empty.
type event struct {
	Type    string `json:"type"`
	Message *struct {
		ID    string `json:"id"`
		Usage usage  `json:"usage"`
	} `json:"message"`
	Index        int `json:"index"`
	ContentBlock *struct {
		Type string `json:"type"`
		Text string `json:"text"`
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"content_block"`
	Delta *struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Usage *usage `json:"usage"`
	Error *struct {
		Type string `json:"type"`
	} `json:"error"`
}

// stream translates Messages events into chat.completion.chunk objects, one
// chunk per event that carries something.
type stream struct {
	ctx     context.Context
	wd      *provider.Watchdog
	idle    time.Duration
	body    io.ReadCloser
	events  *sse.Reader
	model   string
	created int64

	id       string
	usage    usage
	toolOf   []int // content block index → tool call index, -1 for other blocks
	tools    int
	stopped  bool // message_stop seen: the usage chunk is next, then the end
	buf      bytes.Buffer
	enc      *json.Encoder
	err      error
	closed   bool
	finished bool // the usage chunk was sent
}

func (s *stream) Next() (provider.Chunk, error) {
	if s.err != nil {
		return provider.Chunk{}, s.err
	}
	if s.stopped {
		if s.finished {
			s.err = io.EOF
			return provider.Chunk{}, io.EOF
		}
		s.finished = true
		return s.usageChunk()
	}
	for {
		ev, err := s.events.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				if s.ctx.Err() == nil {
					return provider.Chunk{}, s.fail(&provider.Error{Kind: provider.KindServer, Err: errors.New("upstream stream ended without message_stop")})
				}
			}
			return provider.Chunk{}, s.fail(provider.ErrorFromTransport(s.ctx, err))
		}
		s.wd.Kick(s.idle)
		var e event
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return provider.Chunk{}, s.fail(&provider.Error{Kind: provider.KindServer, Err: errors.New("upstream sent a malformed event")})
		}
		chunk, ok, err := s.translate(&e)
		if err != nil {
			return provider.Chunk{}, s.fail(err.(*provider.Error))
		}
		if ok {
			return chunk, nil
		}
		if s.stopped {
			s.finished = true
			return s.usageChunk()
		}
	}
}

// translate turns one event into a chunk; ok is false for events that carry
// nothing for the client (ping, block stops, thinking).
func (s *stream) translate(e *event) (provider.Chunk, bool, error) {
	switch e.Type {
	case "message_start":
		if e.Message != nil {
			s.id = e.Message.ID
			s.usage = e.Message.Usage
		}
		empty := ""
		return s.chunk(wire.Delta{Role: wire.RoleAssistant, Content: &empty}, nil)
	case "content_block_start":
		if e.ContentBlock == nil {
			return provider.Chunk{}, false, nil
		}
		for len(s.toolOf) <= e.Index {
			s.toolOf = append(s.toolOf, -1)
		}
		switch e.ContentBlock.Type {
		case "tool_use":
			idx := s.tools
			s.tools++
			s.toolOf[e.Index] = idx
			return s.chunk(wire.Delta{ToolCalls: []wire.ToolCall{{
				Index:    &idx,
				ID:       e.ContentBlock.ID,
				Type:     "function",
				Function: wire.FunctionCall{Name: e.ContentBlock.Name},
			}}}, nil)
		case "text":
			if e.ContentBlock.Text != "" {
				text := e.ContentBlock.Text
				return s.chunk(wire.Delta{Content: &text}, nil)
			}
		}
	case "content_block_delta":
		if e.Delta == nil {
			return provider.Chunk{}, false, nil
		}
		switch e.Delta.Type {
		case "text_delta":
			text := e.Delta.Text
			return s.chunk(wire.Delta{Content: &text}, nil)
		case "input_json_delta":
			if e.Delta.PartialJSON == "" || e.Index >= len(s.toolOf) || s.toolOf[e.Index] < 0 {
				return provider.Chunk{}, false, nil
			}
			idx := s.toolOf[e.Index]
			return s.chunk(wire.Delta{ToolCalls: []wire.ToolCall{{
				Index:    &idx,
				Function: wire.FunctionCall{Arguments: e.Delta.PartialJSON},
			}}}, nil)
		}
	case "message_delta":
		if e.Usage != nil {
			s.usage.OutputTokens = e.Usage.OutputTokens
			if e.Usage.InputTokens > 0 {
				s.usage.InputTokens = e.Usage.InputTokens
			}
		}
		if e.Delta != nil && e.Delta.StopReason != "" {
			finish := finishReason(e.Delta.StopReason)
			return s.chunk(wire.Delta{}, &finish)
		}
	case "message_stop":
		s.stopped = true
	case "error":
		typ := ""
		if e.Error != nil {
			typ = e.Error.Type
		}
		kind := provider.KindServer
		if typ == "rate_limit_error" {
			kind = provider.KindRateLimited
		}
		return provider.Chunk{}, false, &provider.Error{Kind: kind, Err: errors.New("upstream sent an error event: " + typ)}
	}
	return provider.Chunk{}, false, nil
}

func (s *stream) chunk(delta wire.Delta, finish *string) (provider.Chunk, bool, error) {
	data, err := s.encode(wire.ChatCompletionChunk{
		ID:      completionID(s.id),
		Object:  wire.ObjectChatCompletionChunk,
		Created: s.created,
		Model:   s.model,
		Choices: []wire.ChunkChoice{{Index: 0, Delta: delta, FinishReason: finish}},
	})
	if err != nil {
		return provider.Chunk{}, false, err
	}
	return provider.Chunk{Data: data}, true, nil
}

// usageChunk is the chunk after the last one that reports usage.
func (s *stream) usageChunk() (provider.Chunk, error) {
	u := wire.Usage{PromptTokens: s.usage.promptTokens(), CompletionTokens: s.usage.OutputTokens}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	data, err := s.encode(wire.ChatCompletionChunk{
		ID:      completionID(s.id),
		Object:  wire.ObjectChatCompletionChunk,
		Created: s.created,
		Model:   s.model,
		Choices: []wire.ChunkChoice{},
		Usage:   &u,
	})
	if err != nil {
		return provider.Chunk{}, s.fail(err)
	}
	return provider.Chunk{Data: data, Usage: u, HasUsage: true, UsageOnly: true}, nil
}

func (s *stream) encode(c wire.ChatCompletionChunk) ([]byte, *provider.Error) {
	s.buf.Reset()
	if err := s.enc.Encode(c); err != nil {
		return nil, &provider.Error{Kind: provider.KindServer, Err: err}
	}
	return bytes.TrimSuffix(s.buf.Bytes(), []byte("\n")), nil
}

func (s *stream) fail(e *provider.Error) error {
	s.err = e
	return e
}

// Close ends the stream; after a normal end it drains the body so that the
// connection can be reused, otherwise it aborts the upstream request.
func (s *stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.stopped {
		s.wd.Kick(upstream.DrainTimeout)
		_, _ = io.CopyN(io.Discard, s.body, upstream.DrainBytes)
	}
	s.wd.Stop()
	err := s.body.Close()
	s.events.Release()
	return err
}
