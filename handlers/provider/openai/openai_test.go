package openai

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	wire "github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

// route builds a provider for cfg behind a router and the request for body.
func route(t *testing.T, cfg Config, body string) (*Provider, *provider.Router, *provider.Request) {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	r, err := provider.NewRouter([]provider.Provider{p}, provider.RouterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	chat, aerr := wire.ParseChatRequest([]byte(body))
	if aerr != nil {
		t.Fatalf("invalid test body: %s", aerr.Message)
	}
	m, ok := r.Model(chat.Model)
	if !ok {
		t.Fatalf("model %q not routed", chat.Model)
	}
	return p, r, &provider.Request{Body: []byte(body), Chat: chat, Model: m, TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", RequestID: "req-1"}
}

func readStream(t *testing.T, s provider.Stream) (content string, chunks []provider.Chunk, err error) {
	t.Helper()
	for {
		c, err := s.Next()
		if err != nil {
			return content, chunks, err
		}
		cp := c
		cp.Data = append([]byte(nil), c.Data...)
		chunks = append(chunks, cp)
		var chunk wire.ChatCompletionChunk
		if jerr := jsonUnmarshal(c.Data, &chunk); jerr != nil {
			t.Fatalf("chunk is not a chat.completion.chunk: %v: %s", jerr, c.Data)
		}
		if chunk.Model != "jan-v1-4b" {
			t.Errorf("chunk model = %q, want the public id", chunk.Model)
		}
		for _, ch := range chunk.Choices {
			if ch.Delta.Content != nil {
				content += *ch.Delta.Content
			}
		}
	}
}

func TestChatCompletion(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{ServedModel: "janhq/Jan-v1-4B-2025-08", Reply: "Hi there"})
	_, r, req := route(t, Config{
		ID:       "vllm",
		BaseURL:  up.URL + "/v1?api-version=2024-10-21",
		APIKey:   "sk-test-key",
		Headers:  map[string]string{"X-Tenant": "jan"},
		ModelMap: map[string]string{"jan-v1-4b": "janhq/Jan-v1-4B"},
	}, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hello"}],"seed":42,"conversation":"conv_1","store":true}`)

	c, att, err := r.ChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if att.Provider != "vllm" || att.UpstreamModel != "janhq/Jan-v1-4B" {
		t.Errorf("attempt = %+v", att)
	}
	var got wire.ChatCompletion
	if err := jsonUnmarshal(c.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Model != "jan-v1-4b" || *got.Choices[0].Message.Content != "Hi there" || got.Choices[0].FinishReason != "stop" {
		t.Errorf("answer = %s", c.Body)
	}
	if !c.HasUsage || c.Usage.CompletionTokens != 2 || c.Usage.TotalTokens != c.Usage.PromptTokens+2 {
		t.Errorf("usage = %+v", c.Usage)
	}
	if !strings.Contains(string(c.Body), `"system_fingerprint":"fp_up"`) {
		t.Errorf("upstream fields were lost: %s", c.Body)
	}

	rec := up.Last(t)
	if rec.Path != "/v1/chat/completions" || rec.Query != "api-version=2024-10-21" {
		t.Errorf("upstream path %s?%s", rec.Path, rec.Query)
	}
	if rec.Header.Get("Authorization") != "Bearer sk-test-key" || rec.Header.Get("X-Tenant") != "jan" {
		t.Errorf("upstream headers: %v", rec.Header)
	}
	if rec.Header.Get("Traceparent") != req.TraceParent || rec.Header.Get("X-Request-Id") != "req-1" {
		t.Errorf("trace context not propagated: %v", rec.Header)
	}
	body := rec.JSON(t)
	if body["model"] != "janhq/Jan-v1-4B" || body["seed"] != float64(42) {
		t.Errorf("upstream body: %s", rec.Body)
	}
	if _, ok := body["conversation"]; ok {
		t.Errorf("gateway member forwarded: %s", rec.Body)
	}
	if _, ok := body["store"]; ok {
		t.Errorf("gateway member forwarded: %s", rec.Body)
	}
}

func TestChatCompletionToolCalls(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{})
	_, r, req := route(t, Config{ID: "up", BaseURL: up.URL + "/v1", ModelMap: map[string]string{"jan-v1-4b": ""}},
		`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],"tool_choice":"auto"}`)
	c, _, err := r.ChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var got wire.ChatCompletion
	if err := jsonUnmarshal(c.Body, &got); err != nil {
		t.Fatal(err)
	}
	ch := got.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 || ch.Message.ToolCalls[0].Function.Name != "get_weather" || ch.Message.Content != nil {
		t.Errorf("answer = %s", c.Body)
	}
	body := up.Last(t).JSON(t)
	if body["tool_choice"] != "auto" || len(body["tools"].([]any)) != 1 {
		t.Errorf("tools not passed through: %s", up.Last(t).Body)
	}
}

func TestStream(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		wantUsageOut bool
	}{
		{"usage not asked", `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`, false},
		{"usage asked", `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "one two three four", ServedModel: "served-name"})
			_, r, req := route(t, Config{ID: "up", BaseURL: up.URL + "/v1", ModelMap: map[string]string{"jan-v1-4b": "Jan"}}, tt.body)
			s, _, err := r.ChatCompletionStream(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			content, chunks, err := readStream(t, s)
			if !errors.Is(err, io.EOF) {
				t.Fatalf("stream ended with %v", err)
			}
			if content != "one two three four" {
				t.Errorf("content = %q", content)
			}
			last := chunks[len(chunks)-1]
			if !last.UsageOnly || !last.HasUsage || last.Usage.CompletionTokens != 4 {
				t.Errorf("last chunk = %+v %s, want the usage-only chunk", last, last.Data)
			}
			for _, c := range chunks[:len(chunks)-1] {
				if c.UsageOnly {
					t.Errorf("usage-only chunk before the end: %s", c.Data)
				}
			}
			so, ok := up.Last(t).JSON(t)["stream_options"].(map[string]any)
			if !ok || so["include_usage"] != true {
				t.Errorf("include_usage not requested upstream: %s", up.Last(t).Body)
			}
		})
	}
}

func TestStreamHidesUsageOnContentChunk(t *testing.T) {
	// llama.cpp-style: usage rides on the finishing content chunk.
	up := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.StartSSE(w)
		providertest.SendData(w, `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}`)
		providertest.SendData(w, `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5}}`)
		providertest.SendData(w, "[DONE]")
	}))
	_, r, req := route(t, Config{ID: "up", BaseURL: up.URL, ModelMap: map[string]string{"jan-v1-4b": "m"}},
		`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`)
	s, _, err := r.ChatCompletionStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, chunks, err := readStream(t, s)
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	last := chunks[len(chunks)-1]
	if !last.HasUsage || last.UsageOnly || last.Usage.TotalTokens != 5 {
		t.Errorf("usage not recorded: %+v", last)
	}
	if !strings.Contains(string(last.Data), `"usage":null`) || !strings.Contains(string(last.Data), `"finish_reason":"stop"`) {
		t.Errorf("usage shown to a client that did not ask: %s", last.Data)
	}
}

func TestUpstreamErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		kind       provider.Kind
		message    string
		retryAfter time.Duration
	}{
		{"bad request", 400, nil, `{"error":{"message":"'messages' must contain the word json (model Jan)","type":"invalid_request_error","code":"invalid_value","param":"messages"}}`, provider.KindBadRequest, "'messages' must contain the word json (model jan-v1-4b)", 0},
		{"auth", 401, nil, `{"error":{"message":"Incorrect API key provided: sk-abc123456789"}}`, provider.KindAuth, "", 0},
		{"rate limited", 429, map[string]string{"Retry-After": "3"}, `{"error":{"message":"slow down"}}`, provider.KindRateLimited, "", 3 * time.Second},
		{"unavailable", 503, nil, `upstream connect error`, provider.KindServer, "", 0},
	}
	for _, stream := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if stream {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				up := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					for k, v := range tt.header {
						w.Header().Set(k, v)
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.status)
					_, _ = io.WriteString(w, tt.body)
				}))
				body := `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}]}`
				if stream {
					body = `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`
				}
				p, _, req := route(t, Config{ID: "up", BaseURL: up.URL, APIKey: "sk-mine", ModelMap: map[string]string{"jan-v1-4b": "Jan"}}, body)
				req.UpstreamModel = "Jan"
				var err error
				if stream {
					_, err = p.ChatCompletionStream(context.Background(), req)
				} else {
					_, err = p.ChatCompletion(context.Background(), req)
				}
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Kind != tt.kind || pe.Status != tt.status {
					t.Fatalf("err = %v, want kind %v status %d", err, tt.kind, tt.status)
				}
				if pe.Message != tt.message || pe.RetryAfter != tt.retryAfter {
					t.Errorf("message %q retry %v, want %q %v", pe.Message, pe.RetryAfter, tt.message, tt.retryAfter)
				}
				if strings.Contains(pe.Error(), "sk-") {
					t.Errorf("a key leaked into the error: %v", pe)
				}
			})
		}
	}
}

func TestTimeouts(t *testing.T) {
	t.Run("first byte", func(t *testing.T) {
		up := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}))
		p, _, req := route(t, Config{ID: "up", BaseURL: up.URL, FirstByteTimeout: 100 * time.Millisecond, ModelMap: map[string]string{"jan-v1-4b": ""}},
			`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}]}`)
		start := time.Now()
		_, err := p.ChatCompletion(context.Background(), req)
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Kind != provider.KindTimeout {
			t.Fatalf("err = %v, want timeout", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("timeout took %v", time.Since(start))
		}
	})
	t.Run("headers but no first event", func(t *testing.T) {
		up := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			providertest.StartSSE(w)
			<-r.Context().Done()
		}))
		p, _, req := route(t, Config{ID: "up", BaseURL: up.URL, FirstByteTimeout: 100 * time.Millisecond, IdleTimeout: time.Hour, ModelMap: map[string]string{"jan-v1-4b": ""}},
			`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`)
		s, err := p.ChatCompletionStream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, err = s.Next()
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Kind != provider.KindTimeout {
			t.Fatalf("err = %v, want timeout", err)
		}
	})
	t.Run("stalled mid-stream", func(t *testing.T) {
		up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "a b c d", BeforeChunk: func(i int) bool {
			if i == 2 {
				time.Sleep(time.Second)
			}
			return true
		}})
		p, _, req := route(t, Config{ID: "up", BaseURL: up.URL, IdleTimeout: 100 * time.Millisecond, ModelMap: map[string]string{"jan-v1-4b": ""}},
			`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`)
		s, err := p.ChatCompletionStream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, chunks, err := readStream(t, s)
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Kind != provider.KindTimeout {
			t.Fatalf("err = %v, want idle timeout", err)
		}
		if len(chunks) != 2 {
			t.Errorf("got %d chunks before the stall, want 2", len(chunks))
		}
	})
	t.Run("slow but steady stream is never cut", func(t *testing.T) {
		up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "a b c d e f g h", ChunkDelay: 40 * time.Millisecond})
		p, _, req := route(t, Config{ID: "up", BaseURL: up.URL, FirstByteTimeout: 150 * time.Millisecond, IdleTimeout: 150 * time.Millisecond, ModelMap: map[string]string{"jan-v1-4b": ""}},
			`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`)
		start := time.Now()
		s, err := p.ChatCompletionStream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		content, _, err := readStream(t, s)
		if !errors.Is(err, io.EOF) || content != "a b c d e f g h" {
			t.Fatalf("err %v content %q", err, content)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("stream took %v: the test needs it longer than both timeouts", d)
		}
	})
}

func TestStreamCutOff(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "a b c d", BeforeChunk: func(i int) bool { return i < 3 }})
	p, _, req := route(t, Config{ID: "up", BaseURL: up.URL, ModelMap: map[string]string{"jan-v1-4b": ""}},
		`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`)
	s, err := p.ChatCompletionStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, chunks, err := readStream(t, s)
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Kind != provider.KindServer {
		t.Fatalf("err = %v, want a server error for a stream cut before [DONE]", err)
	}
	if len(chunks) != 3 {
		t.Errorf("got %d chunks, want the 3 sent", len(chunks))
	}
}

func TestMalformedAnswers(t *testing.T) {
	tests := []struct {
		name    string
		stream  bool
		handler http.HandlerFunc
	}{
		{"invalid JSON", false, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"choices":[`)
		}},
		// An upstream is trusted less than the gateway: an answer nested
		// deeper than jsonguard.MaxDepth is refused before gjson's
		// recursive validation (6 MB of "[" once overflowed the stack).
		{"nested too deep", false, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"choices":`+strings.Repeat("[", 6<<20))
		}},
		{"stream answered with JSON", true, func(w http.ResponseWriter, r *http.Request) {
			providertest.WriteJSON(w, 200, map[string]any{"choices": []any{}})
		}},
		{"redirect", false, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusFound)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := providertest.NewUpstream(t, tt.handler)
			body := `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}]}`
			if tt.stream {
				body = `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`
			}
			p, _, req := route(t, Config{ID: "up", BaseURL: up.URL, ModelMap: map[string]string{"jan-v1-4b": ""}}, body)
			var err error
			if tt.stream {
				_, err = p.ChatCompletionStream(context.Background(), req)
			} else {
				_, err = p.ChatCompletion(context.Background(), req)
			}
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Kind != provider.KindServer {
				t.Fatalf("err = %v, want a server error", err)
			}
		})
	}
}

func TestConnectRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	for _, stream := range []bool{false, true} {
		body := `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}]}`
		if stream {
			body = `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`
		}
		p, _, req := route(t, Config{ID: "up", BaseURL: "http://" + addr, ModelMap: map[string]string{"jan-v1-4b": ""}}, body)
		if stream {
			_, err = p.ChatCompletionStream(context.Background(), req)
		} else {
			_, err = p.ChatCompletion(context.Background(), req)
		}
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Kind != provider.KindConnect {
			t.Errorf("stream=%v: err = %v, want a connect error", stream, err)
		}
	}
}

func TestCancelAbortsUpstream(t *testing.T) {
	gone := make(chan time.Time, 1)
	up := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.StartSSE(w)
		providertest.SendData(w, `{"model":"jan-v1-4b","choices":[{"index":0,"delta":{"content":"x"}}]}`)
		<-r.Context().Done()
		gone <- time.Now()
	}))
	p, _, req := route(t, Config{ID: "up", BaseURL: up.URL, ModelMap: map[string]string{"jan-v1-4b": ""}},
		`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := p.ChatCompletionStream(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	cancelled := time.Now()
	cancel()
	_, err = s.Next()
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Kind != provider.KindCanceled {
		t.Errorf("err = %v, want canceled", err)
	}
	s.Close()
	select {
	case at := <-gone:
		if d := at.Sub(cancelled); d > 100*time.Millisecond {
			t.Errorf("upstream saw the cancellation after %v", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("upstream never saw the cancellation")
	}
}

func TestStreamsReuseConnections(t *testing.T) {
	var conns atomic.Int32
	fake := &providertest.OpenAIServer{Reply: "a b"}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fake.ServeHTTP(w, r)
		// The end of the chunked body arrives after [DONE], as it does
		// from a real server: the provider must still wait for it.
		time.Sleep(20 * time.Millisecond)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p, _, req := route(t, Config{ID: "up", BaseURL: srv.URL, ModelMap: map[string]string{"jan-v1-4b": ""}},
		`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`)
	for range 3 {
		s, err := p.ChatCompletionStream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := readStream(t, s); !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		s.Close()
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("3 sequential streams used %d connections, want 1", n)
	}
}

func TestDiscoverModels(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{Models: []string{"janhq/Jan-v1-4B", "Qwen/Qwen3-8B"}})
	p, err := New(Config{ID: "vllm", BaseURL: up.URL + "/v1", APIKey: "sk-x", DiscoverModels: true,
		ModelMap: map[string]string{"jan-v1-4b": "janhq/Jan-v1-4B", "pinned": "not-listed"}})
	if err != nil {
		t.Fatal(err)
	}
	specs, err := p.DiscoverModels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]provider.ModelSpec{}
	for _, s := range specs {
		got[s.ID] = s
	}
	if len(got) != 3 {
		t.Fatalf("specs = %+v", specs)
	}
	if s := got["jan-v1-4b"]; s.UpstreamID != "janhq/Jan-v1-4B" || s.ContextLength != 8192 || s.OwnedBy != "vllm" {
		t.Errorf("mapped model = %+v", s)
	}
	if s := got["Qwen/Qwen3-8B"]; s.UpstreamID != "Qwen/Qwen3-8B" {
		t.Errorf("unmapped model = %+v", s)
	}
	if _, ok := got["pinned"]; !ok {
		t.Error("a mapped model the upstream does not list was dropped")
	}
	if rec := up.Last(t); rec.Path != "/v1/models" || rec.Header.Get("Authorization") != "Bearer sk-x" {
		t.Errorf("listing request %s %v", rec.Path, rec.Header)
	}

	off, _ := New(Config{ID: "off", BaseURL: up.URL})
	if _, err := off.DiscoverModels(context.Background()); !errors.Is(err, provider.ErrDiscoveryDisabled) {
		t.Errorf("err = %v, want ErrDiscoveryDisabled", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{BaseURL: "http://x"},
		{ID: "x", BaseURL: "ftp://user:secret@host"},
		{ID: "x", BaseURL: "not a url"},
	} {
		_, err := New(cfg)
		if err == nil {
			t.Errorf("accepted %+v", cfg)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("the error repeats the URL: %v", err)
		}
	}
}
