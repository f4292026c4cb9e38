package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	wire "github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
)

// stream produces the answer's chunks one by one, on demand: a role chunk,
// one chunk per word (or the tool call), a finish chunk, and the usage-only
// chunk.
type stream struct {
	ctx   context.Context
	a     *answer
	model string
	delay time.Duration

	step  int
	timer *time.Timer
	buf   bytes.Buffer
	done  bool
}

func (s *stream) Next() (provider.Chunk, error) {
	if s.done {
		return provider.Chunk{}, io.EOF
	}
	if err := s.ctx.Err(); err != nil {
		return provider.Chunk{}, &provider.Error{Kind: provider.KindCanceled, Err: err}
	}
	chunk := wire.ChatCompletionChunk{ID: s.a.id, Object: wire.ObjectChatCompletionChunk, Created: s.a.created, Model: s.model}
	var out provider.Chunk
	nWords := len(s.a.pieces)
	if !s.a.hasPieces {
		nWords = 1 // the tool call
	}
	switch {
	case s.step == 0:
		empty := ""
		chunk.Choices = []wire.ChunkChoice{{Delta: wire.Delta{Role: wire.RoleAssistant, Content: &empty}}}
	case s.step <= nWords:
		if err := s.pause(); err != nil {
			return provider.Chunk{}, err
		}
		if s.a.hasPieces {
			piece := s.a.pieces[s.step-1]
			chunk.Choices = []wire.ChunkChoice{{Delta: wire.Delta{Content: &piece}}}
		} else {
			chunk.Choices = []wire.ChunkChoice{{Delta: wire.Delta{ToolCalls: []wire.ToolCall{*s.a.toolCall}}}}
		}
	case s.step == nWords+1:
		finish := s.a.finish
		chunk.Choices = []wire.ChunkChoice{{Delta: wire.Delta{}, FinishReason: &finish}}
	case s.step == nWords+2:
		usage := s.a.usage
		chunk.Choices = []wire.ChunkChoice{}
		chunk.Usage = &usage
		out.Usage, out.HasUsage, out.UsageOnly = usage, true, true
	default:
		s.done = true
		return provider.Chunk{}, io.EOF
	}
	s.step++
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(chunk); err != nil {
		return provider.Chunk{}, &provider.Error{Kind: provider.KindServer, Err: err}
	}
	out.Data = bytes.TrimSuffix(s.buf.Bytes(), []byte("\n"))
	return out, nil
}

// pause waits TokenDelay before a word, returning early when the client
// goes away.
func (s *stream) pause() error {
	if s.delay <= 0 {
		return nil
	}
	if s.timer == nil {
		s.timer = time.NewTimer(s.delay)
	} else {
		s.timer.Reset(s.delay)
	}
	select {
	case <-s.timer.C:
		return nil
	case <-s.ctx.Done():
		return &provider.Error{Kind: provider.KindCanceled, Err: errors.New("client went away")}
	}
}

func (s *stream) Close() error {
	s.done = true
	if s.timer != nil {
		s.timer.Stop()
	}
	return nil
}
