package openai

import (
	"strings"
	"testing"
)

func TestParseChatRequestAccepts(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, r *ChatRequest)
	}{
		{
			name: "spec example",
			body: `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hello, how are you?"}],"max_tokens":100,"temperature":0.7,"stream":false}`,
			check: func(t *testing.T, r *ChatRequest) {
				if r.Model != "jan-v1-4b" || r.Stream || r.MaxTokens != 100 || r.MaxTokensParam != "max_tokens" {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name: "stream with usage",
			body: ` {"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}`,
			check: func(t *testing.T, r *ChatRequest) {
				if !r.Stream || !r.IncludeUsage {
					t.Errorf("got stream=%v include_usage=%v", r.Stream, r.IncludeUsage)
				}
			},
		},
		{
			name: "max_completion_tokens wins",
			body: `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":50,"max_completion_tokens":20}`,
			check: func(t *testing.T, r *ChatRequest) {
				if r.MaxTokens != 20 || r.MaxTokensParam != "max_completion_tokens" {
					t.Errorf("got %d from %s", r.MaxTokens, r.MaxTokensParam)
				}
			},
		},
		{
			name: "every role and content form",
			body: `{"model":"m","messages":[
				{"role":"system","content":"be brief"},
				{"role":"developer","content":[{"type":"text","text":"dev"}]},
				{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"jan_01hqr8v9k2x3f4g5h6j7k8m9n0","detail":"auto"}}]},
				{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
				{"role":"tool","tool_call_id":"call_1","content":"42"}
			]}`,
		},
		{
			name: "nulls are absent",
			body: `{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":null,"top_p":null,"max_tokens":null,"stop":null,"stream":null,"stream_options":null,"tools":null,"tool_choice":null,"user":null}`,
		},
		{
			name: "range bounds",
			body: `{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":2,"top_p":0,"stop":["a","b","c","d"]}`,
		},
		{
			name: "tools and unknown fields pass",
			body: `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"get_weather"}},"seed":7,"logit_bias":{"1":2},"response_format":{"type":"json_object"}}`,
			check: func(t *testing.T, r *ChatRequest) {
				if !r.HasTools {
					t.Error("HasTools is false")
				}
			},
		},
		{
			name: "jan conversation object",
			body: `{"model":"m","messages":[{"role":"user","content":"x"}],"conversation":{"id":"conv_1"},"store":true}`,
			check: func(t *testing.T, r *ChatRequest) {
				if r.Conversation != "conv_1" || r.Store == nil || !*r.Store {
					t.Errorf("got conversation %q store %v", r.Conversation, r.Store)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseChatRequest([]byte(tt.body))
			if err != nil {
				t.Fatalf("rejected: %v (param %s, code %s)", err.Message, err.Param, err.Code)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestParseChatRequestRejects(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"x"}]`
	tests := []struct {
		name, body, code, param string
	}{
		{"malformed", `{"model":`, CodeInvalidJSON, ""},
		{"not an object", `[1,2]`, CodeInvalidJSON, ""},
		{"invalid utf-8", "{\"model\":\"m\xff\"," + msgs + "}", CodeInvalidJSON, ""},
		{"nesting past the limit", strings.Repeat("[", 6<<20), CodeInvalidJSON, ""},
		{"valid JSON nesting past the limit", `{"model":"m",` + msgs + `,"metadata":` + strings.Repeat(`{"a":`, 64) + `1` + strings.Repeat(`}`, 64) + `}`, CodeInvalidJSON, ""},
		{"no model", `{` + msgs + `}`, CodeMissingParameter, "model"},
		{"model not a string", `{"model":4,` + msgs + `}`, CodeInvalidType, "model"},
		{"no messages", `{"model":"m"}`, CodeMissingParameter, "messages"},
		{"messages not array", `{"model":"m","messages":"hi"}`, CodeInvalidType, "messages"},
		{"messages empty", `{"model":"m","messages":[]}`, CodeInvalidValue, "messages"},
		{"message not object", `{"model":"m","messages":["hi"]}`, CodeInvalidType, "messages[0]"},
		{"no role", `{"model":"m","messages":[{"content":"x"}]}`, CodeMissingParameter, "messages[0].role"},
		{"bad role", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"robot","content":"x"}]}`, CodeInvalidValue, "messages[1].role"},
		{"user without content", `{"model":"m","messages":[{"role":"user"}]}`, CodeMissingParameter, "messages[0].content"},
		{"content number", `{"model":"m","messages":[{"role":"user","content":5}]}`, CodeInvalidType, "messages[0].content"},
		{"unknown part", `{"model":"m","messages":[{"role":"user","content":[{"type":"video","video":{}}]}]}`, CodeInvalidValue, "messages[0].content[0].type"},
		{"image without url", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}`, CodeInvalidType, "messages[0].content[0].image_url.url"},
		{"image in system", `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"http://x"}}]}]}`, CodeInvalidValue, "messages[0].content[0].type"},
		{"text part without text", `{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}`, CodeInvalidType, "messages[0].content[0].text"},
		{"tool without id", `{"model":"m","messages":[{"role":"tool","content":"x"}]}`, CodeMissingParameter, "messages[0].tool_call_id"},
		{"bad tool call", `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"name":""}}]}]}`, CodeInvalidType, "messages[0].tool_calls[0].function.name"},
		{"temperature high", `{"model":"m",` + msgs + `,"temperature":2.01}`, CodeInvalidValue, "temperature"},
		{"temperature negative", `{"model":"m",` + msgs + `,"temperature":-0.1}`, CodeInvalidValue, "temperature"},
		{"temperature string", `{"model":"m",` + msgs + `,"temperature":"hot"}`, CodeInvalidType, "temperature"},
		{"top_p high", `{"model":"m",` + msgs + `,"top_p":1.5}`, CodeInvalidValue, "top_p"},
		{"max_tokens zero", `{"model":"m",` + msgs + `,"max_tokens":0}`, CodeInvalidValue, "max_tokens"},
		{"max_tokens fraction", `{"model":"m",` + msgs + `,"max_tokens":1.5}`, CodeInvalidType, "max_tokens"},
		{"max_tokens exponent", `{"model":"m",` + msgs + `,"max_tokens":1e2}`, CodeInvalidType, "max_tokens"},
		{"max_tokens huge", `{"model":"m",` + msgs + `,"max_tokens":99999999999999999999}`, CodeInvalidValue, "max_tokens"},
		{"max_completion_tokens negative", `{"model":"m",` + msgs + `,"max_completion_tokens":-3}`, CodeInvalidValue, "max_completion_tokens"},
		{"five stops", `{"model":"m",` + msgs + `,"stop":["a","b","c","d","e"]}`, CodeInvalidValue, "stop"},
		{"stop number", `{"model":"m",` + msgs + `,"stop":[1]}`, CodeInvalidType, "stop"},
		{"stream string", `{"model":"m",` + msgs + `,"stream":"yes"}`, CodeInvalidType, "stream"},
		{"include_usage string", `{"model":"m",` + msgs + `,"stream_options":{"include_usage":"yes"}}`, CodeInvalidType, "stream_options.include_usage"},
		{"tools object", `{"model":"m",` + msgs + `,"tools":{}}`, CodeInvalidType, "tools"},
		{"tool without name", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{}}]}`, CodeMissingParameter, "tools[0].function.name"},
		{"tool_choice word", `{"model":"m",` + msgs + `,"tool_choice":"always"}`, CodeInvalidValue, "tool_choice"},
		{"duplicate model", `{"model":"m",` + msgs + `,"model":"other"}`, CodeDuplicateProperty, "model"},
		{"duplicate escaped model", `{"model":"m",` + msgs + `,"mod\u0065l":"other"}`, CodeDuplicateProperty, "model"},
		{"case variant of a member", `{"model":"m",` + msgs + `,"Model":"other"}`, CodeInvalidParameter, "Model"},
		{"duplicate role", `{"model":"m","messages":[{"role":"user","role":"system","content":"x"}]}`, CodeDuplicateProperty, "messages[0].role"},
		{"duplicate part text", `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","text":"b"}]}]}`, CodeDuplicateProperty, "messages[0].content[0].text"},
		{"duplicate image url", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://a","url":"https://b"}}]}]}`, CodeDuplicateProperty, "messages[0].content[0].image_url.url"},
		{"duplicate tool call id", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"a","id":"b","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, CodeDuplicateProperty, "messages[1].tool_calls[0].id"},
		{"duplicate tool call arguments", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}","arguments":"[]"}}]}]}`, CodeDuplicateProperty, "messages[1].tool_calls[0].function.arguments"},
		{"duplicate tool type", `{"model":"m",` + msgs + `,"tools":[{"type":"function","type":"custom","function":{"name":"f"}}]}`, CodeDuplicateProperty, "tools[0].type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseChatRequest([]byte(tt.body))
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Status != 400 || err.Code != tt.code || err.Param != tt.param {
				t.Errorf("got status %d code %q param %q (%s); want 400 %q %q", err.Status, err.Code, err.Param, err.Message, tt.code, tt.param)
			}
			if err.Type != "invalid_request_error" || err.Message == "" {
				t.Errorf("got type %q message %q", err.Type, err.Message)
			}
		})
	}
}

func TestDecodeChatRequestMatchesParse(t *testing.T) {
	body := []byte(`{"model":"m","messages":[
		{"role":"system","content":"sys"},
		{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"text","text":"b"}]},
		{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"ok"}
	],"max_tokens":9,"temperature":0.5,"stop":"END","stream":true,"stream_options":{"include_usage":true},
	"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"}}}],"tool_choice":"auto","parallel_tool_calls":false}`)
	if _, err := ParseChatRequest(body); err != nil {
		t.Fatalf("parse: %s", err.Message)
	}
	r, err := DecodeChatRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != "m" || len(r.Messages) != 4 || r.OutputLimit() != 9 || *r.Temperature != 0.5 || !r.Stream || !r.IncludeUsage {
		t.Errorf("got %+v", r)
	}
	if got := r.Messages[1].Content.PlainText(); got != "a\nb" {
		t.Errorf("plain text = %q", got)
	}
	if r.Messages[1].Content.Parts[1].ImageURL.URL != "data:image/png;base64,AAAA" {
		t.Errorf("image = %+v", r.Messages[1].Content.Parts[1])
	}
	if !r.Messages[2].Content.IsNull || r.Messages[2].ToolCalls[0].Function.Arguments != `{"x":1}` {
		t.Errorf("assistant = %+v", r.Messages[2])
	}
	if len(r.Stop) != 1 || r.Stop[0] != "END" || string(r.ToolChoice) != `"auto"` || *r.ParallelToolCalls {
		t.Errorf("stop %v tool_choice %s parallel %v", r.Stop, r.ToolChoice, *r.ParallelToolCalls)
	}
	if len(r.Tools) != 1 || r.Tools[0].Function.Name != "f" || string(r.Tools[0].Function.Parameters) != `{"type":"object"}` {
		t.Errorf("tools = %+v", r.Tools)
	}
}

func BenchmarkParseChatRequest(b *testing.B) {
	body := []byte(`{"model":"jan-v1-4b","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"` + strings.Repeat("hello ", 200) + `"}],"max_tokens":100,"temperature":0.7,"stream":true}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r, err := ParseChatRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		_ = r.UpstreamBody(body, "Qwen/Qwen3-4B")
	}
}
