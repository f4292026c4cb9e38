package conversation

import (
	"strings"

	"github.com/caddy-llm/gateway/store"
)

// UserItem returns the item of a user message: its texts joined by newlines
// into one input_text part, then one input_image part per image URL. An
// inline data: image is not stored (megabytes of base64 in the database
// would be read back with every listing); a short input_text note stands in
// its place. The item has memory of its own: texts and images are cloned.
func UserItem(texts, images []string) store.Item {
	parts := make([]store.ContentPart, 0, 1+len(images))
	if len(texts) > 0 || len(images) == 0 {
		parts = append(parts, store.ContentPart{Type: PartInputText, Text: strings.Clone(strings.Join(texts, "\n"))})
	}
	for _, url := range images {
		parts = append(parts, imagePart(url))
	}
	return store.Item{Type: ItemMessage, Role: RoleUser, Status: store.ItemStatusCompleted, Content: parts}
}

// imagePart converts an image URL.
func imagePart(url string) store.ContentPart {
	if len(url) >= 5 && strings.EqualFold(url[:5], "data:") {
		return store.ContentPart{Type: PartInputText, Text: "[image not stored: inline " + dataMediaType(url) + " data]"}
	}
	return store.ContentPart{Type: PartInputImage, ImageURL: strings.Clone(url)}
}

// dataMediaType returns the media type of a data: URL, "image" when it has
// none or an implausible one.
func dataMediaType(url string) string {
	mt := url[5:]
	if i := strings.IndexAny(mt, ";,"); i >= 0 {
		mt = mt[:i]
	}
	if mt == "" || len(mt) > 64 || strings.ContainsAny(mt, " \t\r\n[]") {
		return "image"
	}
	return strings.Clone(mt)
}

// Reply is the assistant's answer of a turn, as far as it was produced.
type Reply struct {
	// Text is the answer's text.
	Text string
	// Refusal is its refusal, if any.
	Refusal string
	// ToolCalls are the tools the model called, arguments complete or, in
	// a cut stream, as far as they came.
	ToolCalls []ToolCall
	// Incomplete reports an answer cut short: the upstream failed
	// mid-stream or the client went away.
	Incomplete bool
}

// ToolCall is one tool called by the model.
type ToolCall struct {
	Name, Arguments string
}

// AssistantItem converts a reply into one assistant message item: the text
// as output_text, a refusal as a refusal part, and each tool call as an
// output_text part "Tool call: name(arguments)". Tool calls are kept in the
// message, in text, rather than as function_call items, so that every
// client that lists messages shows them; the exact name and arguments are
// in the text.
func AssistantItem(reply Reply) store.Item {
	parts := make([]store.ContentPart, 0, 1+len(reply.ToolCalls))
	if reply.Text != "" || (reply.Refusal == "" && len(reply.ToolCalls) == 0) {
		parts = append(parts, store.ContentPart{Type: PartOutputText, Text: reply.Text})
	}
	if reply.Refusal != "" {
		parts = append(parts, store.ContentPart{Type: PartRefusal, Text: reply.Refusal})
	}
	for _, call := range reply.ToolCalls {
		parts = append(parts, store.ContentPart{
			Type: PartOutputText,
			Text: "Tool call: " + call.Name + "(" + call.Arguments + ")",
		})
	}
	// The reply is the upstream's text, which a client can make hold a NUL
	// ("repeat after me"): replaced, so that the reply is stored anyway.
	for i := range parts {
		parts[i].Text = WithoutNUL(parts[i].Text)
	}
	status := store.ItemStatusCompleted
	if reply.Incomplete {
		status = store.ItemStatusIncomplete
	}
	return store.Item{Type: ItemMessage, Role: RoleAssistant, Status: status, Content: parts}
}
