package main

// Hostile MCP clients (issue #12, finding 10): one rate-limited POST must not
// carry any number of calls, and one principal must not hold any number of
// sessions.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// startMCPGateway runs a gateway with authentication, a per-principal rate
// limit on /v1/mcp and one upstream MCP server.
func startMCPGateway(t *testing.T, mcpOptions string) *gateway {
	t.Helper()
	port := freePort(t)
	return startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`mcp {
			%s
			server alpha %s
		}`, mcpOptions, mcpUpstream(t, "alpha")),
		Routes: "llm_auth\n\t\tllm_rate_limit /v1/mcp* {\n\t\t\tguest 1000/min\n\t\t}",
	}))
}

// A JSON-RPC batch is refused whole: with batches, one rate-limited request
// carried 180,000 calls. One message per POST makes every tool call one
// request, which the per-principal rate limit counts.
func TestHostileMCPBatchRefused(t *testing.T) {
	g := startMCPGateway(t, "")
	token := guestToken(t, g)
	var calls []string
	calls = append(calls, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`)
	for i := 1; i <= 50; i++ {
		calls = append(calls, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"alpha__echo","arguments":{"text":"%d"}}}`, i, i))
	}
	batch := "[" + strings.Join(calls, ",") + "]"
	r := g.do("POST", "/v1/mcp", batch, append(bearerHeader(token), "Accept", "application/json, text/event-stream")...)
	wantError(t, r, http.StatusBadRequest, "batch_not_supported")
	if r.Header.Get("Mcp-Session-Id") != "" {
		t.Error("a refused batch opened a session")
	}
	// Each message counts against the principal's limit.
	before := r.Header.Get("X-RateLimit-Remaining")
	r = g.do("POST", "/v1/mcp", calls[0], append(bearerHeader(token), "Accept", "application/json, text/event-stream")...)
	if r.Status != http.StatusOK {
		t.Fatalf("a single initialize = %d %s", r.Status, r.Body)
	}
	if after := r.Header.Get("X-RateLimit-Remaining"); before == "" || after == before {
		t.Errorf("X-RateLimit-Remaining %q then %q: each POST should count", before, after)
	}
}

// One principal holds at most max_sessions_per_principal sessions: opening
// more closes its oldest (its client gets 404 and would start anew), while
// other principals' sessions are untouched.
func TestHostileMCPSessionsPerPrincipal(t *testing.T) {
	const limit, opened = 3, 6
	g := startMCPGateway(t, fmt.Sprintf("max_sessions_per_principal %d", limit))
	attacker, bystander := guestToken(t, g), guestToken(t, g)
	connect := func(token string) *sdk.ClientSession {
		t.Helper()
		client := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "test"}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{
			Endpoint:   g.base + "/v1/mcp",
			HTTPClient: &http.Client{Transport: bearerTransport{token: token}},
			MaxRetries: -1,
		}, nil)
		if err != nil {
			t.Fatalf("connecting: %v", err)
		}
		t.Cleanup(func() { _ = cs.Close() })
		return cs
	}
	works := func(cs *sdk.ClientSession) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := cs.ListTools(ctx, nil)
		return err == nil
	}

	other := connect(bystander)
	var sessions []*sdk.ClientSession
	for range opened {
		sessions = append(sessions, connect(attacker))
	}
	// The evictions run as the newer sessions open; give them a moment.
	waitFor(t, 5*time.Second, func() (string, bool) {
		var state []string
		ok := true
		for i, cs := range sessions {
			alive := works(cs)
			state = append(state, fmt.Sprintf("%d:%v", i, alive))
			if alive != (i >= opened-limit) {
				ok = false
			}
		}
		return strings.Join(state, " "), ok
	})
	if !works(other) {
		t.Error("another principal's session was closed by the attacker's sessions")
	}
}
