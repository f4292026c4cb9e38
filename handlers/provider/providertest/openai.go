package providertest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// OpenAIServer behaves like an OpenAI-compatible server (OpenAI, vLLM): it
// answers POST …/chat/completions with Reply, plain or streamed word by word
// (with the usage chunk only when stream_options.include_usage is set, and
// "usage":null on the other chunks then, as OpenAI does), answers a request
// that offers tools with a call of the first one, and lists Models on
// GET …/models.
type OpenAIServer struct {
	// Reply is the answer's text. Default "Hello from upstream".
	Reply string
	// ServedModel, when set, is the model name the server reports in its
	// answers (upstreams often report a longer name than the one asked).
	ServedModel string
	// Models are listed by GET /models, with max_model_len 8192.
	Models []string
	// ChunkDelay is the pause before each streamed chunk.
	ChunkDelay time.Duration
	// BeforeChunk, when set, is called before each streamed chunk with its
	// index (0 is the role chunk); returning false stops the stream without
	// [DONE], as a server that crashed would.
	BeforeChunk func(i int) bool
	// ToolArguments are the arguments of the tool call. Default
	// {"location":"Paris"}.
	ToolArguments string
}

func (s *OpenAIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models"):
		s.listModels(w)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/chat/completions"):
		s.chat(w, r)
	default:
		WriteJSON(w, http.StatusNotFound, ErrorBody("not found", "invalid_request_error", "not_found"))
	}
}

func (s *OpenAIServer) listModels(w http.ResponseWriter) {
	data := make([]map[string]any, len(s.Models))
	for i, id := range s.Models {
		data[i] = map[string]any{"id": id, "object": "model", "created": 1700000000 + i, "owned_by": "vllm", "max_model_len": 8192}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

type openAIRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	Messages []json.RawMessage `json:"messages"`
}

func (s *OpenAIServer) chat(w http.ResponseWriter, r *http.Request) {
	var req openAIRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		WriteJSON(w, http.StatusBadRequest, ErrorBody("invalid JSON body", "invalid_request_error", "invalid_json"))
		return
	}
	model := req.Model
	if s.ServedModel != "" {
		model = s.ServedModel
	}
	reply := s.Reply
	if reply == "" {
		reply = "Hello from upstream"
	}
	args := s.ToolArguments
	if args == "" {
		args = `{"location":"Paris"}`
	}
	promptTokens := 3 * len(req.Messages)
	words := Words(reply)
	usage := map[string]any{"prompt_tokens": promptTokens, "completion_tokens": len(words), "total_tokens": promptTokens + len(words)}
	toolName := ""
	if len(req.Tools) > 0 {
		toolName = req.Tools[0].Function.Name
		usage = map[string]any{"prompt_tokens": promptTokens, "completion_tokens": 5, "total_tokens": promptTokens + 5}
	}

	if !req.Stream {
		msg := map[string]any{"role": "assistant", "content": reply}
		finish := "stop"
		if toolName != "" {
			msg = map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{
				"id": "call_up1", "type": "function", "function": map[string]any{"name": toolName, "arguments": args},
			}}}
			finish = "tool_calls"
		}
		WriteJSON(w, http.StatusOK, map[string]any{
			"id": "chatcmpl-up", "object": "chat.completion", "created": 1700000000, "model": model,
			"system_fingerprint": "fp_up",
			"choices":            []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish, "logprobs": nil}},
			"usage":              usage,
		})
		return
	}

	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	var deltas []map[string]any
	finish := "stop"
	deltas = append(deltas, map[string]any{"role": "assistant", "content": ""})
	if toolName != "" {
		finish = "tool_calls"
		half := len(args) / 2
		deltas = append(deltas,
			map[string]any{"tool_calls": []any{map[string]any{"index": 0, "id": "call_up1", "type": "function", "function": map[string]any{"name": toolName, "arguments": ""}}}},
			map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": args[:half]}}}},
			map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": args[half:]}}}},
		)
	} else {
		for _, word := range words {
			deltas = append(deltas, map[string]any{"content": word})
		}
	}
	StartSSE(w)
	chunk := func(choices []any, u any) string {
		c := map[string]any{"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1700000000, "model": model, "system_fingerprint": "fp_up", "choices": choices}
		if includeUsage {
			c["usage"] = u
		}
		b, _ := json.Marshal(c)
		return string(b)
	}
	i := 0
	send := func(data string) bool {
		if s.BeforeChunk != nil && !s.BeforeChunk(i) {
			return false
		}
		if !pause(r, s.ChunkDelay) {
			return false
		}
		SendData(w, data)
		i++
		return true
	}
	for _, d := range deltas {
		if !send(chunk([]any{map[string]any{"index": 0, "delta": d, "logprobs": nil, "finish_reason": nil}}, nil)) {
			return
		}
	}
	if !send(chunk([]any{map[string]any{"index": 0, "delta": map[string]any{}, "logprobs": nil, "finish_reason": finish}}, nil)) {
		return
	}
	if includeUsage {
		if !send(chunk([]any{}, usage)) {
			return
		}
	}
	SendData(w, "[DONE]")
}
