package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-llm/gateway/handlers/principal"
)

// send sends a raw request to the gateway and returns the response with its
// body read.
func send(t *testing.T, method, url string, header http.Header, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	return resp, data
}

// mcpHeader is what an MCP client sends with a JSON-RPC POST.
func mcpHeader(user int, extra ...string) http.Header {
	h := userHeader(user)
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// apiError decodes an error in the spec's shape, failing the test when the
// body is not one.
func apiError(t *testing.T, resp *http.Response, body []byte) (code, message string) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %q", ct, body)
	}
	var e struct {
		Error *struct {
			Message, Type, Code string
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Type == "" || e.Error.Message == "" {
		t.Fatalf("body %q is not an error in the spec's shape", body)
	}
	return e.Error.Code, e.Error.Message
}

const listTools = `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}`

func TestUnauthenticatedRefused(t *testing.T) {
	gw := startGateway(t, Config{}, nil)
	if _, err := connect(t, gw.endpoint(), nil); err == nil {
		t.Fatal("an MCP client without credentials connected")
	}
	resp, body := send(t, http.MethodPost, gw.endpoint(), http.Header{"Content-Type": {"application/json"}},
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", resp.StatusCode)
	}
	apiError(t, resp, body)
}

func TestEndpointRefusesWithoutPrincipal(t *testing.T) {
	// Defense in depth: the endpoint itself refuses a request no auth
	// handler authenticated.
	a, err := newAggregator(Config{}, time.Millisecond, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	chat := &stubChat{}
	rec := httptest.NewRecorder()
	a.Endpoint(chat).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Path, strings.NewReader(specChatExample)))
	if rec.Code != http.StatusUnauthorized || chat.calls.Load() != 0 {
		t.Fatalf("status %d with %d chat calls, want 401 and none", rec.Code, chat.calls.Load())
	}
}

func TestAPIKeyCallerGetsASession(t *testing.T) {
	up := newTestUpstream(t, "up", "", func(s *sdk.Server) { addEcho(s, "up", "echo") })
	gw := startGateway(t, Config{Servers: []ServerConfig{{Name: "up", URL: up.endpoint()}}}, nil)
	c, err := connect(t, gw.endpoint(), http.Header{"X-Api-Key": {"key-5"}})
	if err != nil {
		t.Fatalf("connecting with X-API-Key: %v", err)
	}
	c.waitForTools(t, "up__echo")
	if res := c.call(t, "up__echo", "k"); resultText(res) != "up:k" {
		t.Fatalf("up__echo = %q", resultText(res))
	}
}

func TestSessionBelongsToItsPrincipal(t *testing.T) {
	up := newTestUpstream(t, "up", "", func(s *sdk.Server) { addEcho(s, "up", "echo") })
	gw := startGateway(t, Config{Servers: []ServerConfig{{Name: "up", URL: up.endpoint()}}}, nil)
	c := mustConnect(t, gw.endpoint(), 1)
	c.waitForTools(t, "up__echo")
	session := c.ID()
	if session == "" {
		t.Fatal("no Mcp-Session-Id from a stateful endpoint")
	}

	// The owner can use the session...
	resp, body := send(t, http.MethodPost, gw.endpoint(), mcpHeader(1, "Mcp-Session-Id", session), listTools)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"up__echo"`)) {
		t.Fatalf("owner's tools/list: %d %s", resp.StatusCode, body)
	}
	// ...another principal cannot, and learns nothing about it.
	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		h := mcpHeader(2, "Mcp-Session-Id", session)
		h.Set("Accept", "application/json, text/event-stream")
		resp, body = send(t, method, gw.endpoint(), h, listTools)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s by another principal: status %d, want 404; %s", method, resp.StatusCode, body)
		}
		if code, _ := apiError(t, resp, body); code != "session_not_found" {
			t.Fatalf("%s by another principal: code %q", method, code)
		}
	}

	// DELETE ends the session, as the transport defines.
	resp, body = send(t, http.MethodDelete, gw.endpoint(), mcpHeader(1, "Mcp-Session-Id", session), "")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE by the owner: %d %s", resp.StatusCode, body)
	}
	resp, body = send(t, http.MethodPost, gw.endpoint(), mcpHeader(1, "Mcp-Session-Id", session), listTools)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("using an ended session: %d %s", resp.StatusCode, body)
	}
	apiError(t, resp, body)
}

func TestTransportErrorsAreJSON(t *testing.T) {
	gw := startGateway(t, Config{MaxBodyBytes: 1024}, &stubChat{})
	tests := []struct {
		name       string
		method     string
		header     http.Header
		body       string
		wantStatus int
		wantCode   string
	}{
		{"Accept without event-stream", http.MethodPost, func() http.Header {
			h := mcpHeader(1)
			h.Set("Accept", "application/json")
			return h
		}(), listTools, http.StatusBadRequest, "invalid_request"},
		{"Content-Type not JSON", http.MethodPost, mcpHeader(1, "Content-Type", "text/plain"), listTools, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"unknown session", http.MethodPost, mcpHeader(1, "Mcp-Session-Id", "NOSUCHSESSION"), listTools, http.StatusNotFound, "session_not_found"},
		{"GET without session", http.MethodGet, mcpHeader(1), "", http.StatusBadRequest, "invalid_request"},
		{"DELETE without session", http.MethodDelete, mcpHeader(1), "", http.StatusBadRequest, "invalid_request"},
		{"PUT", http.MethodPut, mcpHeader(1), listTools, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"body too large", http.MethodPost, mcpHeader(1), `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("x", 2048) + `"}}`, http.StatusRequestEntityTooLarge, "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(t, tt.method, gw.endpoint(), tt.header, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			if code, _ := apiError(t, resp, body); code != tt.wantCode {
				t.Fatalf("code %q, want %q", code, tt.wantCode)
			}
			if tt.wantStatus == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "GET, POST, DELETE" {
				t.Fatalf("Allow = %q", resp.Header.Get("Allow"))
			}
		})
	}
}

func TestStatelessEndpoint(t *testing.T) {
	up := newTestUpstream(t, "up", "", func(s *sdk.Server) { addEcho(s, "up", "echo") })
	gw := startGateway(t, Config{Stateless: true, Servers: []ServerConfig{{Name: "up", URL: up.endpoint()}}}, nil)

	c := mustConnect(t, gw.endpoint(), 1)
	c.waitForTools(t, "up__echo")
	if res := c.call(t, "up__echo", "s"); res.IsError || resultText(res) != "up:s" {
		t.Fatalf("up__echo = %q (isError %v)", resultText(res), res.IsError)
	}

	// A plain tools/list needs no session and gets none.
	resp, body := send(t, http.MethodPost, gw.endpoint(), mcpHeader(1), listTools)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"up__echo"`)) {
		t.Fatalf("sessionless tools/list: %d %s", resp.StatusCode, body)
	}
	if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
		t.Fatalf("a stateless endpoint set Mcp-Session-Id %q", id)
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		resp, body = send(t, method, gw.endpoint(), mcpHeader(1), "")
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Fatalf("%s: %d Allow %q, want 405 Allow POST", method, resp.StatusCode, resp.Header.Get("Allow"))
		}
		apiError(t, resp, body)
	}
}

func TestJSONResponses(t *testing.T) {
	gw := startGateway(t, Config{Stateless: true, JSONResponse: true}, nil)
	resp, body := send(t, http.MethodPost, gw.endpoint(), mcpHeader(1), listTools)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q %s, want a JSON answer", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var msg struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      int             `json:"id"`
		Result  json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.JSONRPC != "2.0" || msg.ID != 7 || msg.Result == nil {
		t.Fatalf("answer %s is not the JSON-RPC result of request 7", body)
	}
}

// specChatExample is the request body of the specification's /v1/mcp
// example, byte for byte.
const specChatExample = `{
"model": "jan-v1-4b",
"messages": [
{"role": "user", "content": "What's the weather like today?"}
],
"tools": [
{
"type": "function",
"function": {
"name": "get_weather",
"description": "Get current weather information"
}
}
]
}`

// specChatAnswer is the answer of the specification's /v1/mcp example.
const specChatAnswer = `{"id":"chatcmpl-123","object":"chat.completion","created":1677652288,"model":"jan-v1-4b","choices":[{"index":0,"message":{"role":"assistant","content":"I'll check the weather for you.","tool_calls":[{"id":"call_123","type":"function","function":{"name":"get_weather","arguments":"{\"location\": \"New York, NY\"}"}}]},"finish_reason":"tool_calls"}]}`

// stubChat stands in for the chat completions handler: it records what it
// got and answers the specification's chat.completion with tool_calls.
type stubChat struct {
	calls atomic.Int32
	body  atomic.Pointer[[]byte]
	user  atomic.Int64
}

func (s *stubChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	s.body.Store(&body)
	if p := principal.From(r.Context()); p != nil {
		s.user.Store(p.UserID)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-RateLimit-Remaining", "59")
	_, _ = io.WriteString(w, specChatAnswer)
}

func TestChatRequestAnsweredByTheChatHandler(t *testing.T) {
	chat := &stubChat{}
	up := newTestUpstream(t, "up", "", func(s *sdk.Server) { addEcho(s, "up", "echo") })
	gw := startGateway(t, Config{Servers: []ServerConfig{{Name: "up", URL: up.endpoint()}}}, chat)

	// As the spec's curl sends it: no Accept header of MCP's.
	h := userHeader(3)
	h.Set("Content-Type", "application/json")
	resp, body := send(t, http.MethodPost, gw.endpoint(), h, specChatExample)
	if resp.StatusCode != http.StatusOK || string(body) != specChatAnswer {
		t.Fatalf("answer %d %s, want the chat handler's", resp.StatusCode, body)
	}
	if resp.Header.Get("X-RateLimit-Remaining") != "59" {
		t.Fatal("the chat handler's headers were lost")
	}
	if got := chat.body.Load(); got == nil || string(*got) != specChatExample {
		t.Fatalf("the chat handler got %q, want the client's body unchanged", *got)
	}
	if chat.user.Load() != 3 {
		t.Fatalf("the chat handler saw user %d, want the caller", chat.user.Load())
	}
	var completion struct {
		Object  string `json:"object"`
		Choices []struct {
			FinishReason string `json:"finish_reason"`
			Message      struct {
				ToolCalls []struct {
					Function struct{ Name string } `json:"function"`
				} `json:"tool_calls"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &completion); err != nil || completion.Object != "chat.completion" ||
		len(completion.Choices) != 1 || completion.Choices[0].FinishReason != "tool_calls" ||
		len(completion.Choices[0].Message.ToolCalls) != 1 || completion.Choices[0].Message.ToolCalls[0].Function.Name != "get_weather" {
		t.Fatalf("answer %s is not a chat.completion with a get_weather call", body)
	}

	// MCP traffic never reaches the chat handler.
	c := mustConnect(t, gw.endpoint(), 3)
	c.waitForTools(t, "up__echo")
	c.call(t, "up__echo", "x")
	if n := chat.calls.Load(); n != 1 {
		t.Fatalf("the chat handler was called %d times, want once", n)
	}
}

func TestChatRequestWithoutChatHandler(t *testing.T) {
	gw := startGateway(t, Config{}, nil)
	resp, body := send(t, http.MethodPost, gw.endpoint(), mcpHeader(1), specChatExample)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400; %s", resp.StatusCode, body)
	}
	apiError(t, resp, body)
}

func TestIsChatRequest(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{specChatExample, true},
		{"  \n{\"model\":\"m\"}", true},
		{`{}`, true},
		{`{"model":"m","metadata":{"jsonrpc":"2.0"}}`, true}, // only a top-level member counts
		{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, false},
		{`{"id":1,"method":"ping","jsonrpc":"2.0"}`, false},
		{`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, false},
		{``, false},
		{`not json`, false},
	}
	for _, tt := range tests {
		if got := isChatRequest([]byte(tt.body)); got != tt.want {
			t.Errorf("isChatRequest(%q) = %v, want %v", tt.body, got, tt.want)
		}
	}
}
