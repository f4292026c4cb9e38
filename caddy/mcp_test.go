package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

type echoArgs struct {
	Text string `json:"text" jsonschema:"the text to echo"`
}

// mcpUpstream starts an MCP server built with the SDK, with an echo tool
// answering "<name>:<text>" and a tool that hangs until cancelled.
func mcpUpstream(t *testing.T, name string) string {
	t.Helper()
	s := sdk.NewServer(&sdk.Implementation{Name: name, Version: "test"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "echo", Description: "echoes its input"},
		func(_ context.Context, _ *sdk.CallToolRequest, in echoArgs) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: name + ":" + in.Text}}}, nil, nil
		})
	sdk.AddTool(s, &sdk.Tool{Name: "hang", Description: "never answers"},
		func(ctx context.Context, _ *sdk.CallToolRequest, _ echoArgs) (*sdk.CallToolResult, any, error) {
			<-ctx.Done()
			return nil, nil, ctx.Err()
		})
	srv := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return srv.URL + "/mcp"
}

type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.token != "" {
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// The MCP Go SDK's client, through a real Caddy with authentication and rate
// limits: it lists the tools of two upstream servers, calls each, gets a
// timely tool error from a hanging one, and is refused without a token. The
// spec's chat-with-tools body posted to /v1/mcp is answered as a chat
// completion.
func TestMCPThroughCaddy(t *testing.T) {
	alpha, beta := mcpUpstream(t, "alpha"), mcpUpstream(t, "beta")
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`mcp {
			server alpha %s {
				timeout 500ms
			}
			server beta %s {
				allow echo
			}
		}`, alpha, beta),
		Routes: "llm_auth\n\t\tllm_rate_limit /v1/mcp* {\n\t\t\tguest 1000/min\n\t\t}",
	}))
	token := guestToken(t, g)

	connect := func(token string) (*sdk.ClientSession, error) {
		client := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "test"}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return client.Connect(ctx, &sdk.StreamableClientTransport{
			Endpoint:   g.base + "/v1/mcp",
			HTTPClient: &http.Client{Transport: bearerTransport{token: token}},
			MaxRetries: -1,
		}, nil)
	}
	if _, err := connect(""); err == nil {
		t.Fatal("an unauthenticated MCP client connected")
	}
	cs, err := connect(token)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	defer cs.Close()
	ctx := context.Background()

	var names []string
	waitFor(t, 10*time.Second, func() (string, bool) { // upstreams connect in the background
		res, err := cs.ListTools(ctx, nil)
		if err != nil {
			return err.Error(), false
		}
		names = names[:0]
		for _, tool := range res.Tools {
			names = append(names, tool.Name)
		}
		sort.Strings(names)
		return strings.Join(names, ","), len(names) == 3
	})
	if got := strings.Join(names, ","); got != "alpha__echo,alpha__hang,beta__echo" {
		t.Fatalf("tools = %s", got)
	}
	for _, server := range []string{"alpha", "beta"} {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: server + "__echo", Arguments: map[string]any{"text": "hi"}})
		if err != nil || res.IsError || res.Content[0].(*sdk.TextContent).Text != server+":hi" {
			t.Fatalf("calling %s__echo: %+v, %v", server, res, err)
		}
	}
	start := time.Now()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "alpha__hang", Arguments: map[string]any{"text": "x"}})
	if err != nil || !res.IsError {
		t.Fatalf("a hanging upstream tool gave %+v, %v; want a tool error", res, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the hanging tool took %s to fail, want about its 500ms timeout", d)
	}

	// The spec's example: a chat body with tools posted to /v1/mcp.
	r := g.do("POST", "/v1/mcp", `{
		"model": "jan-v1-4b",
		"messages": [{"role": "user", "content": "What's the weather like today?"}],
		"tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get current weather information"}}]
	}`, "Authorization", "Bearer "+token)
	if r.Status != http.StatusOK {
		t.Fatalf("chat body on /v1/mcp = %d %s", r.Status, r.Body)
	}
	body := r.JSON(t)
	choice := body["choices"].([]any)[0].(map[string]any)
	calls, _ := choice["message"].(map[string]any)["tool_calls"].([]any)
	if body["object"] != "chat.completion" || choice["finish_reason"] != "tool_calls" || len(calls) != 1 {
		t.Fatalf("chat body on /v1/mcp answered %s", r.Body)
	}
}
