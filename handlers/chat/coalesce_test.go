package chat_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

// flushCounter counts the flushes of the handler's response.
type flushCounter struct {
	http.ResponseWriter
	n *atomic.Int32
}

func (f flushCounter) Flush() {
	f.n.Add(1)
	f.ResponseWriter.(http.Flusher).Flush()
}

func (f flushCounter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// countingGateway serves the chat handler on loopback, counting the
// flushes of each response.
func countingGateway(t *testing.T, upstreamURL string) (string, *atomic.Int32) {
	t.Helper()
	router, err := provider.NewRouter([]provider.Provider{openAIProvider(t, "up", upstreamURL)}, provider.RouterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&chat.Handler{Router: router}).Register(mux)
	flushes := &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(principal.With(r.Context(), &principal.Principal{UserID: 1, UserPublicID: "usr_1", Kind: principal.KindUser, Method: principal.MethodJWT}))
		mux.ServeHTTP(flushCounter{w, flushes}, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, flushes
}

func chunkEvent(content string) string {
	return "data: " + `{"id":"c","object":"chat.completion.chunk","created":1,"model":"janhq/Jan-v1-4B","choices":[{"index":0,"delta":{"content":"` + content + `"},"finish_reason":null}]}` + "\n\n"
}

func postStream(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := http.Post(url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}],"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return resp
}

// Events that arrive from the upstream together are relayed together: one
// flush for the lot rather than a write to the network per event, as
// Caddy's reverse_proxy copies what one read brought. Every event still
// reaches the client, in order.
func TestStreamEventsArrivingTogetherFlushedOnce(t *testing.T) {
	const n = 20
	up := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.StartSSE(w)
		var all strings.Builder
		for i := range n {
			all.WriteString(chunkEvent(string(rune('a' + i))))
		}
		all.WriteString("data: [DONE]\n\n")
		_, _ = w.Write([]byte(all.String()))
		w.(http.Flusher).Flush()
	}))
	url, flushes := countingGateway(t, up.URL)
	events := readEvents(t, postStream(t, url).Body)
	if len(events) != n+1 || events[n] != "[DONE]" {
		t.Fatalf("%d events, want %d and [DONE]: %q", len(events), n, events)
	}
	for i, e := range events[:n] {
		if !strings.Contains(e, `"content":"`+string(rune('a'+i))+`"`) || !strings.Contains(e, `"model":"jan-v1-4b"`) {
			t.Errorf("event %d: %s", i, e)
		}
	}
	// The upstream's one write may reach the gateway in a few reads; a
	// flush per event would be n+1.
	if got := flushes.Load(); got > 3 {
		t.Errorf("%d flushes for %d events that arrived together, want at most 3", got, n+1)
	}
}

// An event is never held back while the gateway waits for the upstream:
// the complete events that arrived are flushed before it reads on, even
// when the start of the next event came with them.
func TestStreamEventsFlushedBeforeWaitingForUpstream(t *testing.T) {
	release := make(chan struct{})
	up := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.StartSSE(w)
		_, _ = w.Write([]byte(chunkEvent("one") + chunkEvent("two") + `data: {"id":"c","object":"chat.comp`))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write([]byte(`letion.chunk","created":1,"model":"janhq/Jan-v1-4B","choices":[{"index":0,"delta":{"content":"three"},"finish_reason":null}]}` + "\n\n" + "data: [DONE]\n\n"))
	}))
	url, _ := countingGateway(t, up.URL)
	resp := postStream(t, url)

	got := make(chan []string, 1)
	go func() {
		br := bufio.NewReader(resp.Body)
		var lines []string
		for len(lines) < 2 {
			line, err := br.ReadString('\n')
			if err != nil {
				break
			}
			if strings.HasPrefix(line, "data: ") {
				lines = append(lines, line)
			}
		}
		got <- lines
	}()
	select {
	case lines := <-got:
		if len(lines) != 2 || !strings.Contains(lines[0], `"content":"one"`) || !strings.Contains(lines[1], `"content":"two"`) {
			t.Errorf("first events %q", lines)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the events that had arrived were held back while the upstream was silent")
	}
	close(release)
}
