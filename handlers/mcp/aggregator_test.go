package mcp

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestAggregatesTwoServers(t *testing.T) {
	alpha := newTestUpstream(t, "alpha", "", func(s *sdk.Server) {
		addEcho(s, "alpha", "echo")
		addEcho(s, "alpha", "internal") // not in the allow-list
	})
	beta := newTestUpstream(t, "beta", "", func(s *sdk.Server) {
		addEcho(s, "beta", "echo") // same name as alpha's
		addEcho(s, "beta", "shout")
	})
	gw := startGateway(t, Config{Servers: []ServerConfig{
		{Name: "alpha", URL: alpha.endpoint(), Headers: map[string]string{"Authorization": "Bearer alpha-secret"}, AllowTools: []string{"echo"}},
		{Name: "beta", URL: beta.endpoint(), Headers: map[string]string{"X-Tools-Key": "beta-secret"}},
	}}, nil)

	c := mustConnect(t, gw.endpoint(), 1)
	if info := c.InitializeResult(); info == nil || info.ServerInfo.Name != implementationName {
		t.Fatalf("initialize result = %+v, want the gateway's server info", info)
	}
	if caps := c.InitializeResult().Capabilities; caps.Tools == nil || !caps.Tools.ListChanged {
		t.Fatalf("capabilities = %+v, want tools with listChanged", caps)
	}
	c.waitForTools(t, "alpha__echo", "beta__echo", "beta__shout")

	if res := c.call(t, "alpha__echo", "hi"); res.IsError || resultText(res) != "alpha:hi" {
		t.Fatalf("alpha__echo = %q (isError %v), want alpha:hi", resultText(res), res.IsError)
	}
	if res := c.call(t, "beta__echo", "hi"); res.IsError || resultText(res) != "beta:hi" {
		t.Fatalf("beta__echo = %q (isError %v), want beta:hi", resultText(res), res.IsError)
	}

	// A tool outside the allow-list is neither listed nor callable.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.CallTool(ctx, &sdk.CallToolParams{Name: "alpha__internal"}); err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Fatalf("calling a tool outside the allow-list: err = %v, want unknown tool", err)
	}

	// Each server got its own headers on every request, and only its own.
	if !alpha.sawHeader("Authorization", "Bearer alpha-secret") || !alpha.sawHeader("X-Tools-Key", "") {
		t.Error("alpha did not get exactly its configured headers")
	}
	if !beta.sawHeader("X-Tools-Key", "beta-secret") || !beta.sawHeader("Authorization", "") {
		t.Error("beta did not get exactly its configured headers")
	}
}

func TestUpstreamFailuresAreToolErrors(t *testing.T) {
	const timeout = 300 * time.Millisecond
	flaky := newTestUpstream(t, "flaky", "", func(s *sdk.Server) {
		sdk.AddTool(s, &sdk.Tool{Name: "fail"}, func(context.Context, *sdk.CallToolRequest, echoInput) (*sdk.CallToolResult, any, error) {
			return nil, nil, errors.New("the disk is full")
		})
		sdk.AddTool(s, &sdk.Tool{Name: "hang"}, func(ctx context.Context, _ *sdk.CallToolRequest, _ echoInput) (*sdk.CallToolResult, any, error) {
			<-ctx.Done() // until the gateway cancels the call
			return nil, nil, ctx.Err()
		})
	})
	doomed := newTestUpstream(t, "doomed", "", func(s *sdk.Server) { addEcho(s, "doomed", "echo") })
	gw := startGateway(t, Config{Servers: []ServerConfig{
		{Name: "flaky", URL: flaky.endpoint(), Timeout: timeout},
		{Name: "doomed", URL: doomed.endpoint(), Timeout: timeout},
	}}, nil)
	c := mustConnect(t, gw.endpoint(), 1)
	c.waitForTools(t, "doomed__echo", "flaky__fail", "flaky__hang")

	t.Run("tool error of the server", func(t *testing.T) {
		res := c.call(t, "flaky__fail", "x")
		if !res.IsError || !strings.Contains(resultText(res), "the disk is full") {
			t.Fatalf("result %q (isError %v), want the server's tool error", resultText(res), res.IsError)
		}
	})
	t.Run("server hangs", func(t *testing.T) {
		start := time.Now()
		res := c.call(t, "flaky__hang", "x")
		elapsed := time.Since(start)
		if !res.IsError || !strings.Contains(resultText(res), "did not answer within 300ms") {
			t.Fatalf("result %q (isError %v), want a timeout tool error", resultText(res), res.IsError)
		}
		if elapsed < timeout || elapsed > timeout+2*time.Second {
			t.Fatalf("the call took %v with a %v timeout", elapsed, timeout)
		}
		// The gateway still serves the server after a timed-out call.
		if res := c.call(t, "flaky__fail", "x"); !strings.Contains(resultText(res), "the disk is full") {
			t.Fatalf("after the timeout: %q", resultText(res))
		}
	})
	t.Run("server gone", func(t *testing.T) {
		doomed.stop()
		start := time.Now()
		res := c.call(t, "doomed__echo", "x")
		if !res.IsError || !strings.Contains(resultText(res), `"doomed"`) {
			t.Fatalf("result %q (isError %v), want a tool error naming the server", resultText(res), res.IsError)
		}
		if strings.Contains(resultText(res), "127.0.0.1") {
			t.Fatalf("the tool error %q leaks the server's address", resultText(res))
		}
		if elapsed := time.Since(start); elapsed > timeout+2*time.Second {
			t.Fatalf("the call took %v", elapsed)
		}
	})
}

func TestUpstreamDownAtStart(t *testing.T) {
	addr := freeAddr(t)
	up := newTestUpstream(t, "up", "", func(s *sdk.Server) { addEcho(s, "up", "echo") })

	start := time.Now()
	gw := startGateway(t, Config{Servers: []ServerConfig{
		{Name: "late", URL: "http://" + addr + "/mcp", Timeout: 2 * time.Second},
		{Name: "up", URL: up.endpoint()},
	}}, nil)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("starting took %v: it waited for the server that is down", elapsed)
	}
	c := mustConnect(t, gw.endpoint(), 1)
	c.waitForTools(t, "up__echo")
	// The server's tools are not offered while it is down.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.CallTool(ctx, &sdk.CallToolParams{Name: "late__echo"}); err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Fatalf("calling a tool of a server that is down: err = %v, want unknown tool", err)
	}
}

func TestUpstreamDownAtStartJoinsLater(t *testing.T) {
	addr := freeAddr(t)
	gw := startGateway(t, Config{Servers: []ServerConfig{
		{Name: "late", URL: "http://" + addr + "/mcp", Timeout: 2 * time.Second},
	}}, nil)
	c := mustConnect(t, gw.endpoint(), 1)
	if names := c.toolNames(t); len(names) != 0 {
		t.Fatalf("tools = %v while the server is down", names)
	}

	newTestUpstream(t, "late", addr, func(s *sdk.Server) { addEcho(s, "late", "echo") })
	select {
	case <-c.listChanged:
	case <-time.After(10 * time.Second):
		t.Fatal("the client was not told that the tools changed")
	}
	c.waitForTools(t, "late__echo")
	if res := c.call(t, "late__echo", "hello"); res.IsError || resultText(res) != "late:hello" {
		t.Fatalf("late__echo = %q (isError %v)", resultText(res), res.IsError)
	}
}

func TestListFollowsUpstreamChanges(t *testing.T) {
	up := newTestUpstream(t, "up", "", func(s *sdk.Server) { addEcho(s, "up", "echo") })
	gw := startGateway(t, Config{Servers: []ServerConfig{{Name: "up", URL: up.endpoint()}}}, nil)
	c := mustConnect(t, gw.endpoint(), 1)
	c.waitForTools(t, "up__echo")
	drain(c.listChanged)

	addEcho(up.mcp, "up", "reverse") // the server sends notifications/tools/list_changed
	select {
	case <-c.listChanged:
	case <-time.After(10 * time.Second):
		t.Fatal("the client was not told that the tools changed")
	}
	c.waitForTools(t, "up__echo", "up__reverse")
	if res := c.call(t, "up__reverse", "x"); res.IsError || resultText(res) != "up:x" {
		t.Fatalf("up__reverse = %q (isError %v)", resultText(res), res.IsError)
	}

	up.mcp.RemoveTools("echo")
	c.waitForTools(t, "up__reverse")
}

func TestCloseEndsSessions(t *testing.T) {
	up := newTestUpstream(t, "up", "", func(s *sdk.Server) { addEcho(s, "up", "echo") })
	gw := startGateway(t, Config{Servers: []ServerConfig{{Name: "up", URL: up.endpoint()}}}, nil)
	c := mustConnect(t, gw.endpoint(), 1)
	c.waitForTools(t, "up__echo")
	if n := up.sessions(); n != 1 {
		t.Fatalf("the upstream server has %d sessions, want 1", n)
	}

	done := make(chan error, 1)
	go func() { done <- gw.agg.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	eventually(t, 5*time.Second, "the upstream session to end", func() bool { return up.sessions() == 0 })
	// No goroutine of the connection loops outlives Close.
	stacks := make([]byte, 1<<20)
	stacks = stacks[:runtime.Stack(stacks, true)]
	if bytes.Contains(stacks, []byte("handlers/mcp.(*upstream)")) {
		t.Fatalf("a connection loop survived Close:\n%s", stacks)
	}
	if err := gw.agg.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The client's session ended with the aggregator.
	waitCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.ListTools(waitCtx, nil); err == nil {
		t.Fatal("the client's session survived Close")
	}
}

func TestContextEndsBackgroundWork(t *testing.T) {
	up := newTestUpstream(t, "up", "", func(s *sdk.Server) { addEcho(s, "up", "echo") })
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, Config{Servers: []ServerConfig{{Name: "up", URL: up.endpoint()}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	eventually(t, 5*time.Second, "the upstream session", func() bool { return up.sessions() == 1 })
	cancel()
	eventually(t, 5*time.Second, "the upstream session to end", func() bool { return up.sessions() == 0 })
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name    string
		servers []ServerConfig
		wantErr string
	}{
		{"duplicate name", []ServerConfig{{Name: "a", URL: "http://x/mcp"}, {Name: "a", URL: "http://y/mcp"}}, "used twice"},
		{"bad name", []ServerConfig{{Name: "a__b", URL: "http://x/mcp"}}, `must not contain "__"`},
		{"relative url", []ServerConfig{{Name: "a", URL: "/mcp"}}, "absolute"},
		{"ftp url", []ServerConfig{{Name: "a", URL: "ftp://x/mcp"}}, "http"},
		{"header injection", []ServerConfig{{Name: "a", URL: "http://x/mcp", Headers: map[string]string{"X-K": "v\r\nX-Evil: 1"}}}, "line break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(context.Background(), Config{Servers: tt.servers})
			if err == nil {
				_ = a.Close()
				t.Fatal("New accepted the configuration")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func drain(ch chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
