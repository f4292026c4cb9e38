package turns

import (
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/conversations"
	"github.com/caddy-llm/gateway/store"
)

// maxTitleRunes is the length a title is cut to, "…" not counted.
const maxTitleRunes = 60

// input is what a turn takes from a request's messages.
type input struct {
	// title is the title an untitled conversation takes: the text of the
	// first user message that has some, shortened. Empty when none has.
	title string
	// user is the new user message: the request's last message when it is
	// the user's. Clients resend the whole history with every request, so
	// only that message is new. A request that ends otherwise (with a tool
	// result, say, after the model called a tool) adds no user message:
	// its user message was stored by an earlier turn.
	user *store.Item
	// userIndex is the index of that message in the request's messages.
	userIndex int
}

// readInput reads the messages of a validated request body. Everything it
// returns has memory of its own: stored items must not pin the body.
func readInput(body []byte) input {
	var (
		in    input
		last  gjson.Result
		title string
		n     int
	)
	gjson.Get(bytesString(body), "messages").ForEach(func(_, m gjson.Result) bool {
		last = m
		n++
		if title == "" && m.Get("role").Str == conversations.RoleUser {
			title = titleFrom(joinedText(m.Get("content")))
		}
		return true
	})
	// A title comes from any user message, maybe an earlier one than the
	// stored message that was checked: a NUL in it, which PostgreSQL cannot
	// store, is replaced rather than refused.
	in.title = withoutNUL(strings.Clone(title))
	in.userIndex = n - 1
	if last.Get("role").Str == conversations.RoleUser {
		item := store.Item{
			Type:    "message",
			Role:    conversations.RoleUser,
			Status:  store.ItemStatusCompleted,
			Content: userContent(last.Get("content")),
		}
		in.user = &item
	}
	return in
}

// userContent converts a chat message's content into item parts: its text
// parts joined into one input_text part, then one input_image part per
// image. An inline data: image is not stored (megabytes of base64 in the
// database would be read back with every listing); a short input_text note
// stands in its place.
func userContent(content gjson.Result) []store.ContentPart {
	if !content.IsArray() {
		return []store.ContentPart{{Type: conversations.PartInputText, Text: strings.Clone(content.Str)}}
	}
	var (
		texts  []string
		images []store.ContentPart
	)
	content.ForEach(func(_, part gjson.Result) bool {
		switch part.Get("type").Str {
		case "text":
			texts = append(texts, part.Get("text").Str)
		case "image_url":
			images = append(images, imagePart(part.Get("image_url")))
		}
		return true
	})
	parts := make([]store.ContentPart, 0, 1+len(images))
	if len(texts) > 0 || len(images) == 0 {
		parts = append(parts, store.ContentPart{Type: conversations.PartInputText, Text: strings.Clone(strings.Join(texts, "\n"))})
	}
	return append(parts, images...)
}

// imagePart converts an image_url ({"url": …} or a bare string).
func imagePart(img gjson.Result) store.ContentPart {
	url := img.Str
	if img.IsObject() {
		url = img.Get("url").Str
	}
	if len(url) >= 5 && strings.EqualFold(url[:5], "data:") {
		return store.ContentPart{Type: conversations.PartInputText, Text: "[image not stored: inline " + dataMediaType(url) + " data]"}
	}
	return store.ContentPart{Type: conversations.PartInputImage, ImageURL: strings.Clone(url)}
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

// joinedText returns the text of a chat message's content: the string, or
// its text parts joined by newlines.
func joinedText(content gjson.Result) string {
	if !content.IsArray() {
		return content.Str
	}
	var texts []string
	content.ForEach(func(_, part gjson.Result) bool {
		if part.Get("type").Str == "text" {
			texts = append(texts, part.Get("text").Str)
		}
		return true
	})
	return strings.Join(texts, "\n")
}

// titleFrom makes a title of a message: its words, separated by single
// spaces, cut at a word boundary to at most maxTitleRunes characters, with
// "…" when cut. A first word longer than that is cut inside.
func titleFrom(text string) string {
	collapsed := strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(collapsed) <= maxTitleRunes {
		return collapsed
	}
	end, n := 0, 0
	for i := range collapsed {
		if n == maxTitleRunes {
			end = i
			break
		}
		n++
	}
	cut := collapsed[:end]
	if collapsed[end] != ' ' {
		// Inside a word: back to the space before it, unless that drops
		// more than half of the title.
		if i := strings.LastIndexByte(cut, ' '); i >= maxTitleRunes/2 {
			cut = cut[:i]
		}
	}
	return strings.TrimRight(cut, " ") + "…"
}

// assistantItem converts a reply into one assistant message item: the text
// as output_text, a refusal as a refusal part, and each tool call as an
// output_text part "Tool call: name(arguments)". Tool calls are kept in the
// message, in text, rather than as function_call items, so that every
// client that lists messages shows them; the exact name and arguments are
// in the text.
func assistantItem(reply chat.Reply) store.Item {
	parts := make([]store.ContentPart, 0, 1+len(reply.ToolCalls))
	if reply.Text != "" || (reply.Refusal == "" && len(reply.ToolCalls) == 0) {
		parts = append(parts, store.ContentPart{Type: conversations.PartOutputText, Text: reply.Text})
	}
	if reply.Refusal != "" {
		parts = append(parts, store.ContentPart{Type: conversations.PartRefusal, Text: reply.Refusal})
	}
	for _, call := range reply.ToolCalls {
		parts = append(parts, store.ContentPart{
			Type: conversations.PartOutputText,
			Text: "Tool call: " + call.Function.Name + "(" + call.Function.Arguments + ")",
		})
	}
	// The reply is the upstream's text, which a client can make hold a NUL
	// ("repeat after me"): replaced, so that the reply is stored anyway.
	for i := range parts {
		parts[i].Text = withoutNUL(parts[i].Text)
	}
	status := store.ItemStatusCompleted
	if reply.Incomplete {
		status = store.ItemStatusIncomplete
	}
	return store.Item{Type: "message", Role: conversations.RoleAssistant, Status: status, Content: parts}
}

// bytesString returns b as a string without copying; what is kept of it is
// cloned.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// withoutNUL replaces NUL characters, which PostgreSQL cannot store, by
// U+FFFD.
func withoutNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
