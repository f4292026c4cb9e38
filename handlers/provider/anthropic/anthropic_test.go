package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	wire "github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

func TestTranslateRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{
			name: "system prompts, merged turns, parameters",
			body: `{"model":"claude","messages":[
				{"role":"system","content":"Be brief."},
				{"role":"developer","content":[{"type":"text","text":"Answer in French."}]},
				{"role":"user","content":"Hi"},
				{"role":"user","content":[{"type":"text","text":"Look:"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},{"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]}
			],"max_tokens":50,"temperature":1.5,"top_p":0.9,"stop":["END"],"user":"usr_1"}`,
			want: `{"model":"claude-x","system":"Be brief.\n\nAnswer in French.","messages":[
				{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"text","text":"Look:"},
					{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
					{"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]}
			],"max_tokens":50,"stop_sequences":["END"],"temperature":1,"top_p":0.9,"metadata":{"user_id":"usr_1"}}`,
		},
		{
			// The spec's defaults as the gateway adds them: top_p 1 is
			// Anthropic's default and recent models refuse it with a
			// temperature, so it is left out.
			name: "spec sampling defaults",
			body: `{"model":"claude","messages":[{"role":"user","content":"Hi"}],"temperature":0.7,"top_p":1}`,
			want: `{"model":"claude-x","messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"max_tokens":1024,"temperature":0.7}`,
		},
		{
			name: "tools, tool calls and tool results",
			body: `{"model":"claude","messages":[
				{"role":"user","content":"Weather in Paris and Rome?"},
				{"role":"assistant","content":"Checking.","tool_calls":[
					{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
					{"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":""}}]},
				{"role":"tool","tool_call_id":"toolu_1","content":"sunny"},
				{"role":"tool","tool_call_id":"toolu_2","content":[{"type":"text","text":"rain"}]},
				{"role":"user","content":"Thanks"}
			],"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},
			           {"type":"function","function":{"name":"now"}}],
			"tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":false,"stream":true}`,
			want: `{"model":"claude-x","messages":[
				{"role":"user","content":[{"type":"text","text":"Weather in Paris and Rome?"}]},
				{"role":"assistant","content":[{"type":"text","text":"Checking."},
					{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},
					{"type":"tool_use","id":"toolu_2","name":"get_weather","input":{}}]},
				{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"},
					{"type":"tool_result","tool_use_id":"toolu_2","content":"rain"},
					{"type":"text","text":"Thanks"}]}
			],"max_tokens":1024,"stream":true,
			"tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}},
			         {"name":"now","input_schema":{"type":"object","properties":{}}}],
			"tool_choice":{"type":"tool","name":"get_weather","disable_parallel_tool_use":true}}`,
		},
		{
			name: "tool choice words",
			body: `{"model":"claude","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"}`,
			want: `{"model":"claude-x","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":1024,
				"tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}],"tool_choice":{"type":"any"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, aerr := wire.ParseChatRequest([]byte(tt.body)); aerr != nil {
				t.Fatalf("invalid test body: %s", aerr.Message)
			}
			r, err := wire.DecodeChatRequest([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			maxTokens := r.OutputLimit()
			if maxTokens == 0 {
				maxTokens = 1024
			}
			got, err := translateRequest(r, "claude-x", maxTokens, r.Stream)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &w); err != nil {
				t.Fatalf("bad want: %v", err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestTranslateRequestRejects(t *testing.T) {
	for _, body := range []string{
		`{"model":"c","messages":[{"role":"assistant","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`,
		`{"model":"c","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,notbase64"}}]}]}`,
	} {
		r, err := wire.DecodeChatRequest([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		_, err = translateRequest(r, "c", 10, false)
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Kind != provider.KindBadRequest {
			t.Errorf("%s: err = %v, want a bad request", body, err)
		}
	}
}

func TestFinishReasons(t *testing.T) {
	for stop, want := range map[string]string{
		"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls", "refusal": "content_filter", "pause_turn": "stop",
	} {
		if got := finishReason(stop); got != want {
			t.Errorf("finishReason(%q) = %q, want %q", stop, got, want)
		}
	}
}

// route builds the provider against a fake Anthropic API.
func route(t *testing.T, srv http.Handler, body string) (*provider.Router, *provider.Request, *providertest.Upstream) {
	t.Helper()
	up := providertest.NewUpstream(t, srv)
	r, req := routeConfig(t, Config{ID: "anthropic", BaseURL: up.URL, APIKey: "sk-ant-test", ModelMap: map[string]string{"claude": "claude-sonnet-4-5"}, IdleTimeout: 2 * time.Second}, body)
	return r, req, up
}

// routeConfig builds a provider for cfg behind a router, and the request
// for body to its model "claude".
func routeConfig(t *testing.T, cfg Config, body string) (*provider.Router, *provider.Request) {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	r, err := provider.NewRouter([]provider.Provider{p}, provider.RouterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	chat, aerr := wire.ParseChatRequest([]byte(body))
	if aerr != nil {
		t.Fatalf("invalid test body: %s", aerr.Message)
	}
	m, _ := r.Model("claude")
	return r, &provider.Request{Body: []byte(body), Chat: chat, Model: m}
}

func TestChatCompletion(t *testing.T) {
	r, req, up := route(t, &providertest.AnthropicServer{Reply: "Bonjour"}, `{"model":"claude","messages":[{"role":"system","content":"sys"},{"role":"user","content":"Hi"}]}`)
	c, _, err := r.ChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var got wire.ChatCompletion
	if err := json.Unmarshal(c.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Object != "chat.completion" || got.Model != "claude" || *got.Choices[0].Message.Content != "Bonjour" || got.Choices[0].FinishReason != "stop" {
		t.Errorf("answer = %s", c.Body)
	}
	if c.Usage != (wire.Usage{PromptTokens: 13, CompletionTokens: 1, TotalTokens: 14}) || got.Usage == nil || *got.Usage != c.Usage {
		t.Errorf("usage = %+v, body %s", c.Usage, c.Body)
	}
	rec := up.Last(t)
	if rec.Path != "/v1/messages" || rec.Header.Get("X-Api-Key") != "sk-ant-test" || rec.Header.Get("Anthropic-Version") != "2023-06-01" {
		t.Errorf("request %s %v", rec.Path, rec.Header)
	}
	body := rec.JSON(t)
	if body["model"] != "claude-sonnet-4-5" || body["system"] != "sys" || body["max_tokens"] != float64(DefaultMaxTokens) {
		t.Errorf("upstream body %s", rec.Body)
	}
}

func TestChatCompletionToolUse(t *testing.T) {
	r, req, _ := route(t, &providertest.AnthropicServer{Reply: "Let me check."},
		`{"model":"claude","messages":[{"role":"user","content":"Weather?"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}`)
	c, _, err := r.ChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var got wire.ChatCompletion
	if err := json.Unmarshal(c.Body, &got); err != nil {
		t.Fatal(err)
	}
	ch := got.Choices[0]
	if ch.FinishReason != "tool_calls" || *ch.Message.Content != "Let me check." || len(ch.Message.ToolCalls) != 1 {
		t.Fatalf("answer = %s", c.Body)
	}
	tc := ch.Message.ToolCalls[0]
	if tc.ID != "toolu_01" || tc.Type != "function" || tc.Function.Name != "get_weather" || tc.Function.Arguments != `{"location":"Paris"}` {
		t.Errorf("tool call = %+v", tc)
	}
}

func TestStream(t *testing.T) {
	tests := []struct {
		name, body string
		tools      bool
	}{
		{"text", `{"model":"claude","messages":[{"role":"user","content":"Hi"}],"stream":true}`, false},
		{"tool use", `{"model":"claude","messages":[{"role":"user","content":"Hi"}],"stream":true,"tools":[{"type":"function","function":{"name":"get_weather"}}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, req, _ := route(t, &providertest.AnthropicServer{Reply: "Once upon a time"}, tt.body)
			s, _, err := r.ChatCompletionStream(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var (
				content, args, toolName, toolID, finish string
				usage                                   *wire.Usage
				n                                       int
			)
			for {
				c, err := s.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
				var chunk wire.ChatCompletionChunk
				if err := json.Unmarshal(c.Data, &chunk); err != nil {
					t.Fatalf("%v: %s", err, c.Data)
				}
				if chunk.Object != "chat.completion.chunk" || chunk.Model != "claude" || chunk.ID != "chatcmpl-msg_01" {
					t.Errorf("chunk %s", c.Data)
				}
				if n == 1 && (len(chunk.Choices) != 1 || chunk.Choices[0].Delta.Role != "assistant") {
					t.Errorf("first chunk is not the role chunk: %s", c.Data)
				}
				if c.UsageOnly {
					usage = chunk.Usage
					if len(chunk.Choices) != 0 || !c.HasUsage || c.Usage != *chunk.Usage {
						t.Errorf("usage chunk %s", c.Data)
					}
					continue
				}
				for _, ch := range chunk.Choices {
					if ch.Delta.Content != nil {
						content += *ch.Delta.Content
					}
					for _, tc := range ch.Delta.ToolCalls {
						if tc.Index == nil || *tc.Index != 0 {
							t.Errorf("tool call index %v", tc.Index)
						}
						if tc.ID != "" {
							toolID, toolName = tc.ID, tc.Function.Name
						}
						args += tc.Function.Arguments
					}
					if ch.FinishReason != nil {
						finish = *ch.FinishReason
					}
				}
			}
			if content != "Once upon a time" {
				t.Errorf("content = %q", content)
			}
			if usage == nil || *usage != (wire.Usage{PromptTokens: 13, CompletionTokens: 4, TotalTokens: 17}) {
				t.Errorf("usage = %+v", usage)
			}
			if tt.tools {
				if finish != "tool_calls" || toolID != "toolu_01" || toolName != "get_weather" || args != `{"location": "Paris"}` {
					t.Errorf("finish %q tool %q %q args %q", finish, toolID, toolName, args)
				}
			} else if finish != "stop" {
				t.Errorf("finish = %q", finish)
			}
		})
	}
}

func TestStreamErrorEvent(t *testing.T) {
	r, req, _ := route(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.StartSSE(w)
		providertest.SendEvent(w, "message_start", `{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3,"output_tokens":1}}}`)
		providertest.SendEvent(w, "content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}`)
		providertest.SendEvent(w, "error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
	}), `{"model":"claude","messages":[{"role":"user","content":"Hi"}],"stream":true}`)
	s, _, err := r.ChatCompletionStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	for {
		_, err = s.Next()
		if err != nil {
			break
		}
		n++
	}
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Kind != provider.KindServer || n != 2 {
		t.Errorf("after %d chunks: err = %v, want a server error after 2", n, err)
	}
	if strings.Contains(pe.APIError().Message, "Overloaded") {
		t.Error("the upstream's message reached the client")
	}
}

func TestUpstreamErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		kind   provider.Kind
		msg    string
	}{
		{"invalid request", 400, `{"type":"error","error":{"type":"invalid_request_error","message":"messages.0.content: field required for claude-sonnet-4-5"}}`, provider.KindBadRequest, "messages.0.content: field required for claude"},
		{"bad key", 401, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, provider.KindAuth, ""},
		{"overloaded", 529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, provider.KindServer, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, req, _ := route(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}), `{"model":"claude","messages":[{"role":"user","content":"Hi"}]}`)
			_, _, err := r.ChatCompletion(context.Background(), req)
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Kind != tt.kind || pe.Message != tt.msg {
				t.Errorf("err = %v (message %q), want kind %v message %q", err, pe.Message, tt.kind, tt.msg)
			}
		})
	}
}

func TestDiscoverModels(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.AnthropicServer{Models: []string{"claude-sonnet-4-5", "claude-haiku-4-5"}})
	p, err := New(Config{ID: "anthropic", BaseURL: up.URL, APIKey: "k", DiscoverModels: true, ModelMap: map[string]string{"claude": "claude-sonnet-4-5"}})
	if err != nil {
		t.Fatal(err)
	}
	specs, err := p.DiscoverModels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || specs[0].ID != "claude" || specs[0].UpstreamID != "claude-sonnet-4-5" || specs[1].ID != "claude-haiku-4-5" {
		t.Fatalf("specs = %+v", specs)
	}
	if specs[0].DisplayName != "CLAUDE-SONNET-4-5" || specs[0].Created == 0 || !specs[0].Capabilities.Vision {
		t.Errorf("spec = %+v", specs[0])
	}
	if rec := up.Last(t); rec.Path != "/v1/models" || rec.Query != "limit=1000" {
		t.Errorf("listing request %s?%s", rec.Path, rec.Query)
	}
}
