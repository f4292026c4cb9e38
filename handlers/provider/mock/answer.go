package mock

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
	"unicode"

	wire "github.com/caddy-llm/gateway/handlers/openai"
)

// answer is the mock's reply to one request, computed before anything is
// sent so that streamed and plain answers are the same.
type answer struct {
	id        string
	created   int64
	pieces    []string // the content as streamed: each word with its leading space
	content   string
	toolCall  *wire.ToolCall
	finish    string
	usage     wire.Usage
	hasPieces bool
}

// compose builds the deterministic answer to r.
func compose(model string, body []byte, r *wire.ChatCompletionRequest) *answer {
	sum := sha256.Sum256(body)
	a := &answer{id: "chatcmpl-mock-" + hex.EncodeToString(sum[:12]), created: time.Now().Unix()}
	a.usage.PromptTokens = promptTokens(r)

	if call := toolCallFor(r); call != nil {
		a.toolCall = call
		a.finish = wire.FinishToolCalls
		a.usage.CompletionTokens = len(strings.Fields(call.Function.Name + " " + call.Function.Arguments))
	} else {
		text := replyText(model, r)
		a.finish = wire.FinishStop
		if i := firstStop(text, r.Stop); i >= 0 {
			text = text[:i]
		}
		a.pieces = splitWords(text)
		if limit := r.OutputLimit(); limit > 0 && len(a.pieces) > limit {
			a.pieces = a.pieces[:limit]
			a.finish = wire.FinishLength
		}
		a.content = strings.Join(a.pieces, "")
		a.hasPieces = true
		a.usage.CompletionTokens = len(a.pieces)
	}
	a.usage.TotalTokens = a.usage.PromptTokens + a.usage.CompletionTokens
	return a
}

// replyText is the full text before stop and max_tokens apply.
func replyText(model string, r *wire.ChatCompletionRequest) string {
	if text, ok := extractionAnswer(r); ok {
		return text
	}
	if n := len(r.Messages); n > 0 && r.Messages[n-1].Role == wire.RoleTool {
		return "The tool returned: " + strings.TrimSpace(r.Messages[n-1].Content.PlainText())
	}
	said := strings.Join(strings.Fields(lastUserText(r)), " ")
	if said == "" {
		return "Hello! This is a mock reply from " + model + "."
	}
	return "Hello! This is a mock reply from " + model + ". You said: " + said
}

func lastUserText(r *wire.ChatCompletionRequest) string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == wire.RoleUser {
			return r.Messages[i].Content.PlainText()
		}
	}
	return ""
}

func promptTokens(r *wire.ChatCompletionRequest) int {
	n := 0
	for _, m := range r.Messages {
		n += len(strings.Fields(m.Content.PlainText()))
		for _, tc := range m.ToolCalls {
			n += len(strings.Fields(tc.Function.Name + " " + tc.Function.Arguments))
		}
	}
	return n
}

// firstStop returns where the earliest stop sequence starts in text, or -1.
func firstStop(text string, stops []string) int {
	first := -1
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	return first
}

// splitWords splits text into words, each keeping the spaces before it (and
// the last one the spaces after it), so that the pieces concatenate back to
// text exactly.
func splitWords(text string) []string {
	var pieces []string
	start := 0
	prevSpace := true
	for i, r := range text {
		space := unicode.IsSpace(r)
		if space && !prevSpace && strings.TrimSpace(text[start:i]) != "" {
			pieces = append(pieces, text[start:i])
			start = i
		}
		prevSpace = space
	}
	if rest := text[start:]; rest != "" {
		if strings.TrimSpace(rest) == "" && len(pieces) > 0 {
			pieces[len(pieces)-1] += rest
		} else {
			pieces = append(pieces, rest)
		}
	}
	return pieces
}

// toolCallFor returns the call the mock makes when the request offers tools
// (and does not forbid them, and is not already answering a tool result).
func toolCallFor(r *wire.ChatCompletionRequest) *wire.ToolCall {
	if len(r.Tools) == 0 {
		return nil
	}
	if n := len(r.Messages); n > 0 && r.Messages[n-1].Role == wire.RoleTool {
		return nil
	}
	var choice struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	var word string
	if len(r.ToolChoice) > 0 {
		if json.Unmarshal(r.ToolChoice, &word) != nil {
			_ = json.Unmarshal(r.ToolChoice, &choice)
		}
	}
	if word == "none" {
		return nil
	}
	var tool *wire.Tool
	for i := range r.Tools {
		t := &r.Tools[i]
		if t.Type != "function" {
			continue
		}
		if choice.Function.Name == "" || t.Function.Name == choice.Function.Name {
			tool = t
			break
		}
	}
	if tool == nil {
		return nil
	}
	args := argumentsFor(tool.Function.Parameters, lastUserText(r))
	sum := sha256.Sum256([]byte(tool.Function.Name + "\x00" + args))
	zero := 0
	return &wire.ToolCall{
		Index:    &zero,
		ID:       "call_" + hex.EncodeToString(sum[:12]),
		Type:     "function",
		Function: wire.FunctionCall{Name: tool.Function.Name, Arguments: args},
	}
}

// argumentsFor fills the required properties of a JSON schema: strings with
// the user's last words, numbers with 1, booleans with true.
func argumentsFor(schema json.RawMessage, text string) string {
	var s struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	args := map[string]any{}
	if len(schema) > 0 && json.Unmarshal(schema, &s) == nil {
		for _, name := range s.Required {
			typ := ""
			if p, ok := s.Properties[name]; ok {
				switch t := p.Type.(type) {
				case string:
					typ = t
				case []any:
					if len(t) > 0 {
						typ, _ = t[0].(string)
					}
				}
			}
			switch typ {
			case "integer", "number":
				args[name] = 1
			case "boolean":
				args[name] = true
			case "array":
				args[name] = []any{}
			case "object":
				args[name] = map[string]any{}
			default:
				args[name] = strings.Join(strings.Fields(text), " ")
			}
		}
	}
	b, _ := json.Marshal(args) // maps of plain values always marshal
	return string(b)
}

// completion renders the answer as a chat.completion.
func (a *answer) completion(model string) ([]byte, error) {
	msg := wire.ResponseMessage{Role: wire.RoleAssistant}
	if a.toolCall != nil {
		call := *a.toolCall
		call.Index = nil
		msg.ToolCalls = []wire.ToolCall{call}
	} else {
		content := a.content
		msg.Content = &content
	}
	usage := a.usage
	return json.Marshal(wire.ChatCompletion{
		ID:      a.id,
		Object:  wire.ObjectChatCompletion,
		Created: a.created,
		Model:   model,
		Choices: []wire.Choice{{Index: 0, Message: msg, FinishReason: a.finish}},
		Usage:   &usage,
	})
}
