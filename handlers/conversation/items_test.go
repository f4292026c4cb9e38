package conversation

import (
	"reflect"
	"strings"
	"testing"

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
			if got := TitleFrom(tt.text); got != tt.want {
				t.Errorf("TitleFrom(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestAssistantItem(t *testing.T) {
	out := func(s string) store.ContentPart { return store.ContentPart{Type: "output_text", Text: s} }
	call := func(name, args string) ToolCall { return ToolCall{Name: name, Arguments: args} }
	tests := []struct {
		name       string
		reply      Reply
		wantStatus string
		want       []store.ContentPart
	}{
		{"text", Reply{Text: "Hello"}, "completed", []store.ContentPart{out("Hello")}},
		{"cut short", Reply{Text: "Once upon", Incomplete: true}, "incomplete", []store.ContentPart{out("Once upon")}},
		{"nothing produced", Reply{Incomplete: true}, "incomplete", []store.ContentPart{out("")}},
		{"refusal", Reply{Refusal: "I can't help with that."}, "completed", []store.ContentPart{{Type: "refusal", Text: "I can't help with that."}}},
		{"tool calls", Reply{ToolCalls: []ToolCall{call("get_weather", `{"location":"Paris"}`), call("get_time", `{}`)}}, "completed",
			[]store.ContentPart{out(`Tool call: get_weather({"location":"Paris"})`), out(`Tool call: get_time({})`)}},
		{"text and a tool call", Reply{Text: "Let me check.", ToolCalls: []ToolCall{call("get_weather", `{}`)}}, "completed",
			[]store.ContentPart{out("Let me check."), out(`Tool call: get_weather({})`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := AssistantItem(tt.reply)
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
			if got := SystemMessages(tt.instruction, tt.profile); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}
