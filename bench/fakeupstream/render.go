package fakeupstream

import (
	"encoding/json"
	"strconv"
	"time"
)

// Fixed values of every response. A fixed id and creation time keep the
// bodies identical from one request to the next, so they are rendered once.
const (
	responseID   = "chatcmpl-bench"
	created      = 1700000000
	promptTokens = 8
	word         = "token "
)

// rendered holds every response body the server sends, rendered once at
// start-up so that serving a request copies bytes and nothing else.
type rendered struct {
	plain     []byte   // a whole chat.completion
	models    []byte   // the GET /v1/models list
	notFound  []byte   // a 404 error body
	badInput  []byte   // a 400 error body
	role      []byte   // the SSE event opening a stream (role, empty content)
	content   [][]byte // the SSE content events; the last carries finish_reason
	usage     []byte   // the SSE usage event (choices: [])
	done      []byte   // data: [DONE]
	modelName string
	delay     time.Duration // the pause before each content chunk but the first
}

// Wire shapes, following OpenAI's chat completion objects.
type (
	message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	choice struct {
		Index        int     `json:"index"`
		Message      message `json:"message"`
		Logprobs     *string `json:"logprobs"`
		FinishReason string  `json:"finish_reason"`
	}
	usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
	completion struct {
		ID      string   `json:"id"`
		Object  string   `json:"object"`
		Created int64    `json:"created"`
		Model   string   `json:"model"`
		Choices []choice `json:"choices"`
		Usage   usage    `json:"usage"`
	}
	delta struct {
		Role    string  `json:"role,omitempty"`
		Content *string `json:"content,omitempty"`
	}
	chunkChoice struct {
		Index        int     `json:"index"`
		Delta        delta   `json:"delta"`
		Logprobs     *string `json:"logprobs"`
		FinishReason *string `json:"finish_reason"`
	}
	chunk struct {
		ID      string        `json:"id"`
		Object  string        `json:"object"`
		Created int64         `json:"created"`
		Model   string        `json:"model"`
		Choices []chunkChoice `json:"choices"`
		Usage   *usage        `json:"usage,omitempty"`
	}
	model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	modelList struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}
	apiError struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    string `json:"code"`
		} `json:"error"`
	}
)

// render renders every body for the given options (already defaulted).
func render(opts Options) rendered {
	modelName := opts.Models[0]
	r := rendered{modelName: modelName, delay: opts.ChunkDelay, done: []byte("data: [DONE]\n\n")}

	answer := make([]byte, 0, len(word)*opts.Chunks)
	for range opts.Chunks {
		answer = append(answer, word...)
	}
	u := usage{PromptTokens: promptTokens, CompletionTokens: opts.Chunks, TotalTokens: promptTokens + opts.Chunks}

	r.plain = mustJSON(completion{
		ID: responseID, Object: "chat.completion", Created: created, Model: modelName,
		Choices: []choice{{Message: message{Role: "assistant", Content: string(answer)}, FinishReason: "stop"}},
		Usage:   u,
	})

	empty, content, stop := "", word, "stop"
	r.role = event(chunk{
		ID: responseID, Object: "chat.completion.chunk", Created: created, Model: modelName,
		Choices: []chunkChoice{{Delta: delta{Role: "assistant", Content: &empty}}},
	})
	r.content = make([][]byte, opts.Chunks)
	for i := range r.content {
		c := chunkChoice{Delta: delta{Content: &content}}
		if i == opts.Chunks-1 {
			c.FinishReason = &stop
		}
		r.content[i] = event(chunk{
			ID: responseID, Object: "chat.completion.chunk", Created: created, Model: modelName,
			Choices: []chunkChoice{c},
		})
	}
	r.usage = event(chunk{
		ID: responseID, Object: "chat.completion.chunk", Created: created, Model: modelName,
		Choices: []chunkChoice{}, Usage: &u,
	})

	list := modelList{Object: "list"}
	for _, id := range opts.Models {
		list.Data = append(list.Data, model{ID: id, Object: "model", Created: created, OwnedBy: "bench"})
	}
	for _, v := range opts.Variants {
		list.Data = append(list.Data, model{ID: v.Model, Object: "model", Created: created, OwnedBy: "bench"})
	}
	r.models = mustJSON(list)
	r.notFound = errorBody("no such route", "invalid_request_error", "not_found")
	r.badInput = errorBody("the body must be a JSON object with a non-empty messages array", "invalid_request_error", "invalid_request")
	return r
}

func event(v any) []byte {
	b := mustJSON(v)
	out := make([]byte, 0, len(b)+8)
	out = append(out, "data: "...)
	out = append(out, b...)
	return append(out, "\n\n"...)
}

func errorBody(msg, typ, code string) []byte {
	var e apiError
	e.Error.Message, e.Error.Type, e.Error.Code = msg, typ, code
	return mustJSON(e)
}

// mustJSON marshals values whose shape is fixed above: an error is a bug.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("fakeupstream: rendering " + strconv.Quote(err.Error()))
	}
	return b
}
