package chat_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/mock"
	provopenai "github.com/caddy-llm/gateway/handlers/provider/openai"
	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

// post sends body to the chat endpoint with the test token.
func (g *gateway) post(t *testing.T, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

type errorBody struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    string `json:"code"`
		Param   string `json:"param"`
	} `json:"error"`
}

func decodeError(t *testing.T, r io.Reader) errorBody {
	t.Helper()
	var e errorBody
	raw, _ := io.ReadAll(r)
	if err := json.Unmarshal(raw, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" || e.Error.Code == "" {
		t.Fatalf("not the spec's error shape: %s", raw)
	}
	return e
}

func TestRequestErrors(t *testing.T) {
	g := newGateway(t, []provider.Provider{mockProvider(t, mock.Config{})}, provider.RouterConfig{}, func(h *chat.Handler) { h.MaxBodyBytes = 1024 })
	tests := []struct {
		name, method, body string
		auth               bool
		chunked            bool
		status             int
		code, param        string
	}{
		{"no principal", http.MethodPost, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"x"}]}`, false, false, 401, "unauthorized", ""},
		{"malformed JSON", http.MethodPost, `{"model": "jan-v1-4b", "messages": [`, true, false, 400, "invalid_json", ""},
		{"empty body", http.MethodPost, ``, true, false, 400, "invalid_json", ""},
		{"unknown model", http.MethodPost, `{"model":"nope","messages":[{"role":"user","content":"x"}]}`, true, false, 400, "invalid_model", "model"},
		{"bad role", http.MethodPost, `{"model":"jan-v1-4b","messages":[{"role":"wizard","content":"x"}]}`, true, false, 400, "invalid_value", "messages[0].role"},
		{"too large", http.MethodPost, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"` + strings.Repeat("x", 2000) + `"}]}`, true, false, 413, "request_too_large", ""},
		{"too large without length", http.MethodPost, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"` + strings.Repeat("x", 2000) + `"}]}`, true, true, 413, "request_too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, _ := http.NewRequest(tt.method, g.URL+"/v1/chat/completions", body)
			if tt.auth {
				req.Header.Set("Authorization", "Bearer "+testToken)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("status %d %s, want %d JSON", resp.StatusCode, resp.Header.Get("Content-Type"), tt.status)
			}
			e := decodeError(t, resp.Body)
			if e.Error.Code != tt.code || e.Error.Param != tt.param {
				t.Errorf("error %+v, want code %q param %q", e.Error, tt.code, tt.param)
			}
		})
	}
}

func TestUpstreamFailuresBeforeFirstByte(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		code    string
		message string // exact client message, when the upstream's is passed on
	}{
		{"upstream 400 sanitised", func(w http.ResponseWriter, r *http.Request) {
			providertest.WriteJSON(w, 400, providertest.ErrorBody("This model's maximum context length is 8192 tokens for janhq/Jan-v1-4B; key sk-upstream-secret", "invalid_request_error", "context_length_exceeded"))
		}, 400, "context_length_exceeded", "This model's maximum context length is 8192 tokens for jan-v1-4b; key [redacted]"},
		{"upstream 401", func(w http.ResponseWriter, r *http.Request) {
			providertest.WriteJSON(w, 401, providertest.ErrorBody("Incorrect API key provided: sk-upstream-secret", "invalid_request_error", "invalid_api_key"))
		}, 502, "upstream_auth_error", ""},
		{"upstream 403", func(w http.ResponseWriter, r *http.Request) {
			providertest.WriteJSON(w, 403, providertest.ErrorBody("project sk-upstream-secret has no access", "permission_error", ""))
		}, 502, "upstream_auth_error", ""},
		{"upstream 500", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "Traceback: secret internals at /srv/app.py", 500)
		}, 502, "upstream_error", ""},
		{"upstream timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, 504, "upstream_timeout", ""},
	}
	for _, stream := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(tt.name+map[bool]string{false: "", true: "/stream"}[stream], func(t *testing.T) {
				up := providertest.NewUpstream(t, tt.handler)
				g := newGateway(t, []provider.Provider{openAIProvider(t, "up", up.URL, func(c *provopenai.Config) {
					c.FirstByteTimeout = 150 * time.Millisecond
				})}, provider.RouterConfig{})
				body := `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}]}`
				if stream {
					body = `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`
				}
				resp := g.post(t, body)
				raw, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, raw)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("content type %q: an error before the first byte must be a plain JSON error", ct)
				}
				for _, secret := range []string{"sk-upstream", "Traceback", "internals", "Incorrect API key", "janhq"} {
					if strings.Contains(string(raw), secret) {
						t.Errorf("client saw %q: %s", secret, raw)
					}
				}
				e := decodeError(t, strings.NewReader(string(raw)))
				if e.Error.Code != tt.code || (tt.message != "" && e.Error.Message != tt.message) {
					t.Errorf("error %+v, want code %q message %q", e.Error, tt.code, tt.message)
				}
				if o := g.observed.last(t); o.Status != tt.status || o.ErrorCode != tt.code {
					t.Errorf("outcome %+v", o)
				}
			})
		}
	}
}

// readEvents reads a raw SSE response into its data lines.
func readEvents(t *testing.T, r io.Reader) []string {
	t.Helper()
	var events []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	blank := true
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			blank = true
			continue
		}
		if !blank {
			t.Errorf("event spans several lines: %q", line)
		}
		blank = false
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Errorf("line %q is not a data line", line)
		}
		events = append(events, data)
	}
	return events
}

func TestStreamWireShape(t *testing.T) {
	g := newGateway(t, []provider.Provider{mockProvider(t, mock.Config{})}, provider.RouterConfig{})
	resp := g.post(t, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Tell me a story"}],"stream":true}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
	}
	events := readEvents(t, resp.Body)
	if len(events) < 3 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("events %q", events)
	}
	var first struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		Model   string `json:"model"`
		Choices []struct {
			Index        int             `json:"index"`
			Delta        json.RawMessage `json:"delta"`
			FinishReason *string         `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(events[0]), &first); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.ID, "chatcmpl-") || first.Object != "chat.completion.chunk" || first.Created == 0 || first.Model != "jan-v1-4b" ||
		string(first.Choices[0].Delta) != `{"role":"assistant","content":""}` || first.Choices[0].FinishReason != nil {
		t.Errorf("first event %s, want the spec's role chunk", events[0])
	}
	if !strings.Contains(events[0], `"finish_reason":null`) {
		t.Errorf("finish_reason must be null until the end: %s", events[0])
	}
	for _, e := range events[:len(events)-1] {
		if strings.Contains(e, `"usage"`) {
			t.Errorf("usage sent to a client that did not ask: %s", e)
		}
	}
}

func TestStreamFailsMidway(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "a b c d e", BeforeChunk: func(i int) bool { return i < 3 }})
	g := newGateway(t, []provider.Provider{openAIProvider(t, "up", up.URL)}, provider.RouterConfig{})
	resp := g.post(t, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	events := readEvents(t, resp.Body)
	if len(events) != 4 {
		t.Fatalf("events %q, want 3 chunks and an error", events)
	}
	for _, e := range events {
		if e == "[DONE]" {
			t.Fatal("a broken stream ended with [DONE]")
		}
	}
	e := decodeError(t, strings.NewReader(events[3]))
	if e.Error.Code != "upstream_error" || e.Error.Type != "upstream_error" {
		t.Errorf("error event %s", events[3])
	}
	if o := g.observed.last(t); !o.Incomplete || o.ErrorCode != "upstream_error" || o.Status != 200 {
		t.Errorf("outcome %+v", o)
	}
}

func TestClientDisconnectCancelsUpstream(t *testing.T) {
	sawCancel := make(chan time.Time, 1)
	up := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.StartSSE(w)
		providertest.SendData(w, `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)
		providertest.SendData(w, `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Once"},"finish_reason":null}]}`)
		<-r.Context().Done()
		sawCancel <- time.Now()
	}))
	g := newGateway(t, []provider.Provider{openAIProvider(t, "up", up.URL)}, provider.RouterConfig{})

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for n := 0; n < 2; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") {
			n++
		}
	}
	disconnected := time.Now()
	cancel()
	select {
	case at := <-sawCancel:
		if d := at.Sub(disconnected); d > 100*time.Millisecond {
			t.Errorf("the upstream saw the disconnect after %v, want within 100ms", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the upstream request was not cancelled")
	}
	if o := g.observed.last(t); !o.Incomplete || o.ErrorCode != "client_closed_request" {
		t.Errorf("outcome %+v", o)
	}
}

func TestTraceContextPropagated(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{})
	g := newGateway(t, []provider.Provider{openAIProvider(t, "up", up.URL)}, provider.RouterConfig{})
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	resp := g.post(t, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}]}`, "Traceparent", tp, "Tracestate", "vendor=1")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h := up.Last(t).Header
	if h.Get("Traceparent") != tp || h.Get("Tracestate") != "vendor=1" {
		t.Errorf("upstream headers %v", h)
	}
	if h.Get("Authorization") != "Bearer sk-upstream-secret" {
		t.Errorf("the upstream key was not sent (or the client's was): %q", h.Get("Authorization"))
	}
}

// fakeMedia resolves "jan_" ids to https URLs, refuses "jan_forbidden".
type fakeMedia struct{ calls int }

func (m *fakeMedia) ResolveMessages(ctx context.Context, r *http.Request, body []byte) ([]byte, bool, *apierr.Error) {
	m.calls++
	if strings.Contains(string(body), "jan_forbidden") {
		return nil, false, apierr.New(http.StatusForbidden, "media_forbidden", "not your media")
	}
	if !strings.Contains(string(body), "jan_") {
		return nil, false, nil
	}
	messages := gjson.GetBytes(body, "messages").Raw
	return []byte(strings.ReplaceAll(messages, "jan_01abc", "https://media.example/01abc.png")), true, nil
}

func TestMediaReferencesResolvedBeforeUpstream(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{})
	media := &fakeMedia{}
	g := newGateway(t, []provider.Provider{openAIProvider(t, "up", up.URL)}, provider.RouterConfig{}, func(h *chat.Handler) { h.Media = media })
	const withImage = `{"model":"jan-v1-4b","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"jan_01abc"}}]}]}`
	if resp := g.post(t, withImage); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rec := up.Last(t)
	if !strings.Contains(string(rec.Body), `"url":"https://media.example/01abc.png"`) || strings.Contains(string(rec.Body), "jan_01abc") {
		t.Errorf("upstream body %s", rec.Body)
	}
	if rec.JSON(t)["model"] != "janhq/Jan-v1-4B" {
		t.Errorf("the resolved body lost the model mapping: %s", rec.Body)
	}
	resp := g.post(t, strings.ReplaceAll(withImage, "jan_01abc", "jan_forbidden"))
	if resp.StatusCode != http.StatusForbidden || decodeError(t, resp.Body).Error.Code != "media_forbidden" {
		t.Errorf("status %d, want the resolver's 403", resp.StatusCode)
	}
	if len(up.Requests()) != 1 {
		t.Errorf("a refused request reached the upstream")
	}
}

// badMedia is a media service that answers messages no client could send.
type badMedia struct{}

func (badMedia) ResolveMessages(context.Context, *http.Request, []byte) ([]byte, bool, *apierr.Error) {
	return []byte(`[{"role":"bogus","content":"x"}]`), true, nil
}

// The request is parsed once, but messages the media service wrote are
// validated as the client's: they never reach the upstream unchecked.
func TestResolvedMessagesAreValidated(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{})
	g := newGateway(t, []provider.Provider{openAIProvider(t, "up", up.URL)}, provider.RouterConfig{}, func(h *chat.Handler) { h.Media = badMedia{} })
	resp := g.post(t, `{"model":"jan-v1-4b","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"jan_01abc"}}]}]}`)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
	if e := decodeError(t, resp.Body); e.Error.Param != "messages[0].role" {
		t.Errorf("error %+v, want one about messages[0].role", e.Error)
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}
