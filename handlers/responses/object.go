package responses

import (
	"encoding/json"

	"github.com/caddy-llm/gateway/handlers/openai"
)

// Item types of the Responses API that the gateway reads and writes.
const (
	ItemMessage            = "message"
	ItemFunctionCall       = "function_call"
	ItemFunctionCallOutput = "function_call_output"
)

// Content part types of items.
const (
	PartInputText  = "input_text"
	PartInputImage = "input_image"
	PartOutputText = "output_text"
	PartRefusal    = "refusal"
)

// Statuses of responses and of their items.
const (
	StatusInProgress = "in_progress"
	StatusCompleted  = "completed"
	StatusIncomplete = "incomplete"
	StatusFailed     = "failed"
)

// Public id prefixes of items (messages are "msg_", as in conversations).
const (
	prefixFunctionCall   = "fc"
	prefixFunctionOutput = "fco"
	prefixCall           = "call"
)

// Item is one input or output item of a response, in the Responses API's
// shape (see MarshalJSON): a message, a function call, or a function call's
// output.
type Item struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Status string `json:"status,omitempty"`
	// Role and Content are a message's.
	Role    string `json:"role,omitempty"`
	Content []Part `json:"content,omitempty"`
	// CallID, Name and Arguments are a function call's; CallID and Output
	// a function call output's.
	CallID    string `json:"call_id,omitempty"`
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments,omitempty"`
	Output    string `json:"output,omitempty"`
}

// MarshalJSON writes the item as wire returns it.
func (it Item) MarshalJSON() ([]byte, error) { return json.Marshal(it.wire()) }

// wire returns the item as a value of a struct type that has the members of
// its type, each always present, as OpenAI writes them (a function call
// with empty arguments has "arguments": ""). Values without MarshalJSON
// methods are encoded in one pass: encoding/json re-scans what a Marshaler
// returns, which would cost a long answer its length again.
func (it Item) wire() any {
	switch it.Type {
	case ItemFunctionCall:
		return struct {
			ID        string `json:"id"`
			Type      string `json:"type"`
			Status    string `json:"status"`
			CallID    string `json:"call_id"`
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		}{it.ID, it.Type, it.Status, it.CallID, it.Name, it.Arguments}
	case ItemFunctionCallOutput:
		return struct {
			ID     string `json:"id"`
			Type   string `json:"type"`
			Status string `json:"status"`
			CallID string `json:"call_id"`
			Output string `json:"output"`
		}{it.ID, it.Type, it.Status, it.CallID, it.Output}
	}
	content := make([]any, len(it.Content))
	for i, p := range it.Content {
		content[i] = p.wire()
	}
	return struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Status  string `json:"status"`
		Role    string `json:"role"`
		Content []any  `json:"content"`
	}{it.ID, ItemMessage, it.Status, it.Role, content}
}

// wireItems returns items as wire values.
func wireItems(items []Item) []any {
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = it.wire()
	}
	return out
}

// Part is one content part of a message item.
type Part struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// MarshalJSON writes the part as wire returns it.
func (p Part) MarshalJSON() ([]byte, error) { return json.Marshal(p.wire()) }

// wire returns the part with the members of its type: output text carries
// its (empty) annotations and logprobs, a refusal its text as "refusal".
func (p Part) wire() any {
	switch p.Type {
	case PartOutputText:
		return struct {
			Type        string `json:"type"`
			Text        string `json:"text"`
			Annotations []any  `json:"annotations"`
			Logprobs    []any  `json:"logprobs"`
		}{p.Type, p.Text, []any{}, []any{}}
	case PartRefusal:
		return struct {
			Type    string `json:"type"`
			Refusal string `json:"refusal"`
		}{p.Type, p.Text}
	case PartInputImage:
		detail := p.Detail
		if detail == "" {
			detail = "auto"
		}
		return struct {
			Type     string `json:"type"`
			ImageURL string `json:"image_url"`
			Detail   string `json:"detail"`
		}{p.Type, p.ImageURL, detail}
	}
	return struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}{p.Type, p.Text}
}

// UnmarshalJSON reads a part as MarshalJSON wrote it (stored responses).
func (p *Part) UnmarshalJSON(b []byte) error {
	var v struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		Refusal  string `json:"refusal"`
		ImageURL string `json:"image_url"`
		Detail   string `json:"detail"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = Part{Type: v.Type, Text: v.Text, ImageURL: v.ImageURL, Detail: v.Detail}
	if v.Type == PartRefusal {
		p.Text = v.Refusal
	}
	return nil
}

// Response is the Response object of the API.
type Response struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	CreatedAt         int64              `json:"created_at"`
	Status            string             `json:"status"`
	CompletedAt       *int64             `json:"completed_at"`
	Error             *ResponseError     `json:"error"`
	IncompleteDetails *IncompleteDetails `json:"incomplete_details"`
	Instructions      *string            `json:"instructions"`
	MaxOutputTokens   *int               `json:"max_output_tokens"`
	Model             string             `json:"model"`
	// Output is the output; WireOutput is what is written of it (see
	// Item.wire), set by marshal.
	Output             []Item            `json:"-"`
	WireOutput         []any             `json:"output"`
	ParallelToolCalls  bool              `json:"parallel_tool_calls"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Conversation       *ConversationRef  `json:"conversation"`
	Reasoning          reasoning         `json:"reasoning"`
	Store              bool              `json:"store"`
	Temperature        *float64          `json:"temperature"`
	Text               json.RawMessage   `json:"text"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	Tools              []json.RawMessage `json:"tools"`
	TopP               *float64          `json:"top_p"`
	Truncation         string            `json:"truncation"`
	Usage              *Usage            `json:"usage"`
	User               *string           `json:"user"`
	Metadata           map[string]string `json:"metadata"`
}

// reasoning is the (empty) reasoning configuration: the gateway's models are
// reached through chat completions, which report none.
type reasoning struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

// ResponseError says why a response failed.
type ResponseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// IncompleteDetails says why a response is incomplete: "max_output_tokens"
// or "content_filter".
type IncompleteDetails struct {
	Reason string `json:"reason"`
}

// ConversationRef names the conversation a response was recorded into.
type ConversationRef struct {
	ID string `json:"id"`
}

// Usage counts a response's tokens.
type Usage struct {
	InputTokens         int          `json:"input_tokens"`
	InputTokensDetails  inputDetail  `json:"input_tokens_details"`
	OutputTokens        int          `json:"output_tokens"`
	OutputTokensDetails outputDetail `json:"output_tokens_details"`
	TotalTokens         int          `json:"total_tokens"`
}

type inputDetail struct {
	CachedTokens int `json:"cached_tokens"`
}

type outputDetail struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// usageOf converts a chat completion's usage.
func usageOf(u openai.Usage) *Usage {
	total := u.TotalTokens
	if total == 0 {
		total = u.PromptTokens + u.CompletionTokens
	}
	return &Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: total}
}

// Interface guards: items and parts write their own shapes.
var (
	_ json.Marshaler   = Item{}
	_ json.Marshaler   = Part{}
	_ json.Unmarshaler = (*Part)(nil)
)
