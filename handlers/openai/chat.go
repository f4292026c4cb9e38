// Package openai holds the OpenAI wire format of the chat completions and
// models APIs as the gateway speaks it to clients and to OpenAI-compatible
// upstreams: the JSON types, the validation of a client's request (which
// reads the raw body once without decoding it into structs), the rewrite of
// that body for an upstream, and the cheap inspection of response chunks.
//
// The hot path never re-marshals a client's request: it validates the raw
// bytes with gjson, then copies them upstream with only the top-level fields
// that must change replaced. DecodeChatRequest builds the full structs for the
// providers that translate (Anthropic, mock).
package openai

import (
	"encoding/json"

	"github.com/caddy-llm/gateway/handlers/conversation"
)

// Object names of the chat completions API.
const (
	ObjectChatCompletion      = "chat.completion"
	ObjectChatCompletionChunk = "chat.completion.chunk"
	ObjectModel               = "model"
	ObjectList                = "list"
)

// Message roles of the wire format: the conversation domain's vocabulary,
// named here for the providers that translate messages.
const (
	RoleSystem    = conversation.RoleSystem
	RoleDeveloper = conversation.RoleDeveloper
	RoleUser      = conversation.RoleUser
	RoleAssistant = conversation.RoleAssistant
	RoleTool      = conversation.RoleTool
)

// Finish reasons.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
)

// Content part types accepted in messages.
const (
	PartText     = "text"
	PartImageURL = "image_url"
	PartRefusal  = "refusal"
)

// ChatCompletionRequest is a client's request decoded in full. Only the
// providers that translate it (Anthropic, mock) need it; the OpenAI-compatible
// provider forwards the raw body. Fields the gateway does not know are not
// kept here: they travel in the raw body only.
type ChatCompletionRequest struct {
	Model               string
	Messages            []Message
	MaxTokens           int // 0 when not given
	MaxCompletionTokens int // 0 when not given
	Temperature         *float64
	TopP                *float64
	Stop                []string
	Stream              bool
	IncludeUsage        bool // stream_options.include_usage
	Tools               []Tool
	ToolChoice          json.RawMessage // as sent; nil when absent or null
	ParallelToolCalls   *bool
	User                string
}

// OutputLimit returns the maximum number of tokens the client allows, or 0
// when it set none. max_completion_tokens wins when both are set, as in
// OpenAI's API where it supersedes max_tokens.
func (r *ChatCompletionRequest) OutputLimit() int {
	if r.MaxCompletionTokens > 0 {
		return r.MaxCompletionTokens
	}
	return r.MaxTokens
}

// Message is one message of a request.
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// Content is a message's content: a plain string, an array of parts, or
// absent/null (an assistant message that only calls tools).
type Content struct {
	Text    string
	Parts   []ContentPart
	IsParts bool // the content was an array
	IsNull  bool // the content was absent or null
}

// PlainText returns the text of the content: the string, or the text parts
// joined by newlines (image parts are skipped).
func (c Content) PlainText() string {
	if !c.IsParts {
		return c.Text
	}
	var n int
	for _, p := range c.Parts {
		if p.Type == PartText {
			n++
		}
	}
	if n == 1 {
		for _, p := range c.Parts {
			if p.Type == PartText {
				return p.Text
			}
		}
	}
	var b []byte
	for _, p := range c.Parts {
		if p.Type != PartText {
			continue
		}
		if len(b) > 0 {
			b = append(b, '\n')
		}
		b = append(b, p.Text...)
	}
	return string(b)
}

// MarshalJSON writes the content back in the form it was given.
func (c Content) MarshalJSON() ([]byte, error) {
	switch {
	case c.IsNull:
		return []byte("null"), nil
	case c.IsParts:
		return json.Marshal(c.Parts)
	default:
		return json.Marshal(c.Text)
	}
}

// ContentPart is one element of an array content.
type ContentPart struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *ImageURL `json:"image_url,omitempty"`
	Refusal  string    `json:"refusal,omitempty"`
}

// ImageURL is the image of an image_url part: an http(s) URL, a data: URL,
// or a jan_… media id.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// Tool is one tool a client offers the model.
type Tool struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// FunctionDef describes a function tool.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is a call of a tool by the model. Index is set in stream deltas
// only.
type ToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is the function part of a tool call. Arguments is a JSON
// document encoded as a string, as in OpenAI's API.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Usage counts the tokens of one completion.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// ChatCompletion is the response to a request without stream.
type ChatCompletion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []Choice `json:"choices"`
	Usage   *Usage   `json:"usage,omitempty"`
}

// Choice is one answer of a ChatCompletion.
type Choice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	FinishReason string          `json:"finish_reason"`
}

// ResponseMessage is the assistant message of a Choice. Content is null when
// the model only called tools.
type ResponseMessage struct {
	Role      string     `json:"role"`
	Content   *string    `json:"content"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
}

// ChatCompletionChunk is one event of a streamed response. The usage-only
// chunk at the end has no choices and a usage.
type ChatCompletionChunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []ChunkChoice `json:"choices"`
	Usage   *Usage        `json:"usage,omitempty"`
}

// ChunkChoice is one choice of a chunk. FinishReason is null until the last
// content chunk.
type ChunkChoice struct {
	Index        int     `json:"index"`
	Delta        Delta   `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

// Delta is the increment a chunk carries.
type Delta struct {
	Role      string     `json:"role,omitempty"`
	Content   *string    `json:"content,omitempty"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
}
