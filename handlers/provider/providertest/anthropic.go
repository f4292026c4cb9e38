package providertest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// AnthropicServer behaves like Anthropic's Messages API: it requires an
// x-api-key and an anthropic-version, answers POST /v1/messages with Reply
// (plain, or as the real event sequence: message_start, content_block_start,
// ping, content_block_delta per word, content_block_stop, message_delta,
// message_stop), answers a request with tools with a tool_use block, and
// lists Models on GET /v1/models.
type AnthropicServer struct {
	// Reply is the answer's text. Default "Hello from Claude".
	Reply string
	// Models are listed by GET /v1/models.
	Models []string
	// ChunkDelay is the pause before each streamed event.
	ChunkDelay time.Duration
	// StopReason is the answer's stop reason. Default end_turn (tool_use
	// when tools are offered).
	StopReason string
}

func (s *AnthropicServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Api-Key") == "" || r.Header.Get("Anthropic-Version") == "" {
		WriteJSON(w, http.StatusUnauthorized, map[string]any{"type": "error", "error": map[string]any{"type": "authentication_error", "message": "x-api-key header is required"}})
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		data := make([]map[string]any, len(s.Models))
		for i, id := range s.Models {
			data[i] = map[string]any{"type": "model", "id": id, "display_name": strings.ToUpper(id), "created_at": "2025-02-19T00:00:00Z"}
		}
		WriteJSON(w, http.StatusOK, map[string]any{"data": data, "has_more": false})
	case r.Method == http.MethodPost && r.URL.Path == "/v1/messages":
		s.messages(w, r)
	default:
		WriteJSON(w, http.StatusNotFound, map[string]any{"type": "error", "error": map[string]any{"type": "not_found_error", "message": "not found"}})
	}
}

func (s *AnthropicServer) messages(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		Stream    bool   `json:"stream"`
		Tools     []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.MaxTokens == 0 {
		WriteJSON(w, http.StatusBadRequest, map[string]any{"type": "error", "error": map[string]any{"type": "invalid_request_error", "message": "max_tokens: Field required"}})
		return
	}
	reply := s.Reply
	if reply == "" {
		reply = "Hello from Claude"
	}
	stop := s.StopReason
	toolName := ""
	if len(req.Tools) > 0 {
		toolName = req.Tools[0].Name
		if stop == "" {
			stop = "tool_use"
		}
	}
	if stop == "" {
		stop = "end_turn"
	}
	words := Words(reply)
	usage := map[string]any{"input_tokens": 11, "output_tokens": len(words), "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2}

	if !req.Stream {
		content := []any{map[string]any{"type": "text", "text": reply}}
		if toolName != "" {
			content = append(content, map[string]any{"type": "tool_use", "id": "toolu_01", "name": toolName, "input": map[string]any{"location": "Paris"}})
		}
		WriteJSON(w, http.StatusOK, map[string]any{
			"id": "msg_01", "type": "message", "role": "assistant", "model": req.Model,
			"content": content, "stop_reason": stop, "stop_sequence": nil, "usage": usage,
		})
		return
	}

	StartSSE(w)
	send := func(name string, v any) bool {
		if !pause(r, s.ChunkDelay) {
			return false
		}
		b, _ := json.Marshal(v)
		SendEvent(w, name, string(b))
		return true
	}
	events := []namedEvent{
		{"message_start", map[string]any{"type": "message_start", "message": map[string]any{
			"id": "msg_01", "type": "message", "role": "assistant", "model": req.Model, "content": []any{},
			"stop_reason": nil, "usage": map[string]any{"input_tokens": 11, "output_tokens": 1, "cache_read_input_tokens": 2},
		}}},
		{"content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}}},
		{"ping", map[string]any{"type": "ping"}},
	}
	for _, word := range words {
		events = append(events, namedEvent{"content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": word}}})
	}
	events = append(events, namedEvent{"content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}})
	if toolName != "" {
		for _, e := range []map[string]any{
			{"type": "content_block_start", "index": 1, "content_block": map[string]any{"type": "tool_use", "id": "toolu_01", "name": toolName, "input": map[string]any{}}},
			{"type": "content_block_delta", "index": 1, "delta": map[string]any{"type": "input_json_delta", "partial_json": ""}},
			{"type": "content_block_delta", "index": 1, "delta": map[string]any{"type": "input_json_delta", "partial_json": `{"location": `}},
			{"type": "content_block_delta", "index": 1, "delta": map[string]any{"type": "input_json_delta", "partial_json": `"Paris"}`}},
			{"type": "content_block_stop", "index": 1},
		} {
			events = append(events, namedEvent{e["type"].(string), e})
		}
	}
	events = append(events,
		namedEvent{"message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}, "usage": map[string]any{"output_tokens": len(words)}}},
		namedEvent{"message_stop", map[string]any{"type": "message_stop"}},
	)
	for _, e := range events {
		if !send(e.name, e.v) {
			return
		}
	}
}

type namedEvent struct {
	name string
	v    any
}
