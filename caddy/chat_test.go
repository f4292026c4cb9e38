package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

// guestToken logs in as a guest through the gateway and returns the access
// token.
func guestToken(t testing.TB, g *gateway) string {
	t.Helper()
	r := g.do("POST", "/llm/auth/guest-login", nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("guest login = %d %s", r.Status, r.Body)
	}
	tok, _ := r.JSON(t)["access_token"].(string)
	if tok == "" {
		t.Fatalf("guest login gave no access token: %s", r.Body)
	}
	return tok
}

func sdkClient(g *gateway, key string) oa.Client {
	return oa.NewClient(option.WithBaseURL(g.base+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

// The official OpenAI Go SDK, unchanged, talks to models served by an
// OpenAI-compatible upstream and by Anthropic through a real Caddy: models,
// chat, streaming, tools and typed errors.
func TestChatThroughCaddyWithSDK(t *testing.T) {
	vllm := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "Hello! I'm doing well, thank you for asking.", Models: []string{"served-a"}})
	claude := providertest.NewUpstream(t, &providertest.AnthropicServer{Reply: "Bonjour from Claude"})
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`provider vllm openai {
			base_url %s/v1
			discover_models
		}
		provider claude anthropic {
			base_url %s
			api_key test-anthropic-key
		}
		provider mock mock {
			fallback
		}
		model claude-x {
			deployment claude claude-sonnet-4-5
		}`, vllm.URL, claude.URL),
		Routes: "llm_auth",
	}))
	client := sdkClient(g, guestToken(t, g))
	ctx := context.Background()

	page, err := client.Models.List(ctx)
	if err != nil {
		t.Fatalf("listing models: %v", err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if got := strings.Join(ids, ","); !strings.Contains(got, "served-a") || !strings.Contains(got, "claude-x") || strings.Contains(got, "jan-v1") {
		t.Fatalf("models = %s; want the discovered and configured ones, and the fallback mock gone", got)
	}

	resp, err := client.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{
		Model:     "served-a",
		Messages:  []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Hello, how are you?")},
		MaxTokens: oa.Int(100),
	})
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	if resp.Choices[0].Message.Content != "Hello! I'm doing well, thank you for asking." || resp.Model != "served-a" || resp.Usage.TotalTokens == 0 {
		t.Fatalf("chat answer: %s", resp.RawJSON())
	}

	// Streaming: chunks arrive one by one and reassemble to the reply, with
	// usage when asked for.
	stream := client.Chat.Completions.NewStreaming(ctx, oa.ChatCompletionNewParams{
		Model:         "served-a",
		Messages:      []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Tell me a story")},
		StreamOptions: oa.ChatCompletionStreamOptionsParam{IncludeUsage: oa.Bool(true)},
	})
	var acc oa.ChatCompletionAccumulator
	chunks := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if acc.Choices[0].Message.Content != "Hello! I'm doing well, thank you for asking." || acc.Usage.TotalTokens == 0 || chunks < 9 {
		t.Fatalf("stream reassembled %q with usage %+v in %d chunks", acc.Choices[0].Message.Content, acc.Usage, chunks)
	}

	// Tools come back as tool_calls.
	resp, err = client.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{
		Model:    "served-a",
		Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("What's the weather like today?")},
		Tools: []oa.ChatCompletionToolUnionParam{oa.ChatCompletionFunctionTool(oa.FunctionDefinitionParam{
			Name:        "get_weather",
			Description: oa.String("Get current weather information"),
		})},
	})
	if err != nil {
		t.Fatalf("chat with tools: %v", err)
	}
	if resp.Choices[0].FinishReason != "tool_calls" || len(resp.Choices[0].Message.ToolCalls) != 1 || resp.Choices[0].Message.ToolCalls[0].Function.Name != "get_weather" {
		t.Fatalf("tool call answer: %s", resp.RawJSON())
	}

	// Anthropic, translated both ways, plain and streamed.
	resp, err = client.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{
		Model:    "claude-x",
		Messages: []oa.ChatCompletionMessageParamUnion{oa.SystemMessage("Be brief."), oa.UserMessage("Hi")},
	})
	if err != nil {
		t.Fatalf("anthropic chat: %v", err)
	}
	if resp.Choices[0].Message.Content != "Bonjour from Claude" || resp.Model != "claude-x" {
		t.Fatalf("anthropic answer: %s", resp.RawJSON())
	}
	if sent := claude.Last(t).JSON(t); sent["model"] != "claude-sonnet-4-5" || sent["system"] == nil {
		t.Fatalf("anthropic upstream got %s", claude.Last(t).Body)
	}
	stream = client.Chat.Completions.NewStreaming(ctx, oa.ChatCompletionNewParams{
		Model:    "claude-x",
		Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Hi")},
	})
	acc = oa.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil || acc.Choices[0].Message.Content != "Bonjour from Claude" {
		t.Fatalf("anthropic stream: %q, %v", acc.Choices[0].Message.Content, err)
	}

	// Typed errors.
	_, err = client.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{
		Model:    "no-such-model",
		Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Hi")},
	})
	wantSDKError(t, err, http.StatusBadRequest, "invalid_model")
	bad := sdkClient(g, "not-a-token")
	_, err = bad.Models.List(ctx)
	wantSDKError(t, err, http.StatusUnauthorized, "")
	_, err = client.Conversations.Get(ctx, "conv_doesnotexist")
	wantSDKError(t, err, http.StatusNotFound, "")
}

func wantSDKError(t testing.TB, err error, status int, code string) {
	t.Helper()
	var apiErr *oa.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v is not an *openai.Error", err)
	}
	if apiErr.StatusCode != status || (code != "" && apiErr.Code != code) {
		t.Fatalf("error = %d %q (%s), want %d %q", apiErr.StatusCode, apiErr.Code, apiErr.Message, status, code)
	}
}

// Through Caddy too: a refused first deployment fails over to the second
// before the client sees a byte, a body over the limit is a JSON 413, and a
// client that goes away mid-stream cancels the upstream request at once.
func TestChatFailoverLimitsAndCancellation(t *testing.T) {
	var cancelled atomic.Int64 // unix nanos when the upstream saw the cancel
	slow := &providertest.OpenAIServer{Reply: strings.Repeat("word ", 200), ChunkDelay: 20 * time.Millisecond}
	watch := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		go func() {
			<-r.Context().Done()
			cancelled.CompareAndSwap(0, time.Now().UnixNano())
		}()
		slow.ServeHTTP(w, r)
	})
	watched := providertest.NewUpstream(t, watch)
	healthy := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "from the second deployment"})
	dead := fmt.Sprintf("http://127.0.0.1:%d/v1", freePort(t)) // nothing listens there

	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port:    port,
		MaxBody: "64KB",
		LLM: fmt.Sprintf(`provider dead openai {
			base_url %s
		}
		provider healthy openai {
			base_url %s/v1
		}
		provider watched openai {
			base_url %s/v1
		}
		model failover-model {
			deployment dead
			deployment healthy
		}
		model slow-model {
			deployment watched
		}`, dead, healthy.URL, watched.URL),
		Routes: "llm_auth",
	}))
	token := guestToken(t, g)
	auth := []string{"Authorization", "Bearer " + token}

	for i := 0; i < 3; i++ { // round-robin starts on either deployment
		r := g.do("POST", "/v1/chat/completions", map[string]any{
			"model": "failover-model", "messages": []map[string]any{{"role": "user", "content": "hi"}},
		}, auth...)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "from the second deployment") {
			t.Fatalf("failover request %d = %d %s", i, r.Status, r.Body)
		}
	}

	big := `{"model":"failover-model","messages":[{"role":"user","content":"` + strings.Repeat("x", 100<<10) + `"}]}`
	wantError(t, g.do("POST", "/v1/chat/completions", big, auth...), http.StatusRequestEntityTooLarge, "request_too_large")

	// Read two chunks of a long stream, then hang up.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", g.base+"/v1/chat/completions",
		strings.NewReader(`{"model":"slow-model","stream":true,"messages":[{"role":"user","content":"long story"}]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for events := 0; events < 2 && sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "data: ") {
			events++
		}
	}
	hangUp := time.Now()
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(2 * time.Second)
	for cancelled.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	at := cancelled.Load()
	if at == 0 {
		t.Fatal("the upstream request was not cancelled after the client went away")
	}
	if d := time.Duration(at - hangUp.UnixNano()); d > 100*time.Millisecond {
		t.Fatalf("the upstream saw the cancellation %s after the client went away, want < 100ms", d)
	}
}
