package turns

import (
	"reflect"
	"strings"
	"testing"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/store"
)

func TestTitleFrom(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"short", "Hello!", "Hello!"},
		{"whitespace collapsed", "  Tell me\n\ta   story  ", "Tell me a story"},
		{"empty", " \n ", ""},
		{"exactly 60", strings.Repeat("abcd ", 11) + "abcde", strings.Repeat("abcd ", 11) + "abcde"},
		{"cut at a word boundary", "Explain how the gateway records chat turns into conversations in detail please",
			"Explain how the gateway records chat turns into…"},
		{"cut on a space", strings.Repeat("a", 30) + " " + strings.Repeat("b", 29) + " tail", strings.Repeat("a", 30) + " " + strings.Repeat("b", 29) + "…"},
		{"one long word", strings.Repeat("x", 100), strings.Repeat("x", 60) + "…"},
		{"long word after a short one", "Hi " + strings.Repeat("y", 80), "Hi " + strings.Repeat("y", 57) + "…"},
		{"runes not bytes", strings.Repeat("é", 58) + " ü", strings.Repeat("é", 58) + " ü"},
		{"multibyte cut", strings.Repeat("日本語 ", 20), strings.TrimSpace(strings.Repeat("日本語 ", 15)) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := titleFrom(tt.text); got != tt.want {
				t.Errorf("titleFrom(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestReadInput(t *testing.T) {
	text := func(s string) store.ContentPart { return store.ContentPart{Type: "input_text", Text: s} }
	tests := []struct {
		name      string
		messages  string
		wantTitle string
		wantUser  []store.ContentPart // nil: no user message
	}{
		{"one message", `[{"role":"user","content":"Hello there"}]`, "Hello there", []store.ContentPart{text("Hello there")}},
		{"history resent: only the last is new, the title is the first's",
			`[{"role":"system","content":"Be kind."},{"role":"user","content":"First question"},{"role":"assistant","content":"An answer"},{"role":"user","content":"Second question"}]`,
			"First question", []store.ContentPart{text("Second question")}},
		{"text parts joined, images kept by URL or id",
			`[{"role":"user","content":[{"type":"text","text":"What is"},{"type":"image_url","image_url":{"url":"jan_01hqr8v9k2"}},{"type":"text","text":"this?"},{"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"low"}}]}]`,
			"What is this?", []store.ContentPart{text("What is\nthis?"), {Type: "input_image", ImageURL: "jan_01hqr8v9k2"}, {Type: "input_image", ImageURL: "https://example.com/a.png"}}},
		{"inline image replaced by a note",
			`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,` + strings.Repeat("QUJD", 1000) + `"}}]}]`,
			"", []store.ContentPart{text("[image not stored: inline image/png data]")}},
		{"title from the first user message with text",
			`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]},{"role":"assistant","content":"A cat."},{"role":"user","content":"Is it cute?"}]`,
			"Is it cute?", []store.ContentPart{text("Is it cute?")}},
		{"ends with a tool result: no new user message",
			`[{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"sunny"}]`,
			"Weather in Paris?", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := readInput([]byte(`{"model":"m","messages":` + tt.messages + `}`))
			if in.title != tt.wantTitle {
				t.Errorf("title %q, want %q", in.title, tt.wantTitle)
			}
			if tt.wantUser == nil {
				if in.user != nil {
					t.Errorf("user message %+v, want none", *in.user)
				}
				return
			}
			if in.user == nil {
				t.Fatal("no user message")
			}
			if in.user.Role != "user" || in.user.Type != "message" || in.user.Status != store.ItemStatusCompleted {
				t.Errorf("user item %+v", *in.user)
			}
			if !reflect.DeepEqual(in.user.Content, tt.wantUser) {
				t.Errorf("content %+v, want %+v", in.user.Content, tt.wantUser)
			}
		})
	}
}

// The stored strings must not share memory with the request body, which
// would pin it (and a reused buffer would change them).
func TestReadInputCopies(t *testing.T) {
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"Hello there"}]}`)
	in := readInput(body)
	for i := range body {
		body[i] = 'x'
	}
	if in.title != "Hello there" || in.user.Content[0].Text != "Hello there" {
		t.Errorf("input changed with the body: %q %q", in.title, in.user.Content[0].Text)
	}
}

func TestAssistantItem(t *testing.T) {
	out := func(s string) store.ContentPart { return store.ContentPart{Type: "output_text", Text: s} }
	call := func(name, args string) openai.ToolCall {
		return openai.ToolCall{ID: "call_1", Type: "function", Function: openai.FunctionCall{Name: name, Arguments: args}}
	}
	tests := []struct {
		name       string
		reply      chat.Reply
		wantStatus string
		want       []store.ContentPart
	}{
		{"text", chat.Reply{Text: "Hello"}, "completed", []store.ContentPart{out("Hello")}},
		{"cut short", chat.Reply{Text: "Once upon", Incomplete: true}, "incomplete", []store.ContentPart{out("Once upon")}},
		{"nothing produced", chat.Reply{Incomplete: true}, "incomplete", []store.ContentPart{out("")}},
		{"refusal", chat.Reply{Refusal: "I can't help with that."}, "completed", []store.ContentPart{{Type: "refusal", Text: "I can't help with that."}}},
		{"tool calls", chat.Reply{ToolCalls: []openai.ToolCall{call("get_weather", `{"location":"Paris"}`), call("get_time", `{}`)}}, "completed",
			[]store.ContentPart{out(`Tool call: get_weather({"location":"Paris"})`), out(`Tool call: get_time({})`)}},
		{"text and a tool call", chat.Reply{Text: "Let me check.", ToolCalls: []openai.ToolCall{call("get_weather", `{}`)}}, "completed",
			[]store.ContentPart{out("Let me check."), out(`Tool call: get_weather({})`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := assistantItem(tt.reply)
			if it.Role != "assistant" || it.Type != "message" || it.Status != tt.wantStatus {
				t.Errorf("item %+v, want an assistant message %s", it, tt.wantStatus)
			}
			if !reflect.DeepEqual(it.Content, tt.want) {
				t.Errorf("content %+v, want %+v", it.Content, tt.want)
			}
		})
	}
}

func TestSystemMessages(t *testing.T) {
	tests := []struct {
		name        string
		instruction string
		profile     store.ProfileSettings
		want        []string
	}{
		{"defaults: nothing", "", store.ProfileSettings{BaseStyle: "Friendly"}, nil},
		{"empty profile: nothing", "  ", store.ProfileSettings{}, nil},
		{"instruction only", " You are a marketing expert. \n", store.ProfileSettings{BaseStyle: "Friendly"}, []string{"You are a marketing expert."}},
		{"style only", "", store.ProfileSettings{BaseStyle: "Concise"}, []string{profileIntro + "\nResponse style: Concise (short and direct, without filler)."}},
		{"every field, after the instruction", "Be brief.", store.ProfileSettings{
			BaseStyle: "Professional", NickName: "Dev", Occupation: "Engineer", MoreAboutYou: "I live in Hanoi.", CustomInstructions: "Answer in French.",
		}, []string{"Be brief.", profileIntro +
			"\nResponse style: Professional (clear, precise and formal)." +
			"\nAddress the user as: Dev" +
			"\nThe user's occupation: Engineer" +
			"\nAbout the user: I live in Hanoi." +
			"\nCustom instructions: Answer in French."}},
		{"default style said when another field is set", "", store.ProfileSettings{BaseStyle: "Friendly", NickName: "Sam"},
			[]string{profileIntro + "\nResponse style: Friendly (warm and conversational).\nAddress the user as: Sam"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := systemMessages(tt.instruction, tt.profile); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}
