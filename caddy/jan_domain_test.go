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
	"github.com/openai/openai-go/v3/conversations"

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

// A pagination cursor naming an entry deleted since the previous page
// continues the listing (no 400 invalid_cursor), through Caddy on
// PostgreSQL: the OpenAI SDK's own next-page call on items and on
// conversations, and Jan's ?cursor= on projects.
func TestJanCursorAfterDeletion(t *testing.T) {
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port:   port,
		LLM:    "database_url " + storetest.NewPostgresDatabase(t),
		Routes: "llm_auth",
	}))
	token := guestToken(t, g)
	client := sdkClient(g, token)
	ctx := context.Background()
	auth := []string{"Authorization", "Bearer " + token}

	// Items, oldest first, two per page.
	conv, err := client.Conversations.New(ctx, conversations.ConversationNewParams{})
	if err != nil {
		t.Fatal(err)
	}
	var added []string
	for i := range 5 {
		r := g.do("POST", "/v1/conversations/"+conv.ID+"/items", map[string]any{"role": "user", "content": fmt.Sprint("m", i)}, auth...)
		if r.Status != http.StatusOK {
			t.Fatalf("adding an item: %d %s", r.Status, r.Body)
		}
		added = append(added, r.JSON(t)["data"].([]any)[0].(map[string]any)["id"].(string))
	}
	page, err := client.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{Limit: oa.Int(2), Order: conversations.ItemListParamsOrderAsc})
	if err != nil || len(page.Data) != 2 {
		t.Fatalf("first page: %v, %v", page, err)
	}
	if _, err := client.Conversations.Items.Delete(ctx, conv.ID, page.Data[1].ID); err != nil {
		t.Fatalf("deleting the cursor item: %v", err)
	}
	next, err := page.GetNextPage()
	if err != nil || next == nil || len(next.Data) != 2 || next.Data[0].ID != added[2] || next.Data[1].ID != added[3] {
		t.Fatalf("the page after a deleted cursor: %+v, %v; want %v", next, err, added[2:4])
	}

	// Conversations, newest first.
	var convs []string
	for range 3 {
		c, err := client.Conversations.New(ctx, conversations.ConversationNewParams{})
		if err != nil {
			t.Fatal(err)
		}
		convs = append(convs, c.ID)
	}
	r := g.do("GET", "/v1/conversations?limit=2", nil, auth...)
	last, _ := r.JSON(t)["last_id"].(string)
	if last != convs[1] {
		t.Fatalf("first conversations page: %s", r.Body)
	}
	if _, err := client.Conversations.Delete(ctx, last); err != nil {
		t.Fatal(err)
	}
	r = g.do("GET", "/v1/conversations?limit=2&after="+last, nil, auth...)
	if m := r.JSON(t); r.Status != http.StatusOK || m["first_id"] != convs[0] || m["last_id"] != conv.ID {
		t.Fatalf("conversations after a deleted cursor: %d %s", r.Status, r.Body)
	}

	// Projects with Jan's next_cursor / ?cursor=.
	for i := range 3 {
		if r := g.do("POST", "/v1/projects", map[string]any{"name": fmt.Sprint("p", i)}, auth...); r.Status != http.StatusCreated {
			t.Fatalf("creating a project: %d %s", r.Status, r.Body)
		}
	}
	r = g.do("GET", "/v1/projects?limit=1", nil, auth...)
	cursor, _ := r.JSON(t)["next_cursor"].(string)
	if r := g.do("DELETE", "/v1/projects/"+cursor, nil, auth...); r.Status >= 300 {
		t.Fatalf("deleting the cursor project: %d %s", r.Status, r.Body)
	}
	r = g.do("GET", "/v1/projects?limit=5&cursor="+cursor, nil, auth...)
	if data, _ := r.JSON(t)["data"].([]any); r.Status != http.StatusOK || len(data) != 2 {
		t.Fatalf("projects after a deleted cursor: %d %s", r.Status, r.Body)
	}
	// An id that never was in the listing is still refused.
	wantError(t, g.do("GET", "/v1/projects?cursor=proj_nope", nil, auth...), http.StatusBadRequest, "invalid_cursor")
}
