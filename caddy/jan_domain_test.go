package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	oa "github.com/openai/openai-go/v3"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
	"github.com/caddy-llm/gateway/store/storetest"
)

// Jan's small print on chat, through a real Caddy with the OpenAI Go SDK as
// the client and a vLLM-like upstream on loopback:
//   - MODEL_ALIASES serves the spec's ids (jan-v1-4b) for the upstream's
//     own model names, with no model block in the Caddyfile;
//   - requests that omit temperature / top_p get the spec's defaults
//     upstream (0.7, 1.0), and a model's default_temperature none /
//     default_top_p override them;
//   - image_url parts to a model whose catalog says vision: false get 400
//     naming the part, and nothing reaches the upstream;
//   - a user whose settings say enable_tools: false has tools and
//     tool_choice removed from their requests; other users keep them.
func TestJanChatDefaultsAliasesVisionTools(t *testing.T) {
	t.Setenv("MODEL_ALIASES", "jan-v1-4b=janhq/Jan-v1-4B, jan-v1-7b=janhq/Jan-v1-7B")
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{Models: []string{"janhq/Jan-v1-4B", "plain-model"}})
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`database_url %s
		provider vllm openai {
			base_url %s/v1
			discover_models
		}
		model_aliases {$MODEL_ALIASES}
		model janhq/Jan-v1-4B {
			vision false
		}
		model plain-model {
			default_temperature none
			default_top_p 0.5
		}`, storetest.NewPostgresDatabase(t), up.URL),
		Routes: "llm_auth",
	}))
	token := guestToken(t, g)
	client := sdkClient(g, token)
	ctx := context.Background()

	page, err := client.Models.List(ctx)
	if err != nil {
		t.Fatalf("listing models: %v", err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	sort.Strings(ids)
	// jan-v1-7b's target is not served: the alias is not listed.
	if got := strings.Join(ids, ","); got != "jan-v1-4b,janhq/Jan-v1-4B,plain-model" {
		t.Fatalf("models = %s", got)
	}

	hello := []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Hello")}
	upstreamBody := func() map[string]any { return up.Last(t).JSON(t) }

	// The alias reaches the upstream under its own name, with the spec's
	// sampling defaults.
	resp, err := client.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{Model: "jan-v1-4b", Messages: hello})
	if err != nil {
		t.Fatalf("chat with the alias: %v", err)
	}
	if resp.Model != "jan-v1-4b" {
		t.Errorf("answer model = %q, want the alias the client asked for", resp.Model)
	}
	body := upstreamBody()
	if body["model"] != "janhq/Jan-v1-4B" || body["temperature"] != 0.7 || body["top_p"] != 1.0 {
		t.Errorf("upstream got model %v temperature %v top_p %v; want janhq/Jan-v1-4B 0.7 1", body["model"], body["temperature"], body["top_p"])
	}
	// The client's own values win.
	if _, err := client.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{Model: "jan-v1-4b", Messages: hello,
		Temperature: oa.Float(0.2), TopP: oa.Float(0.3)}); err != nil {
		t.Fatal(err)
	}
	if body = upstreamBody(); body["temperature"] != 0.2 || body["top_p"] != 0.3 {
		t.Errorf("upstream got temperature %v top_p %v, want the client's 0.2 0.3", body["temperature"], body["top_p"])
	}
	// A model's own defaults: none leaves temperature out.
	if _, err := client.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{Model: "plain-model", Messages: hello}); err != nil {
		t.Fatal(err)
	}
	if body = upstreamBody(); body["top_p"] != 0.5 {
		t.Errorf("upstream top_p = %v, want the model's 0.5", body["top_p"])
	} else if _, ok := body["temperature"]; ok {
		t.Errorf("upstream got temperature %v, want none (default_temperature none)", body["temperature"])
	}

	// Vision: refused before any upstream call, naming the part.
	sent := len(up.Requests())
	image := oa.UserMessage([]oa.ChatCompletionContentPartUnionParam{
		oa.TextContentPart("What is this?"),
		oa.ImageContentPart(oa.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/cat.png"}),
	})
	for _, model := range []string{"jan-v1-4b", "janhq/Jan-v1-4B"} {
		_, err = client.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{Model: model, Messages: []oa.ChatCompletionMessageParamUnion{image}})
		wantSDKError(t, err, http.StatusBadRequest, "invalid_value")
		if p := sdkErrorParam(err); p != "messages[0].content[1]" {
			t.Errorf("%s: param = %q, want messages[0].content[1]", model, p)
		}
	}
	if n := len(up.Requests()); n != sent {
		t.Errorf("a refused image request reached the upstream (%d requests, want %d)", n, sent)
	}
	// A model whose catalog does not say (discovered, no vision line) lets
	// the upstream decide.
	if _, err := client.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{Model: "plain-model", Messages: []oa.ChatCompletionMessageParamUnion{image}}); err != nil {
		t.Errorf("an image to a model of unknown vision: %v", err)
	}

	// enable_tools.
	withTools := oa.ChatCompletionNewParams{
		Model:    "jan-v1-4b",
		Messages: hello,
		Tools: []oa.ChatCompletionToolUnionParam{oa.ChatCompletionFunctionTool(oa.FunctionDefinitionParam{
			Name: "get_weather", Parameters: oa.FunctionParameters{"type": "object", "properties": map[string]any{}},
		})},
		ToolChoice: oa.ChatCompletionToolChoiceOptionUnionParam{OfAuto: oa.String("auto")},
	}
	if _, err := client.Chat.Completions.New(ctx, withTools); err != nil {
		t.Fatal(err)
	}
	if body = upstreamBody(); body["tools"] == nil || body["tool_choice"] != "auto" {
		t.Fatalf("with the default settings the upstream got tools %v tool_choice %v", body["tools"], body["tool_choice"])
	}
	if r := g.do("PATCH", "/v1/users/me/settings", map[string]any{"enable_tools": false}, "Authorization", "Bearer "+token); r.Status != http.StatusOK {
		t.Fatalf("turning tools off: %d %s", r.Status, r.Body)
	}
	if _, err := client.Chat.Completions.New(ctx, withTools); err != nil {
		t.Fatal(err)
	}
	body = upstreamBody()
	for _, member := range []string{"tools", "tool_choice", "parallel_tool_calls"} {
		if v, ok := body[member]; ok {
			t.Errorf("enable_tools false: the upstream got %s = %v", member, v)
		}
	}
	if body["temperature"] != 0.7 || body["model"] != "janhq/Jan-v1-4B" {
		t.Errorf("removing tools lost the other changes: %v", body)
	}
	other := sdkClient(g, guestToken(t, g))
	if _, err := other.Chat.Completions.New(ctx, withTools); err != nil {
		t.Fatal(err)
	}
	if body = upstreamBody(); body["tools"] == nil {
		t.Errorf("another user's tools were removed too")
	}
}

// sdkErrorParam returns the param of an OpenAI SDK error.
func sdkErrorParam(err error) string {
	var apiErr *oa.Error
	if !errors.As(err, &apiErr) {
		return ""
	}
	return apiErr.Param
}

// MCP_SERVERS configures upstream MCP servers without editing the
// Caddyfile (here the default Caddyfile's own lines), and
// MCP_SERVERS_AUTHORIZATION is sent to them as Authorization: the MCP Go
// SDK's client lists and calls the tools of a server that refuses requests
// without that header.
func TestJanMCPServersFromEnvironment(t *testing.T) {
	var refused atomic.Int32
	s := sdk.NewServer(&sdk.Implementation{Name: "tools", Version: "test"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "echo", Description: "echoes its input"},
		func(_ context.Context, _ *sdk.CallToolRequest, in echoArgs) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "tools:" + in.Text}}}, nil, nil
		})
	mcpHandler := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer mcp-tools-secret" {
			refused.Add(1)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mcpHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })

	t.Setenv("MCP_SERVERS", "tools="+srv.URL+"/v1/mcp")
	t.Setenv("MCP_SERVERS_AUTHORIZATION", "Bearer mcp-tools-secret")
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: `mcp {
			servers_from {$MCP_SERVERS} {
				header_from_env Authorization MCP_SERVERS_AUTHORIZATION
				timeout 5s
			}
		}`,
		Routes: "llm_auth",
	}))
	client := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "test"}, nil)
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := client.Connect(cctx, &sdk.StreamableClientTransport{
		Endpoint:   g.base + "/v1/mcp",
		HTTPClient: &http.Client{Transport: bearerTransport{token: guestToken(t, g)}},
		MaxRetries: -1,
	}, nil)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	defer cs.Close()
	ctx := context.Background()
	waitFor(t, 10*time.Second, func() (string, bool) {
		res, err := cs.ListTools(ctx, nil)
		if err != nil {
			return err.Error(), false
		}
		var names []string
		for _, tool := range res.Tools {
			names = append(names, tool.Name)
		}
		return strings.Join(names, ","), strings.Join(names, ",") == "tools__echo"
	})
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "tools__echo", Arguments: map[string]any{"text": "hi"}})
	if err != nil || res.IsError || res.Content[0].(*sdk.TextContent).Text != "tools:hi" {
		t.Fatalf("calling tools__echo: %+v, %v", res, err)
	}
	if n := refused.Load(); n != 0 {
		t.Errorf("the MCP server refused %d requests without the header", n)
	}
}
