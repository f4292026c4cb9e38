package chat_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/models"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/anthropic"
	"github.com/caddy-llm/gateway/handlers/provider/mock"
	provopenai "github.com/caddy-llm/gateway/handlers/provider/openai"
)

const testToken = "test-token"

// gateway is the chat and models handlers behind a stand-in for the auth
// handler, on loopback, with an SDK client.
type gateway struct {
	*httptest.Server
	router   *provider.Router
	client   oa.Client
	observed *observer
}

func newGateway(t *testing.T, providers []provider.Provider, cfg provider.RouterConfig, tune ...func(*chat.Handler)) *gateway {
	t.Helper()
	router, err := provider.NewRouter(providers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	obs := &observer{}
	h := &chat.Handler{Router: router, Observer: obs}
	for _, f := range tune {
		f(h)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	(&models.Handler{Router: router}).Register(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+testToken {
			r = r.WithContext(principal.With(r.Context(), &principal.Principal{UserID: 1, UserPublicID: "usr_1", Kind: principal.KindUser, Method: principal.MethodJWT}))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &gateway{
		Server:   srv,
		router:   router,
		client:   oa.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey(testToken), option.WithMaxRetries(0)),
		observed: obs,
	}
}

// openAIProvider is an OpenAI-compatible provider for baseURL serving
// jan-v1-4b under the upstream name "janhq/Jan-v1-4B".
func openAIProvider(t testing.TB, id, baseURL string, tune ...func(*provopenai.Config)) provider.Provider {
	t.Helper()
	cfg := provopenai.Config{ID: id, BaseURL: baseURL, APIKey: "sk-upstream-secret", ModelMap: map[string]string{"jan-v1-4b": "janhq/Jan-v1-4B"}}
	for _, f := range tune {
		f(&cfg)
	}
	p, err := provopenai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newAnthropicProvider(t *testing.T, baseURL string) provider.Provider {
	t.Helper()
	p, err := anthropic.New(anthropic.Config{ID: "anthropic", BaseURL: baseURL, APIKey: "sk-ant-secret", ModelMap: map[string]string{"claude": "claude-sonnet-4-5"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func mockProvider(t *testing.T, cfg mock.Config) provider.Provider {
	t.Helper()
	p, err := mock.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// observer records the outcomes the handler reports.
type observer struct {
	mu         sync.Mutex
	firstBytes []chat.Outcome
	done       []chat.Outcome
}

func (o *observer) FirstByte(r *http.Request, out *chat.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.firstBytes = append(o.firstBytes, *out)
}

func (o *observer) Done(r *http.Request, out *chat.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done = append(o.done, *out)
}

// last waits for the handler to report the end of a request (it does so
// after the client may already have its answer) and returns its outcome.
func (o *observer) last(t *testing.T) chat.Outcome {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		o.mu.Lock()
		n := len(o.done)
		var out chat.Outcome
		if n > 0 {
			out = o.done[n-1]
		}
		o.mu.Unlock()
		if n > 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatal("no outcome observed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
