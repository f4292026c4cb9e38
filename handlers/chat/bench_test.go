package chat_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/storetest"
)

// benchHandler returns a chat handler over a fast loopback upstream of
// prebuilt answers, so that the numbers are mostly the gateway's: 50 content
// chunks and a usage chunk for streams, one short completion otherwise.
func benchHandler(b *testing.B) *chat.Handler {
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
	return &chat.Handler{Router: router}
}

// benchmarkChat measures the handler and the OpenAI-compatible provider
// against the loopback upstream: allocations and time per request. The
// upstream's own cost is included; compare runs, not absolute numbers.
func benchmarkChat(b *testing.B, h *chat.Handler, ctx context.Context, body string) {
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

const (
	benchPlain  = `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hello"}]}`
	benchStream = `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hello"}],"stream":true}`
)

func BenchmarkChatCompletion(b *testing.B) {
	benchmarkChat(b, benchHandler(b), principal.With(b.Context(), &principal.Principal{UserID: 1}), benchPlain)
}

func BenchmarkChatStream(b *testing.B) {
	benchmarkChat(b, benchHandler(b), principal.With(b.Context(), &principal.Principal{UserID: 1}), benchStream)
}

// BenchmarkChatTurnWithPersistence is BenchmarkChatCompletion and
// BenchmarkChatStream with every request a turn of one conversation, on each
// store: the difference is what persistence adds to a chat call (reading the
// conversation and settings and appending the user message before the
// upstream call, appending the reply after it).
func BenchmarkChatTurnWithPersistence(b *testing.B) {
	for _, s := range httpxtest.Stores {
		for _, kind := range []struct{ name, body string }{{"plain", benchPlain}, {"stream", benchStream}} {
			b.Run(s.Name+"/"+kind.name, func(b *testing.B) {
				st := s.New(b)
				u, err := st.UpsertUser(b.Context(), store.User{Issuer: "bench", Subject: storetest.RandomName("u-"), Kind: store.UserKindUser})
				if err != nil {
					b.Fatal(err)
				}
				conv, _, err := st.CreateConversation(b.Context(), store.Conversation{UserID: u.ID, Title: "Bench"}, nil)
				if err != nil {
					b.Fatal(err)
				}
				h := benchHandler(b)
				rec := &timedRecorder{rec: &chat.Recorder{Store: st}}
				h.Conversations = rec
				body := strings.Replace(kind.body, `"messages"`, `"conversation":"`+conv.PublicID+`","messages"`, 1)
				benchmarkChat(b, h, principal.With(b.Context(), &principal.Principal{UserID: u.ID}), body)
				// Where the time goes: before the upstream call (it delays
				// the first token) and after the answer (it delays [DONE]).
				b.ReportMetric(float64(rec.begin.Nanoseconds())/float64(b.N), "begin-ns/op")
				b.ReportMetric(float64(rec.finish.Nanoseconds())/float64(b.N), "finish-ns/op")
			})
		}
	}
}

// timedRecorder adds up the time its recorder's turns take to begin and to
// finish. Benchmarks run one request at a time: no locking.
type timedRecorder struct {
	rec           chat.ConversationRecorder
	begin, finish time.Duration
}

func (t *timedRecorder) BeginTurn(ctx context.Context, p *principal.Principal, req *openai.ChatRequest, body []byte) (chat.Turn, *apierr.Error) {
	start := time.Now()
	turn, aerr := t.rec.BeginTurn(ctx, p, req, body)
	t.begin += time.Since(start)
	if turn == nil {
		return nil, aerr
	}
	return timedTurn{Turn: turn, finish: &t.finish}, aerr
}

type timedTurn struct {
	chat.Turn
	finish *time.Duration
}

func (t timedTurn) Finish(ctx context.Context, reply chat.Reply) error {
	start := time.Now()
	err := t.Turn.Finish(ctx, reply)
	*t.finish += time.Since(start)
	return err
}
