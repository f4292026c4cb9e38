package responses_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/responses"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

// memoryProvider answers every stream with prebuilt chunks from memory, so
// that a benchmark measures the relay, not an upstream or a socket.
type memoryProvider struct{ chunks [][]byte }

func (p *memoryProvider) Info() provider.Info {
	return provider.Info{ID: "mem", Name: "Memory", Kind: "mock"}
}

func (p *memoryProvider) Models() []provider.ModelSpec {
	return []provider.ModelSpec{{ID: "bench-model", Capabilities: provider.Capabilities{Streaming: true}}}
}

func (p *memoryProvider) ChatCompletion(context.Context, *provider.Request) (*provider.Completion, error) {
	return nil, io.ErrUnexpectedEOF
}

func (p *memoryProvider) ChatCompletionStream(context.Context, *provider.Request) (provider.Stream, error) {
	return &sliceStream{chunks: p.chunks}, nil
}

type sliceStream struct {
	chunks [][]byte
	i      int
}

func (s *sliceStream) Next() (provider.Chunk, error) {
	if s.i == len(s.chunks) {
		return provider.Chunk{}, io.EOF
	}
	c := provider.Chunk{Data: s.chunks[s.i]}
	s.i++
	if s.i == len(s.chunks) {
		c.UsageOnly, c.HasUsage = true, true
		c.Usage = openai.Usage{PromptTokens: 5, CompletionTokens: len(s.chunks), TotalTokens: 5 + len(s.chunks)}
	}
	return c, nil
}

func (s *sliceStream) Close() error { return nil }

func benchRouter(b *testing.B, n int) *provider.Router {
	var chunks [][]byte
	for i := range n {
		chunks = append(chunks, []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[{"index":0,"delta":{"content":" w`+strconv.Itoa(i)+`"},"finish_reason":null}]}`))
	}
	chunks = append(chunks,
		[]byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`),
		[]byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":50,"total_tokens":55}}`))
	r, err := provider.NewRouter([]provider.Provider{&memoryProvider{chunks: chunks}}, provider.RouterConfig{})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkStreamPerChunk streams the same n content chunks (and a finish
// and a usage chunk) from memory through the chat completions handler and
// through this one (not stored), and reports the cost per upstream chunk:
// chat relays each chunk as one event, responses reads each and writes its
// response.output_text.delta, plus the created, in_progress and done events
// once per stream. The difference between n=50 and n=500 is the cost of a
// chunk itself; what n=50 costs beyond it is the stream's fixed cost.
// chat-recorded and responses-stored add what recording the turn costs (on
// the memory store, so the store's own cost stays small).
func BenchmarkStreamPerChunk(b *testing.B) {
	for _, n := range []int{50, 500} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchmarkStream(b, n) })
	}
}

func benchmarkStream(b *testing.B, n int) {
	ctx := context.Background()
	router := benchRouter(b, n)
	last := " w" + strconv.Itoa(n-1)
	// A chat stream recorded into a conversation reads every chunk, as a
	// responses stream does; both write their turn once, on the memory
	// store.
	st := memory.New()
	u, err := st.UpsertUser(ctx, store.User{Issuer: "bench", Subject: "u", Kind: store.UserKindUser})
	if err != nil {
		b.Fatal(err)
	}
	ctx = principal.With(context.Background(), &principal.Principal{UserID: u.ID})
	conv, _, err := st.CreateConversation(ctx, store.Conversation{UserID: u.ID}, nil)
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name, path, body string
		h                http.Handler
	}{
		{"chat", "/v1/chat/completions", `{"model":"bench-model","messages":[{"role":"user","content":"Hello"}],"stream":true}`, &chat.Handler{Router: router}},
		{"chat-recorded", "/v1/chat/completions", `{"model":"bench-model","messages":[{"role":"user","content":"Hello"}],"stream":true,"conversation":"` + conv.PublicID + `"}`,
			&chat.Handler{Router: router, Conversations: &chat.Recorder{Store: st}}},
		{"responses", "/v1/responses", `{"model":"bench-model","input":"Hello","stream":true,"store":false}`, &responses.Handler{Router: router, Store: st}},
		{"responses-stored", "/v1/responses", `{"model":"bench-model","input":"Hello","stream":true}`, &responses.Handler{Router: router, Store: st}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequestWithContext(ctx, http.MethodPost, c.path, strings.NewReader(c.body))
				w := &tailWriter{header: http.Header{}}
				c.h.ServeHTTP(w, req)
				if w.status != 200 || !strings.Contains(string(w.tail), last) {
					b.Fatalf("status %d: %s", w.status, w.tail)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/chunk")
		})
	}
}

// tailWriter is a flushable ResponseWriter that keeps only the end of what
// is written, as a socket would take it: the benchmark measures the relay,
// not a recorder's growing buffer.
type tailWriter struct {
	header http.Header
	status int
	tail   []byte
}

func (w *tailWriter) Header() http.Header { return w.header }
func (w *tailWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *tailWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	const keep = 8 << 10
	w.tail = append(w.tail, b...)
	if len(w.tail) > 2*keep {
		w.tail = append(w.tail[:0], w.tail[len(w.tail)-keep:]...)
	}
	return len(b), nil
}

func (w *tailWriter) Flush() {}
