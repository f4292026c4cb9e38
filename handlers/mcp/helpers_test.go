package mcp

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/principal"
)

// testUpstream is an upstream MCP server built with the SDK and served on
// loopback by the SDK's StreamableHTTPHandler.
type testUpstream struct {
	*httptest.Server
	mcp *sdk.Server

	mu      sync.Mutex
	headers []http.Header // of every request received
}

// newTestUpstream starts an upstream server named name whose tools are
// added by setup. addr, when not empty, is the address to listen on.
func newTestUpstream(t *testing.T, name, addr string, setup func(*sdk.Server)) *testUpstream {
	t.Helper()
	u := &testUpstream{mcp: sdk.NewServer(&sdk.Implementation{Name: name, Version: "test"}, nil)}
	if setup != nil {
		setup(u.mcp)
	}
	streamable := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return u.mcp }, nil)
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.headers = append(u.headers, r.Header.Clone())
		u.mu.Unlock()
		streamable.ServeHTTP(w, r)
	}))
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listening on %s: %v", addr, err)
		}
		u.Listener.Close()
		u.Listener = ln
	}
	u.Start()
	t.Cleanup(u.stop)
	return u
}

// stop shuts the server down, cutting its long-lived SSE streams first
// (httptest's Close waits for every request to end).
func (u *testUpstream) stop() {
	u.CloseClientConnections()
	u.Close()
}

// endpoint is the URL of the server's MCP endpoint.
func (u *testUpstream) endpoint() string { return u.URL + "/mcp" }

// sessions counts the server's open sessions.
func (u *testUpstream) sessions() int {
	n := 0
	for range u.mcp.Sessions() {
		n++
	}
	return n
}

// sawHeader reports whether every request the server received had the
// header.
func (u *testUpstream) sawHeader(name, value string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.headers) == 0 {
		return false
	}
	for _, h := range u.headers {
		if h.Get(name) != value {
			return false
		}
	}
	return true
}

type echoInput struct {
	Text string `json:"text" jsonschema:"the text to echo"`
}

// addEcho adds a tool that answers "<server>:<text>".
func addEcho(s *sdk.Server, server, tool string) {
	sdk.AddTool(s, &sdk.Tool{Name: tool, Description: "echoes its input"},
		func(_ context.Context, _ *sdk.CallToolRequest, in echoInput) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: server + ":" + in.Text}}}, nil, nil
		})
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// requirePrincipal stands in for llm_auth: "Authorization: Bearer user-<id>"
// or "X-API-Key: key-<id>" authenticate user <id>; anything else is a 401.
func requirePrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer user-")
		if !ok {
			id, ok = strings.CutPrefix(r.Header.Get("X-API-Key"), "key-")
		}
		n, err := strconv.ParseInt(id, 10, 64)
		if !ok || err != nil {
			apierr.WriteStatus(w, http.StatusUnauthorized, "unauthorized", "authentication required")
			return
		}
		p := &principal.Principal{UserID: n, UserPublicID: "usr_" + id, Kind: principal.KindUser, Method: principal.MethodJWT}
		next.ServeHTTP(w, r.WithContext(principal.With(r.Context(), p)))
	})
}

// gateway is an aggregator served behind requirePrincipal.
type gateway struct {
	*httptest.Server
	agg *Aggregator
}

func (g *gateway) endpoint() string { return g.URL + Path }

// startGateway builds an aggregator with a fast reconnection backoff and
// serves its endpoint.
func startGateway(t *testing.T, cfg Config, chat http.Handler) *gateway {
	t.Helper()
	a, err := newAggregator(cfg, 20*time.Millisecond, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("newAggregator: %v", err)
	}
	a.start(context.Background())
	mux := http.NewServeMux()
	a.Endpoint(chat).Register(mux)
	srv := httptest.NewServer(requirePrincipal(mux))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		_ = a.Close()
	})
	return &gateway{Server: srv, agg: a}
}

// testClient is an MCP client of the gateway, made with the SDK.
type testClient struct {
	*sdk.ClientSession
	listChanged chan struct{}
}

// connect initializes a session with the gateway as the user whose
// credentials header is given ("Authorization: Bearer user-1").
func connect(t *testing.T, endpoint string, header http.Header) (*testClient, error) {
	t.Helper()
	c := &testClient{listChanged: make(chan struct{}, 16)}
	client := sdk.NewClient(&sdk.Implementation{Name: "test-client", Version: "test"}, &sdk.ClientOptions{
		ToolListChangedHandler: func(context.Context, *sdk.ToolListChangedRequest) {
			select {
			case c.listChanged <- struct{}{}:
			default:
			}
		},
	})
	transport := &sdk.StreamableClientTransport{
		Endpoint:   endpoint,
		HTTPClient: &http.Client{Transport: &headerTransport{base: http.DefaultTransport, header: header}},
		MaxRetries: -1,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, transport, nil)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = cs.Close() })
	c.ClientSession = cs
	return c, nil
}

func mustConnect(t *testing.T, endpoint string, user int) *testClient {
	t.Helper()
	c, err := connect(t, endpoint, userHeader(user))
	if err != nil {
		t.Fatalf("connecting to the gateway: %v", err)
	}
	return c
}

func userHeader(user int) http.Header {
	return http.Header{"Authorization": {"Bearer user-" + strconv.Itoa(user)}}
}

// toolNames lists the gateway's tools, sorted.
func (c *testClient) toolNames(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var names []string
	for tool, err := range c.Tools(ctx, nil) {
		if err != nil {
			t.Fatalf("listing tools: %v", err)
		}
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// waitForTools waits until the gateway lists exactly want.
func (c *testClient) waitForTools(t *testing.T, want ...string) {
	t.Helper()
	slices.Sort(want)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := c.toolNames(t)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tools = %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call calls a tool with {"text": text}.
func (c *testClient) call(t *testing.T, tool, text string) *sdk.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: map[string]any{"text": text}})
	if err != nil {
		t.Fatalf("calling %s: %v", tool, err)
	}
	return res
}

// resultText is the text of a result's content.
func resultText(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// eventually waits for cond, failing the test after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
