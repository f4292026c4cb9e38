package chat_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/mock"
	provopenai "github.com/caddy-llm/gateway/handlers/provider/openai"
	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

func TestSDKModels(t *testing.T) {
	g := newGateway(t, []provider.Provider{mockProvider(t, mock.Config{})}, provider.RouterConfig{})
	page, err := g.client.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
		if m.Object != "model" || m.OwnedBy != "jan" || m.Created != mock.DefaultCreated {
			t.Errorf("model %+v", m)
		}
	}
	if strings.Join(ids, ",") != "jan-v1-4b,jan-v1-7b" {
		t.Errorf("models = %v", ids)
	}
	m, err := g.client.Models.Get(context.Background(), "jan-v1-7b")
	if err != nil || m.ID != "jan-v1-7b" {
		t.Errorf("get = %+v, %v", m, err)
	}
	_, err = g.client.Models.Get(context.Background(), "no-such-model")
	var apiErr *oa.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Type != "not_found_error" {
		t.Errorf("err = %v, want a typed 404", err)
	}
}

func TestSDKChat(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "Hello! I'm doing well.", ServedModel: "janhq/Jan-v1-4B-20250801"})
	g := newGateway(t, []provider.Provider{openAIProvider(t, "vllm", up.URL+"/v1")}, provider.RouterConfig{})
	resp, err := g.client.Chat.Completions.New(context.Background(), oa.ChatCompletionNewParams{
		Model:       "jan-v1-4b",
		Messages:    []oa.ChatCompletionMessageParamUnion{oa.SystemMessage("Be kind."), oa.UserMessage("Hello, how are you?")},
		MaxTokens:   oa.Int(100),
		Temperature: oa.Float(0.7),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Object != "chat.completion" || resp.Model != "jan-v1-4b" || resp.Choices[0].Message.Content != "Hello! I'm doing well." || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("response = %s", resp.RawJSON())
	}
	if resp.Usage.CompletionTokens != 4 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+4 {
		t.Errorf("usage = %+v", resp.Usage)
	}
	if body := up.Last(t).JSON(t); body["model"] != "janhq/Jan-v1-4B" || body["max_tokens"] != float64(100) {
		t.Errorf("upstream body %s", up.Last(t).Body)
	}
	o := g.observed.last(t)
	if o.Model != "jan-v1-4b" || o.Provider != "vllm" || o.UpstreamModel != "janhq/Jan-v1-4B" || o.Status != 200 ||
		!o.HasUsage || o.Usage.CompletionTokens != 4 || o.TimeToFirstByte <= 0 || o.UpstreamLatency <= 0 || o.Stream {
		t.Errorf("outcome = %+v", o)
	}
}

func TestSDKStream(t *testing.T) {
	const reply = "Once upon a time, in a land far away"
	tests := []struct {
		name         string
		includeUsage bool
	}{
		{"without usage", false},
		{"with usage", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Lock-step: the upstream sends its next chunk only once the
			// client has received the previous one. A gateway that held
			// chunks back would stall here.
			received := make(chan struct{})
			stalled := make(chan int, 1)
			up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: reply, BeforeChunk: func(i int) bool {
				if i == 0 {
					return true
				}
				select {
				case <-received:
					return true
				case <-time.After(5 * time.Second):
					stalled <- i
					return false
				}
			}})
			g := newGateway(t, []provider.Provider{openAIProvider(t, "vllm", up.URL+"/v1")}, provider.RouterConfig{})
			params := oa.ChatCompletionNewParams{
				Model:    "jan-v1-4b",
				Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Tell me a story")},
			}
			if tt.includeUsage {
				params.StreamOptions = oa.ChatCompletionStreamOptionsParam{IncludeUsage: oa.Bool(true)}
			}
			stream := g.client.Chat.Completions.NewStreaming(context.Background(), params)
			defer stream.Close()
			var (
				acc        oa.ChatCompletionAccumulator
				chunks     int
				usageSeen  bool
				usageChunk oa.ChatCompletionChunk
			)
			for stream.Next() {
				chunk := stream.Current()
				chunks++
				if chunk.Model != "jan-v1-4b" {
					t.Errorf("chunk model %q", chunk.Model)
				}
				if chunk.JSON.Usage.Valid() && chunk.Usage.TotalTokens > 0 {
					usageSeen, usageChunk = true, chunk
				}
				acc.AddChunk(chunk)
				go func() {
					select {
					case received <- struct{}{}:
					case <-time.After(time.Second):
					}
				}()
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			select {
			case i := <-stalled:
				t.Fatalf("chunk %d was held back by the gateway", i)
			default:
			}
			if got := acc.Choices[0].Message.Content; got != reply {
				t.Errorf("content = %q, want %q", got, reply)
			}
			words := len(strings.Split(reply, " "))
			wantChunks := words + 2 // role chunk, words, finish chunk
			if tt.includeUsage {
				wantChunks++
			}
			if chunks != wantChunks {
				t.Errorf("got %d chunks, want %d", chunks, wantChunks)
			}
			if usageSeen != tt.includeUsage {
				t.Errorf("usage chunk seen = %v, want %v", usageSeen, tt.includeUsage)
			}
			if tt.includeUsage && (len(usageChunk.Choices) != 0 || usageChunk.Usage.CompletionTokens != int64(words)) {
				t.Errorf("usage chunk = %s", usageChunk.RawJSON())
			}
			o := g.observed.last(t)
			if !o.HasUsage || o.Usage.CompletionTokens != words || !o.Stream || o.Incomplete || o.TimeToFirstByte <= 0 {
				t.Errorf("outcome = %+v: usage must be recorded either way", o)
			}
		})
	}
}

var weatherTool = oa.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: oa.String("Get current weather information"),
	Parameters: shared.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"location": map[string]any{"type": "string"}},
		"required":   []string{"location"},
	},
})

func TestSDKToolCalls(t *testing.T) {
	upstreams := map[string]func(t *testing.T) provider.Provider{
		"openai upstream": func(t *testing.T) provider.Provider {
			up := providertest.NewUpstream(t, &providertest.OpenAIServer{ToolArguments: `{"location":"New York, NY"}`})
			return openAIProvider(t, "vllm", up.URL)
		},
		"mock": func(t *testing.T) provider.Provider { return mockProvider(t, mock.Config{}) },
	}
	for name, newProvider := range upstreams {
		t.Run(name, func(t *testing.T) {
			g := newGateway(t, []provider.Provider{newProvider(t)}, provider.RouterConfig{})
			params := oa.ChatCompletionNewParams{
				Model:    "jan-v1-4b",
				Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("New York, NY")},
				Tools:    []oa.ChatCompletionToolUnionParam{weatherTool},
			}
			resp, err := g.client.Chat.Completions.New(context.Background(), params)
			if err != nil {
				t.Fatal(err)
			}
			calls := resp.Choices[0].Message.ToolCalls
			if resp.Choices[0].FinishReason != "tool_calls" || len(calls) != 1 || calls[0].Function.Name != "get_weather" || calls[0].Function.Arguments != `{"location":"New York, NY"}` {
				t.Fatalf("response = %s", resp.RawJSON())
			}

			stream := g.client.Chat.Completions.NewStreaming(context.Background(), params)
			defer stream.Close()
			var acc oa.ChatCompletionAccumulator
			var finished []oa.FinishedChatCompletionToolCall
			for stream.Next() {
				acc.AddChunk(stream.Current())
				if tc, ok := acc.JustFinishedToolCall(); ok {
					finished = append(finished, tc)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			got := acc.Choices[0].Message.ToolCalls
			if len(got) != 1 || got[0].Function.Name != "get_weather" || got[0].Function.Arguments != `{"location":"New York, NY"}` || acc.Choices[0].FinishReason != "tool_calls" {
				t.Errorf("streamed tool calls = %+v, finish %q", got, acc.Choices[0].FinishReason)
			}
			if len(finished) != 1 {
				t.Errorf("finished tool calls = %+v", finished)
			}
		})
	}
}

func TestSDKMockHonoursMaxTokensAndStop(t *testing.T) {
	g := newGateway(t, []provider.Provider{mockProvider(t, mock.Config{})}, provider.RouterConfig{})
	resp, err := g.client.Chat.Completions.New(context.Background(), oa.ChatCompletionNewParams{
		Model:     "jan-v1-7b",
		Messages:  []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Hi")},
		MaxTokens: oa.Int(4),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "Hello! This is a" || resp.Choices[0].FinishReason != "length" || resp.Usage.CompletionTokens != 4 {
		t.Errorf("response = %s", resp.RawJSON())
	}
	stream := g.client.Chat.Completions.NewStreaming(context.Background(), oa.ChatCompletionNewParams{
		Model:    "jan-v1-7b",
		Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Hi")},
		Stop:     oa.ChatCompletionNewParamsStopUnion{OfString: oa.String("mock")},
	})
	defer stream.Close()
	var acc oa.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != "Hello! This is a " || acc.Choices[0].FinishReason != "stop" {
		t.Errorf("content %q finish %q", acc.Choices[0].Message.Content, acc.Choices[0].FinishReason)
	}
}

func TestSDKTypedErrors(t *testing.T) {
	limited := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		providertest.WriteJSON(w, http.StatusTooManyRequests, providertest.ErrorBody("Rate limit reached for sk-upstream-secret", "requests", "rate_limit_exceeded"))
	}))
	g := newGateway(t, []provider.Provider{
		openAIProvider(t, "busy", limited.URL, func(c *provopenai.Config) { c.ModelMap = nil }),
		mockProvider(t, mock.Config{}),
	}, provider.RouterConfig{Models: []provider.ModelConfig{{ID: "busy-model", Deployments: []provider.DeploymentConfig{{Provider: "busy", Model: "x"}}}}})

	tests := []struct {
		name   string
		params oa.ChatCompletionNewParams
		status int
		code   string
		param  string
	}{
		{"temperature out of range", oa.ChatCompletionNewParams{Model: "jan-v1-4b", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("x")}, Temperature: oa.Float(2.5)}, 400, "invalid_value", "temperature"},
		{"top_p out of range", oa.ChatCompletionNewParams{Model: "jan-v1-4b", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("x")}, TopP: oa.Float(1.5)}, 400, "invalid_value", "top_p"},
		{"unknown model", oa.ChatCompletionNewParams{Model: "gpt-17", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("x")}}, 400, "invalid_model", "model"},
		{"max_tokens above the model's", oa.ChatCompletionNewParams{Model: "jan-v1-4b", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("x")}, MaxTokens: oa.Int(5000)}, 400, "invalid_value", "max_tokens"},
		{"max_completion_tokens above the model's", oa.ChatCompletionNewParams{Model: "jan-v1-4b", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("x")}, MaxCompletionTokens: oa.Int(4097)}, 400, "invalid_value", "max_completion_tokens"},
		{"no messages", oa.ChatCompletionNewParams{Model: "jan-v1-4b", Messages: []oa.ChatCompletionMessageParamUnion{}}, 400, "invalid_value", "messages"},
		{"every deployment rate limited", oa.ChatCompletionNewParams{Model: "busy-model", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("x")}}, 429, "rate_limit_exceeded", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := g.client.Chat.Completions.New(context.Background(), tt.params)
			var apiErr *oa.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *openai.Error", err)
			}
			if apiErr.StatusCode != tt.status || apiErr.Code != tt.code || apiErr.Param != tt.param || apiErr.Message == "" {
				t.Errorf("got %d %q param %q (%s), want %d %q %q", apiErr.StatusCode, apiErr.Code, apiErr.Param, apiErr.Message, tt.status, tt.code, tt.param)
			}
			if tt.status == 429 {
				if ra := apiErr.Response.Header.Get("Retry-After"); ra != "7" {
					t.Errorf("Retry-After = %q, want 7", ra)
				}
				if strings.Contains(apiErr.RawJSON(), "sk-") {
					t.Errorf("upstream body leaked: %s", apiErr.RawJSON())
				}
			}
		})
	}
}

func TestSDKFailover(t *testing.T) {
	refusing := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}
	unavailable := func(t *testing.T) string {
		up := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			providertest.WriteJSON(w, http.StatusServiceUnavailable, providertest.ErrorBody("overloaded", "server_error", ""))
		}))
		return up.URL
	}
	for name, firstURL := range map[string]func(*testing.T) string{"first refuses": refusing, "first answers 503": unavailable} {
		for _, stream := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "", true: "/stream"}[stream], func(t *testing.T) {
				second := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "from the second"})
				g := newGateway(t, []provider.Provider{
					openAIProvider(t, "first", firstURL(t)),
					openAIProvider(t, "second", second.URL),
				}, provider.RouterConfig{Models: []provider.ModelConfig{{ID: "jan-v1-4b", Deployments: []provider.DeploymentConfig{
					{Provider: "first", Model: "m"}, {Provider: "second", Model: "m"},
				}}}})
				params := oa.ChatCompletionNewParams{Model: "jan-v1-4b", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Hi")}}
				var content string
				if stream {
					s := g.client.Chat.Completions.NewStreaming(context.Background(), params)
					var acc oa.ChatCompletionAccumulator
					for s.Next() {
						acc.AddChunk(s.Current())
					}
					if err := s.Err(); err != nil {
						t.Fatal(err)
					}
					s.Close()
					content = acc.Choices[0].Message.Content
				} else {
					resp, err := g.client.Chat.Completions.New(context.Background(), params)
					if err != nil {
						t.Fatal(err)
					}
					content = resp.Choices[0].Message.Content
				}
				if content != "from the second" {
					t.Errorf("content = %q", content)
				}
				if o := g.observed.last(t); o.Provider != "second" || o.Tries != 2 {
					t.Errorf("outcome = %+v, want the second deployment after 2 tries", o)
				}
			})
		}
	}
}

// TestSDKAnthropicThroughGateway checks the translation end to end with the
// SDK as the client.
func TestSDKAnthropicThroughGateway(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.AnthropicServer{Reply: "Bonjour tout le monde"})
	p := newAnthropicProvider(t, up.URL)
	g := newGateway(t, []provider.Provider{p}, provider.RouterConfig{})
	stream := g.client.Chat.Completions.NewStreaming(context.Background(), oa.ChatCompletionNewParams{
		Model:         "claude",
		Messages:      []oa.ChatCompletionMessageParamUnion{oa.SystemMessage("French only."), oa.UserMessage("Hello")},
		StreamOptions: oa.ChatCompletionStreamOptionsParam{IncludeUsage: oa.Bool(true)},
	})
	defer stream.Close()
	var acc oa.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != "Bonjour tout le monde" || acc.Usage.CompletionTokens != 4 || acc.Usage.PromptTokens != 13 {
		t.Errorf("content %q usage %+v", acc.Choices[0].Message.Content, acc.Usage)
	}
	if body := up.Last(t).JSON(t); body["system"] != "French only." {
		t.Errorf("upstream body %s", up.Last(t).Body)
	}
}
