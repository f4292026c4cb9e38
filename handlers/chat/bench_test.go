package chat_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/provider"
)

// benchmarkChat measures the handler and the OpenAI-compatible provider
// against a loopback upstream: allocations and time per request. The
// upstream's own cost is included; compare runs, not absolute numbers.
func benchmarkChat(b *testing.B, body string) {
	// A fast upstream of prebuilt answers, so that the numbers are mostly
	// the gateway's.
	var stream strings.Builder
	for i := range 50 {
		stream.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"janhq/Jan-v1-4B","choices":[{"index":0,"delta":{"content":" w` + strconv.Itoa(i) + `"},"finish_reason":null}],"usage":null}` + "\n\n")
	}
	stream.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"janhq/Jan-v1-4B","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":50,"total_tokens":55}}` + "\n\ndata: [DONE]\n\n")
	streamBody := []byte(stream.String())
	plainBody := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"janhq/Jan-v1-4B","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if strings.Contains(r.Header.Get("Accept"), "event-stream") {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write(streamBody)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(plainBody)
	}))
	b.Cleanup(up.Close)
	p := openAIProvider(b, "up", up.URL)
	router, err := provider.NewRouter([]provider.Provider{p}, provider.RouterConfig{})
	if err != nil {
		b.Fatal(err)
	}
	h := &chat.Handler{Router: router}
	ctx := principal.With(b.Context(), &principal.Principal{UserID: 1})
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

func BenchmarkChatCompletion(b *testing.B) {
	benchmarkChat(b, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hello"}]}`)
}

func BenchmarkChatStream(b *testing.B) {
	benchmarkChat(b, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hello"}],"stream":true}`)
}
