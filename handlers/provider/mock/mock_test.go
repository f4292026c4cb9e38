package mock

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	wire "github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
)

func request(t *testing.T, p *Provider, body string) *provider.Request {
	t.Helper()
	r, err := provider.NewRouter([]provider.Provider{p}, provider.RouterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	chat, aerr := wire.ParseChatRequest([]byte(body))
	if aerr != nil {
		t.Fatalf("invalid test body: %s", aerr.Message)
	}
	m, ok := r.Model(chat.Model)
	if !ok {
		t.Fatalf("model %q not served", chat.Model)
	}
	return &provider.Request{Body: []byte(body), Chat: chat, Model: m}
}

func complete(t *testing.T, p *Provider, body string) (wire.ChatCompletion, *provider.Completion) {
	t.Helper()
	c, err := p.ChatCompletion(context.Background(), request(t, p, body))
	if err != nil {
		t.Fatal(err)
	}
	var got wire.ChatCompletion
	if err := json.Unmarshal(c.Body, &got); err != nil {
		t.Fatal(err)
	}
	return got, c
}

func TestDefaults(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Info() != (provider.Info{ID: "mock", Name: "Mock", Kind: "mock"}) {
		t.Errorf("info = %+v", p.Info())
	}
	specs := p.Models()
	if len(specs) != 2 || specs[0].ID != "jan-v1-4b" || specs[1].ID != "jan-v1-7b" || specs[0].MaxOutputTokens != 4096 || specs[0].OwnedBy != "jan" {
		t.Errorf("models = %+v", specs)
	}
}

func TestCompletion(t *testing.T) {
	p, _ := New(Config{})
	tests := []struct {
		name, body, content, finish string
		completionTokens            int
	}{
		{"echo", `{"model":"jan-v1-4b","messages":[{"role":"system","content":"Be nice"},{"role":"user","content":"Hello,   how are you?"}]}`,
			"Hello! This is a mock reply from jan-v1-4b. You said: Hello, how are you?", "stop", 14},
		{"max_tokens", `{"model":"jan-v1-7b","messages":[{"role":"user","content":"Hi"}],"max_tokens":3}`,
			"Hello! This is", "length", 3},
		{"stop", `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stop":["mock","reply"]}`,
			"Hello! This is a ", "stop", 4},
		{"after a tool result", `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Weather?"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"w","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"sunny"}],"tools":[{"type":"function","function":{"name":"w"}}]}`,
			"The tool returned: sunny", "stop", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, c := complete(t, p, tt.body)
			ch := got.Choices[0]
			if ch.Message.Content == nil || *ch.Message.Content != tt.content || ch.FinishReason != tt.finish {
				t.Errorf("content %q finish %q, want %q %q", deref(ch.Message.Content), ch.FinishReason, tt.content, tt.finish)
			}
			if c.Usage.CompletionTokens != tt.completionTokens || c.Usage.TotalTokens != c.Usage.PromptTokens+c.Usage.CompletionTokens || *got.Usage != c.Usage {
				t.Errorf("usage = %+v", c.Usage)
			}
			again, _ := complete(t, p, tt.body)
			if again.ID != got.ID || *again.Choices[0].Message.Content != *ch.Message.Content {
				t.Error("the same request got a different answer")
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestToolCalls(t *testing.T) {
	p, _ := New(Config{})
	const tools = `"tools":[{"type":"function","function":{"name":"first","parameters":{"type":"object"}}},{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"},"days":{"type":"integer"},"metric":{"type":"boolean"}},"required":["location","days","metric"]}}}]`
	got, _ := complete(t, p, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Paris   please"}],`+tools+`,"tool_choice":{"type":"function","function":{"name":"get_weather"}}}`)
	ch := got.Choices[0]
	if ch.FinishReason != "tool_calls" || ch.Message.Content != nil || len(ch.Message.ToolCalls) != 1 {
		t.Fatalf("answer = %+v", ch)
	}
	tc := ch.Message.ToolCalls[0]
	if tc.Function.Name != "get_weather" || tc.Function.Arguments != `{"days":1,"location":"Paris please","metric":true}` || !strings.HasPrefix(tc.ID, "call_") || tc.Index != nil {
		t.Errorf("tool call = %+v", tc)
	}
	got, _ = complete(t, p, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"x"}],`+tools+`}`)
	if tc := got.Choices[0].Message.ToolCalls; len(tc) != 1 || tc[0].Function.Name != "first" || tc[0].Function.Arguments != "{}" {
		t.Errorf("default tool call = %+v", tc)
	}
	got, _ = complete(t, p, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"x"}],`+tools+`,"tool_choice":"none"}`)
	if got.Choices[0].FinishReason != "stop" {
		t.Errorf("tool_choice none still called a tool")
	}
}

func TestStream(t *testing.T) {
	p, _ := New(Config{})
	body := `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Tell me a story"}],"stream":true,"max_tokens":6}`
	plain, _ := complete(t, p, strings.Replace(body, `"stream":true`, `"stream":false`, 1))
	s, err := p.ChatCompletionStream(context.Background(), request(t, p, body))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var (
		content string
		words   int
		finish  string
		usage   *wire.Usage
	)
	for i := 0; ; i++ {
		c, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var chunk wire.ChatCompletionChunk
		if err := json.Unmarshal(c.Data, &chunk); err != nil {
			t.Fatal(err)
		}
		if chunk.Object != "chat.completion.chunk" || chunk.Model != "jan-v1-4b" {
			t.Errorf("chunk %s", c.Data)
		}
		if i == 0 && (chunk.Choices[0].Delta.Role != "assistant" || chunk.Choices[0].Delta.Content == nil || *chunk.Choices[0].Delta.Content != "") {
			t.Errorf("first chunk %s, want the spec's role chunk", c.Data)
		}
		if c.UsageOnly {
			usage = chunk.Usage
			continue
		}
		if d := chunk.Choices[0].Delta.Content; d != nil && *d != "" {
			content += *d
			words++
		}
		if f := chunk.Choices[0].FinishReason; f != nil {
			finish = *f
		}
	}
	if content != *plain.Choices[0].Message.Content || words != 6 || finish != "length" {
		t.Errorf("streamed %q in %d words (finish %q), plain answer %q", content, words, finish, *plain.Choices[0].Message.Content)
	}
	if usage == nil || *usage != *plain.Usage {
		t.Errorf("usage %+v, plain %+v", usage, plain.Usage)
	}
}

func TestStreamStopsWhenClientLeaves(t *testing.T) {
	p, _ := New(Config{TokenDelay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := p.ChatCompletionStream(ctx, request(t, p, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err = s.Next()
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Kind != provider.KindCanceled {
		t.Fatalf("err = %v, want canceled", err)
	}
}

func TestSplitWords(t *testing.T) {
	for _, text := range []string{"", "one", "  lead and  double  spaces ", "tabs\tand\nlines", "Hello! This is a "} {
		if got := strings.Join(splitWords(text), ""); got != text {
			t.Errorf("splitWords(%q) joins to %q", text, got)
		}
	}
	if got := splitWords("a bb  c"); len(got) != 3 || got[1] != " bb" || got[2] != "  c" {
		t.Errorf("pieces = %q", got)
	}
}
