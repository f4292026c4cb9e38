package chat

import (
	"reflect"
	"testing"

	"github.com/caddy-llm/gateway/handlers/openai"
)

func TestReplyBuilder(t *testing.T) {
	chunk := func(choices string) string {
		return `{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000001,"model":"jan-v1-4b","choices":` + choices + `}`
	}
	tests := []struct {
		name   string
		chunks []string
		want   Reply
	}{
		{"content in pieces", []string{
			chunk(`[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]`),
			chunk(`[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]`),
			chunk(`[{"index":0,"delta":{"content":"lo \"you\"\n\u00e9"},"finish_reason":null}]`),
			chunk(`[{"index":0,"delta":{},"finish_reason":"stop"}]`),
			`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000001,"model":"jan-v1-4b","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
		}, Reply{Text: "Hello \"you\"\né"}},
		{"only the first choice", []string{
			chunk(`[{"index":1,"delta":{"content":"other"},"finish_reason":null}]`),
			chunk(`[{"index":0,"delta":{"content":"mine"},"finish_reason":null}]`),
			chunk(`[{"index":1,"delta":{"content":"other"},"finish_reason":null},{"index":0,"delta":{"content":"!"},"finish_reason":null}]`),
		}, Reply{Text: "mine!"}},
		{"refusal", []string{
			chunk(`[{"index":0,"delta":{"refusal":"I can't"},"finish_reason":null}]`),
			chunk(`[{"index":0,"delta":{"refusal":" do that."},"finish_reason":null}]`),
		}, Reply{Refusal: "I can't do that."}},
		{"tool calls merged by index", []string{
			chunk(`[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]`),
			chunk(`[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{}"}}]},"finish_reason":null}]`),
			chunk(`[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\":"}}]},"finish_reason":null}]`),
			chunk(`[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]`),
			chunk(`[{"index":0,"delta":{"tool_calls":[{"index":5000,"function":{"arguments":"ignored"}}]},"finish_reason":null}]`),
		}, Reply{ToolCalls: []openai.ToolCall{
			{ID: "call_a", Type: "function", Function: openai.FunctionCall{Name: "get_weather", Arguments: `{"location":"Paris"}`}},
			{ID: "call_b", Type: "function", Function: openai.FunctionCall{Name: "get_time", Arguments: `{}`}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b replyBuilder
			buf := make([]byte, 0, 1024)
			for _, c := range tt.chunks {
				// One buffer reused for every chunk, as the providers do:
				// what the builder keeps must be its own.
				buf = append(buf[:0], c...)
				b.add(buf)
				for i := range buf {
					buf[i] = ' '
				}
			}
			if got := b.reply(false); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("reply %+v, want %+v", got, tt.want)
			}
			if b.id != "chatcmpl-9" || b.created != 1700000001 {
				t.Errorf("id %q created %d", b.id, b.created)
			}
		})
	}
}

func TestCompletionReply(t *testing.T) {
	tests := []struct {
		name, body string
		want       Reply
	}{
		{"text", `{"choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}]}`, Reply{Text: "Hello"}},
		{"tool calls", `{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}]}`,
			Reply{ToolCalls: []openai.ToolCall{{ID: "call_1", Type: "function", Function: openai.FunctionCall{Name: "f", Arguments: `{"a":1}`}}}}},
		{"refusal", `{"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"No."},"finish_reason":"stop"}]}`, Reply{Refusal: "No."}},
		{"no choices", `{"choices":[]}`, Reply{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := completionReply([]byte(tt.body)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("reply %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestConversationEvent(t *testing.T) {
	ev := appendConversationEvent(nil, "chatcmpl-1", 1700000000, "jan-v1-4b", ConversationRef{ID: "conv_1", Title: `A "quoted" title`})
	want := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"jan-v1-4b","choices":[],"conversation":{"id":"conv_1","title":"A \"quoted\" title"}}` + "\n\n"
	if string(ev) != want {
		t.Errorf("event %q\nwant %q", ev, want)
	}
	body := withConversation([]byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[]}`), ConversationRef{ID: "conv_1", Title: "T"})
	if string(body) != `{"id":"chatcmpl-1","object":"chat.completion","choices":[],"conversation":{"id":"conv_1","title":"T"}}` {
		t.Errorf("body %s", body)
	}
}
