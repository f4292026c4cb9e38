package responses

import (
	"encoding/json"
	"strings"

	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/store"
)

// chatRequest is the chat completions body a response is answered with.
// handlers/openai validates it as it validates a client's chat request, and
// the providers (OpenAI-compatible, Anthropic, mock) take it from there.
type chatRequest struct {
	Model               string            `json:"model"`
	Messages            []openai.Message  `json:"messages"`
	Stream              bool              `json:"stream,omitempty"`
	MaxCompletionTokens int               `json:"max_completion_tokens,omitempty"`
	Temperature         *float64          `json:"temperature,omitempty"`
	TopP                *float64          `json:"top_p,omitempty"`
	Tools               []json.RawMessage `json:"tools,omitempty"`
	ToolChoice          json.RawMessage   `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool             `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      json.RawMessage   `json:"response_format,omitempty"`
	User                string            `json:"user,omitempty"`
}

// chatBody returns the chat completions body of a request whose context
// (previous responses' items, a conversation's items) is history: the
// instructions as a system message, then history, then the input.
func chatBody(req *Request, history, input []Item) ([]byte, error) {
	c := chatRequest{
		Model:               req.Model,
		Stream:              req.Stream,
		MaxCompletionTokens: req.MaxOutputTokens,
		Temperature:         req.Temperature,
		TopP:                req.TopP,
		Tools:               req.ChatTools,
		ToolChoice:          req.ChatToolChoice,
		ParallelToolCalls:   req.ParallelToolCalls,
		ResponseFormat:      req.ResponseFormat,
	}
	if req.User != nil {
		c.User = *req.User
	}
	if len(c.Tools) == 0 {
		// A chat request with a tool choice and no tools is refused
		// upstream; the Responses API lets a client send one.
		c.ToolChoice, c.ParallelToolCalls = nil, nil
	}
	c.Messages = make([]openai.Message, 0, 1+len(history)+len(input))
	if req.Instructions != nil && *req.Instructions != "" {
		c.Messages = append(c.Messages, openai.Message{Role: openai.RoleSystem, Content: openai.Content{Text: *req.Instructions}})
	}
	var calls map[string]bool
	c.Messages = appendMessages(c.Messages, history, &calls)
	c.Messages = appendMessages(c.Messages, input, &calls)
	return json.Marshal(c)
}

// appendMessages converts items to chat messages: a message to a message
// (developer as system, which every upstream knows), consecutive function
// calls to the tool calls of one assistant message (the one just before
// when it is the assistant's text of the same answer), a function call
// output to a tool message. calls collects the call ids of the tool calls
// so far: an output whose call is not among them (its call is in a
// conversation, which keeps calls as the assistant's text) becomes a user
// message saying so, since upstreams refuse a tool message that answers no
// tool call.
func appendMessages(msgs []openai.Message, items []Item, calls *map[string]bool) []openai.Message {
	for _, it := range items {
		switch it.Type {
		case ItemMessage:
			role := it.Role
			if role == openai.RoleDeveloper {
				role = openai.RoleSystem
			}
			msgs = append(msgs, openai.Message{Role: role, Content: chatContent(it)})
		case ItemFunctionCall:
			if *calls == nil {
				*calls = make(map[string]bool)
			}
			(*calls)[it.CallID] = true
			call := openai.ToolCall{ID: it.CallID, Type: "function", Function: openai.FunctionCall{Name: it.Name, Arguments: it.Arguments}}
			if n := len(msgs); n > 0 && msgs[n-1].Role == openai.RoleAssistant {
				msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, call)
				continue
			}
			msgs = append(msgs, openai.Message{Role: openai.RoleAssistant, Content: openai.Content{IsNull: true}, ToolCalls: []openai.ToolCall{call}})
		case ItemFunctionCallOutput:
			if !(*calls)[it.CallID] {
				msgs = append(msgs, openai.Message{Role: openai.RoleUser, Content: openai.Content{Text: "Result of tool call " + it.CallID + ":\n" + it.Output}})
				continue
			}
			msgs = append(msgs, openai.Message{Role: openai.RoleTool, ToolCallID: it.CallID, Content: openai.Content{Text: it.Output}})
		}
	}
	return msgs
}

// chatContent converts a message's parts: a user message keeps its text and
// image parts, other roles send their text (a refusal as text).
func chatContent(it Item) openai.Content {
	hasImage := false
	for _, p := range it.Content {
		hasImage = hasImage || p.Type == PartInputImage
	}
	if !hasImage {
		texts := make([]string, 0, len(it.Content))
		for _, p := range it.Content {
			texts = append(texts, p.Text)
		}
		return openai.Content{Text: strings.Join(texts, "\n")}
	}
	parts := make([]openai.ContentPart, 0, len(it.Content))
	for _, p := range it.Content {
		switch {
		case p.Type == PartInputImage:
			parts = append(parts, openai.ContentPart{Type: openai.PartImageURL, ImageURL: &openai.ImageURL{URL: p.ImageURL, Detail: p.Detail}})
		case p.Text == "":
			// Says nothing, and the chat part's text would be omitted.
		default:
			parts = append(parts, openai.ContentPart{Type: openai.PartText, Text: p.Text})
		}
	}
	return openai.Content{Parts: parts, IsParts: true}
}

// conversationItems converts the stored items of a conversation to input
// items (the conversation domain stores messages only).
func conversationItems(stored []store.Item) []Item {
	out := make([]Item, 0, len(stored))
	for _, s := range stored {
		if s.Type != conversation.ItemMessage {
			continue
		}
		it := Item{ID: s.PublicID, Type: ItemMessage, Role: s.Role, Status: s.Status}
		for _, p := range s.Content {
			it.Content = append(it.Content, Part{Type: p.Type, Text: p.Text, ImageURL: p.ImageURL})
		}
		out = append(out, it)
	}
	return out
}

// storedItem converts an input message to the conversation item it is
// appended as; ok is false for items a conversation does not store
// (function calls and their outputs stay in the stored response).
func storedItem(it Item) (store.Item, bool) {
	if it.Type != ItemMessage {
		return store.Item{}, false
	}
	if it.Role == conversation.RoleUser {
		var texts, images []string
		for _, p := range it.Content {
			if p.Type == PartInputImage {
				images = append(images, p.ImageURL)
			} else {
				texts = append(texts, p.Text)
			}
		}
		return conversation.UserItem(texts, images), true
	}
	parts := make([]store.ContentPart, 0, len(it.Content))
	for _, p := range it.Content {
		typ := p.Type
		if typ == PartInputText || typ == PartOutputText {
			typ = conversation.TextPartType(it.Role)
		}
		parts = append(parts, store.ContentPart{Type: typ, Text: strings.Clone(p.Text)})
	}
	return store.Item{Type: conversation.ItemMessage, Role: it.Role, Status: store.ItemStatusCompleted, Content: parts}, true
}

// replyOf converts a response's output items to the conversation reply
// appended for them.
func replyOf(output []Item, incomplete bool) conversation.Reply {
	reply := conversation.Reply{Incomplete: incomplete}
	for _, it := range output {
		switch it.Type {
		case ItemMessage:
			for _, p := range it.Content {
				if p.Type == PartRefusal {
					reply.Refusal += p.Text
				} else {
					reply.Text += p.Text
				}
			}
		case ItemFunctionCall:
			reply.ToolCalls = append(reply.ToolCalls, conversation.ToolCall{Name: it.Name, Arguments: it.Arguments})
		}
	}
	return reply
}
