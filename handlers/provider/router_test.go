package provider

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/caddy-llm/gateway/handlers/openai"
)

// fakeProvider answers from a script: each call takes the next error of
// fails (nil means success), then succeeds.
type fakeProvider struct {
	id     string
	models []ModelSpec

	mu       sync.Mutex
	fails    []error
	calls    int
	upstream []string // upstream model of each call

	discover    func(ctx context.Context) ([]ModelSpec, error)
	streamFirst error // error of the stream's first Next
}

func (f *fakeProvider) Info() Info { return Info{ID: f.id, Name: "Fake " + f.id, Kind: "fake"} }

func (f *fakeProvider) Models() []ModelSpec { return f.models }

func (f *fakeProvider) next(req *Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.upstream = append(f.upstream, req.UpstreamModel)
	if len(f.fails) == 0 {
		return nil
	}
	err := f.fails[0]
	f.fails = f.fails[1:]
	return err
}

func (f *fakeProvider) ChatCompletion(ctx context.Context, req *Request) (*Completion, error) {
	if err := f.next(req); err != nil {
		return nil, err
	}
	return &Completion{Body: []byte(`{"from":"` + f.id + `"}`)}, nil
}

func (f *fakeProvider) ChatCompletionStream(ctx context.Context, req *Request) (Stream, error) {
	if err := f.next(req); err != nil {
		return nil, err
	}
	return &fakeStream{first: f.streamFirst, id: f.id}, nil
}

func (f *fakeProvider) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

type fakeStream struct {
	first  error
	id     string
	n      int
	closed bool
}

func (s *fakeStream) Next() (Chunk, error) {
	s.n++
	switch {
	case s.n == 1 && s.first != nil:
		return Chunk{}, s.first
	case s.n <= 2:
		return Chunk{Data: []byte(`{"from":"` + s.id + `"}`)}, nil
	}
	return Chunk{}, io.EOF
}

func (s *fakeStream) Close() error { s.closed = true; return nil }

type fakeDiscoverer struct {
	*fakeProvider
}

func (f fakeDiscoverer) DiscoverModels(ctx context.Context) ([]ModelSpec, error) {
	return f.discover(ctx)
}

func newRequest(t *testing.T, r *Router, model string) *Request {
	t.Helper()
	m, ok := r.Model(model)
	if !ok {
		t.Fatalf("model %q not routed", model)
	}
	return &Request{Model: m, Chat: &openai.ChatRequest{Model: model}}
}

func TestRouterTable(t *testing.T) {
	vllm := &fakeProvider{id: "vllm", models: []ModelSpec{
		{ID: "jan-v1-4b", UpstreamID: "janhq/Jan-v1-4B", ContextLength: 8192, Capabilities: Capabilities{Streaming: true}},
		{ID: "shared"},
	}}
	other := &fakeProvider{id: "other", models: []ModelSpec{{ID: "shared"}, {ID: "only-other", OwnedBy: "acme"}}}
	yes := true
	r, err := NewRouter([]Provider{vllm, other}, RouterConfig{Models: []ModelConfig{
		{ID: "jan-v1-4b", MaxOutputTokens: 2048, Vision: &yes, OwnedBy: "jan"},
		{ID: "pinned", Deployments: []DeploymentConfig{{Provider: "other", Model: "big-model"}}},
		{ID: "only-other", Deployments: []DeploymentConfig{{Provider: "vllm"}}},
		{ID: "no-provider-serves-it", ContextLength: 10},
	}})
	if err != nil {
		t.Fatal(err)
	}

	var ids []string
	for _, m := range r.Models() {
		ids = append(ids, m.ID)
	}
	if want := []string{"jan-v1-4b", "only-other", "pinned", "shared"}; !equal(ids, want) {
		t.Errorf("models = %v, want %v", ids, want)
	}
	m, _ := r.Model("jan-v1-4b")
	if m.ContextLength != 8192 || m.MaxOutputTokens != 2048 || !m.Capabilities.Vision || !m.Capabilities.Streaming || m.OwnedBy != "jan" {
		t.Errorf("overrides not applied: %+v", m)
	}
	if got := m.Deployments(); len(got) != 1 || got[0] != (DeploymentInfo{"vllm", "janhq/Jan-v1-4B"}) {
		t.Errorf("deployments = %v", got)
	}
	shared, _ := r.Model("shared")
	if got := shared.Deployments(); len(got) != 2 {
		t.Errorf("shared deployments = %v, want one per provider", got)
	}
	pinned, _ := r.Model("pinned")
	if got := pinned.Deployments(); len(got) != 1 || got[0] != (DeploymentInfo{"other", "big-model"}) {
		t.Errorf("pinned deployments = %v", got)
	}
	oo, _ := r.Model("only-other")
	if got := oo.Deployments(); len(got) != 1 || got[0] != (DeploymentInfo{"vllm", "only-other"}) {
		t.Errorf("explicit deployments must replace declared ones: %v", got)
	}
	if oo.OwnedBy != "acme" {
		t.Errorf("owned_by = %q", oo.OwnedBy)
	}
	counts := map[string]int{}
	for _, p := range r.Providers() {
		counts[p.Info.ID] = p.Models
	}
	if counts["vllm"] != 3 || counts["other"] != 2 {
		t.Errorf("provider counts = %v", counts)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNewRouterRejectsBadConfig(t *testing.T) {
	p := &fakeProvider{id: "p"}
	tests := []struct {
		name      string
		providers []Provider
		cfg       RouterConfig
	}{
		{"duplicate provider", []Provider{p, &fakeProvider{id: "p"}}, RouterConfig{}},
		{"unknown provider", []Provider{p}, RouterConfig{Models: []ModelConfig{{ID: "m", Deployments: []DeploymentConfig{{Provider: "nope"}}}}}},
		{"duplicate model", []Provider{p}, RouterConfig{Models: []ModelConfig{{ID: "m"}, {ID: "m"}}}},
		{"model without id", []Provider{p}, RouterConfig{Models: []ModelConfig{{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewRouter(tt.providers, tt.cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestRouterBalancesDeployments(t *testing.T) {
	a := &fakeProvider{id: "a", models: []ModelSpec{{ID: "m"}}}
	b := &fakeProvider{id: "b", models: []ModelSpec{{ID: "m"}}}
	r, _ := NewRouter([]Provider{a, b}, RouterConfig{})
	for range 10 {
		if _, _, err := r.ChatCompletion(context.Background(), newRequest(t, r, "m")); err != nil {
			t.Fatal(err)
		}
	}
	if a.callCount() != 5 || b.callCount() != 5 {
		t.Errorf("calls a=%d b=%d, want 5 each", a.callCount(), b.callCount())
	}
}

func TestRouterFailover(t *testing.T) {
	refused := &Error{Kind: KindConnect, Err: errors.New("connection refused")}
	unavailable := &Error{Kind: KindServer, Status: 503}
	limited := func(d time.Duration) *Error { return &Error{Kind: KindRateLimited, Status: 429, RetryAfter: d} }
	tests := []struct {
		name       string
		failsA     []error
		failsB     []error
		wantErr    Kind
		wantOK     bool
		wantFrom   string
		wantTries  int
		retryAfter time.Duration
	}{
		{name: "first refuses", failsA: []error{refused}, wantOK: true, wantFrom: "b", wantTries: 2},
		{name: "first 503", failsA: []error{unavailable}, wantOK: true, wantFrom: "b", wantTries: 2},
		{name: "first 429", failsA: []error{limited(time.Second)}, wantOK: true, wantFrom: "b", wantTries: 2},
		{name: "all 429", failsA: []error{limited(3 * time.Second)}, failsB: []error{limited(2 * time.Second)}, wantErr: KindRateLimited, wantTries: 2, retryAfter: 2 * time.Second},
		{name: "429 then 503", failsA: []error{limited(time.Second)}, failsB: []error{unavailable}, wantErr: KindServer, wantTries: 2},
		{name: "bad request is not retried", failsA: []error{&Error{Kind: KindBadRequest, Status: 400}}, wantErr: KindBadRequest, wantTries: 1},
		{name: "timeout on both", failsA: []error{&Error{Kind: KindTimeout}}, failsB: []error{&Error{Kind: KindTimeout}}, wantErr: KindTimeout, wantTries: 2},
	}
	for _, stream := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if stream {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				a := &fakeProvider{id: "a", fails: tt.failsA}
				b := &fakeProvider{id: "b", fails: tt.failsB}
				r, _ := NewRouter([]Provider{a, b}, RouterConfig{Models: []ModelConfig{{ID: "m", Deployments: []DeploymentConfig{{Provider: "a"}, {Provider: "b"}}}}})
				req := newRequest(t, r, "m")
				var (
					att Attempt
					err error
				)
				if stream {
					var s Stream
					s, att, err = r.ChatCompletionStream(context.Background(), req)
					if err == nil {
						c, _ := s.Next()
						if got := string(c.Data); got != `{"from":"`+tt.wantFrom+`"}` {
							t.Errorf("first chunk %s, want one from %s", got, tt.wantFrom)
						}
						s.Close()
					}
				} else {
					var c *Completion
					c, att, err = r.ChatCompletion(context.Background(), req)
					if err == nil && string(c.Body) != `{"from":"`+tt.wantFrom+`"}` {
						t.Errorf("answer %s, want one from %s", c.Body, tt.wantFrom)
					}
				}
				if att.Tries != tt.wantTries {
					t.Errorf("tries = %d, want %d", att.Tries, tt.wantTries)
				}
				if tt.wantOK {
					if err != nil || att.Provider != tt.wantFrom {
						t.Fatalf("err %v, provider %q", err, att.Provider)
					}
					return
				}
				var pe *Error
				if !errors.As(err, &pe) || pe.Kind != tt.wantErr {
					t.Fatalf("err = %v, want kind %v", err, tt.wantErr)
				}
				if pe.RetryAfter != tt.retryAfter {
					t.Errorf("retry after = %v, want %v", pe.RetryAfter, tt.retryAfter)
				}
			})
		}
	}
}

func TestRouterStreamFailsOverWhenFirstEventFails(t *testing.T) {
	a := &fakeProvider{id: "a", streamFirst: &Error{Kind: KindServer, Err: errors.New("cut before the first event")}}
	b := &fakeProvider{id: "b"}
	r, _ := NewRouter([]Provider{a, b}, RouterConfig{Models: []ModelConfig{{ID: "m", Deployments: []DeploymentConfig{{Provider: "a"}, {Provider: "b"}}}}})
	s, att, err := r.ChatCompletionStream(context.Background(), newRequest(t, r, "m"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if att.Provider != "b" || att.Tries != 2 {
		t.Errorf("attempt = %+v, want b after 2 tries", att)
	}
}

func TestRouterCooldown(t *testing.T) {
	down := &Error{Kind: KindConnect}
	a := &fakeProvider{id: "a", fails: []error{down, down, down}}
	b := &fakeProvider{id: "b"}
	r, _ := NewRouter([]Provider{a, b}, RouterConfig{
		FailureThreshold: 2,
		Cooldown:         time.Hour,
		Models:           []ModelConfig{{ID: "m", Deployments: []DeploymentConfig{{Provider: "a"}, {Provider: "b"}}}},
	})
	// Round-robin starts at a, then b, then a: a fails twice and cools down.
	for range 3 {
		if _, _, err := r.ChatCompletion(context.Background(), newRequest(t, r, "m")); err != nil {
			t.Fatal(err)
		}
	}
	if a.callCount() != 2 {
		t.Fatalf("a called %d times before cooling down, want 2", a.callCount())
	}
	for range 4 {
		if _, att, err := r.ChatCompletion(context.Background(), newRequest(t, r, "m")); err != nil || att.Provider != "b" || att.Tries != 1 {
			t.Fatalf("attempt %+v err %v: a cooling down must not be tried first", att, err)
		}
	}
	if a.callCount() != 2 {
		t.Errorf("a was called while cooling down")
	}
	// Cooling deployments are still tried when every other one fails.
	a.mu.Lock()
	a.fails = nil
	a.mu.Unlock()
	b.mu.Lock()
	b.fails = []error{down}
	b.mu.Unlock()
	if _, att, err := r.ChatCompletion(context.Background(), newRequest(t, r, "m")); err != nil || att.Provider != "a" {
		t.Errorf("attempt %+v err %v: want a as the last resort", att, err)
	}
}

func TestRouterRateLimitCoolsDownForRetryAfter(t *testing.T) {
	a := &fakeProvider{id: "a", fails: []error{&Error{Kind: KindRateLimited, RetryAfter: time.Hour}}}
	b := &fakeProvider{id: "b"}
	r, _ := NewRouter([]Provider{a, b}, RouterConfig{MaxCooldown: time.Hour, Models: []ModelConfig{{ID: "m", Deployments: []DeploymentConfig{{Provider: "a"}, {Provider: "b"}}}}})
	for range 4 {
		if _, _, err := r.ChatCompletion(context.Background(), newRequest(t, r, "m")); err != nil {
			t.Fatal(err)
		}
	}
	if a.callCount() != 1 {
		t.Errorf("a called %d times, want 1: its Retry-After must keep it aside", a.callCount())
	}
}

func TestRouterCanceledIsNotRetried(t *testing.T) {
	a := &fakeProvider{id: "a", fails: []error{context.Canceled}}
	b := &fakeProvider{id: "b"}
	r, _ := NewRouter([]Provider{a, b}, RouterConfig{Models: []ModelConfig{{ID: "m", Deployments: []DeploymentConfig{{Provider: "a"}, {Provider: "b"}}}}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := r.ChatCompletion(ctx, newRequest(t, r, "m"))
	var pe *Error
	if !errors.As(err, &pe) || pe.Kind != KindCanceled {
		t.Fatalf("err = %v, want canceled", err)
	}
	if b.callCount() != 0 {
		t.Error("a cancelled request was retried")
	}
}

func TestRouterDiscovery(t *testing.T) {
	var round atomic.Int32
	vllm := fakeDiscoverer{&fakeProvider{id: "vllm", models: []ModelSpec{{ID: "static"}}}}
	vllm.discover = func(ctx context.Context) ([]ModelSpec, error) {
		switch round.Add(1) {
		case 1:
			return []ModelSpec{{ID: "a"}, {ID: "b"}}, nil
		case 2:
			return nil, errors.New("upstream down")
		}
		return []ModelSpec{{ID: "b"}}, nil
	}
	r, err := NewRouter([]Provider{vllm}, RouterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ids := func() []string {
		var out []string
		for _, m := range r.Models() {
			out = append(out, m.ID)
		}
		return out
	}
	if got := ids(); !equal(got, []string{"static"}) {
		t.Fatalf("before discovery: %v", got)
	}
	old, _ := r.Model("static")
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ids(); !equal(got, []string{"a", "b"}) {
		t.Fatalf("after discovery: %v", got)
	}
	if old.ID != "static" || len(old.Deployments()) != 1 {
		t.Error("a published model changed after a new table was published")
	}
	if err := r.Refresh(context.Background()); err == nil {
		t.Fatal("a failed discovery reported no error")
	}
	if got := ids(); !equal(got, []string{"a", "b"}) {
		t.Fatalf("a failed discovery changed the table: %v", got)
	}
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ids(); !equal(got, []string{"b"}) {
		t.Fatalf("after rediscovery: %v", got)
	}
}

func TestRouterRunStopsWithContext(t *testing.T) {
	calls := make(chan struct{}, 100)
	p := fakeDiscoverer{&fakeProvider{id: "p"}}
	p.discover = func(ctx context.Context) ([]ModelSpec, error) {
		calls <- struct{}{}
		return []ModelSpec{{ID: "m"}}, nil
	}
	r, _ := NewRouter([]Provider{p}, RouterConfig{DiscoveryInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Run(ctx)
		close(done)
	}()
	for range 2 {
		select {
		case <-calls:
		case <-time.After(5 * time.Second):
			t.Fatal("discovery did not run periodically")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
	if _, ok := r.Model("m"); !ok {
		t.Error("discovered model not routed")
	}
}

// TestRouterConcurrentSwap runs requests while discovery swaps tables; run
// with -race.
func TestRouterConcurrentSwap(t *testing.T) {
	p := fakeDiscoverer{&fakeProvider{id: "p", models: []ModelSpec{{ID: "m"}}}}
	p.discover = func(ctx context.Context) ([]ModelSpec, error) { return []ModelSpec{{ID: "m"}, {ID: "n"}}, nil }
	r, _ := NewRouter([]Provider{p}, RouterConfig{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				m, ok := r.Model("m")
				if !ok {
					t.Error("model m vanished during a swap")
					return
				}
				if _, _, err := r.ChatCompletion(context.Background(), &Request{Model: m, Chat: &openai.ChatRequest{}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 50 {
		_ = r.Refresh(context.Background())
	}
	wg.Wait()
}

func TestErrorFromStatus(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		kind       Kind
		client     int
		message    string
		code       string
		retryAfter time.Duration
	}{
		{name: "openai 400", status: 400, body: `{"error":{"message":"This model's maximum context length is 8192 tokens (model Qwen/Qwen3-4B)","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
			kind: KindBadRequest, client: 400, message: "This model's maximum context length is 8192 tokens (model jan-v1-4b)", code: "context_length_exceeded"},
		{name: "vllm 400", status: 400, body: `{"object":"error","message":"temperature must be positive","type":"BadRequestError","param":null,"code":400}`,
			kind: KindBadRequest, client: 400, message: "temperature must be positive", code: "invalid_request"},
		{name: "key in message", status: 400, body: `{"error":{"message":"Incorrect API key provided: sk-proj-abcdefghijklmnop1234 for https://user:pw@api.example.com/v1?key=zzz"}}`,
			kind: KindBadRequest, client: 400, message: "Incorrect API key provided: [redacted] for https://api.example.com/v1", code: "invalid_request"},
		{name: "401 hides everything", status: 401, body: `{"error":{"message":"Incorrect API key provided: sk-live-secret"}}`, kind: KindAuth, client: 502},
		{name: "403", status: 403, kind: KindAuth, client: 502},
		{name: "404", status: 404, kind: KindNotFound, client: 502},
		{name: "429 seconds", status: 429, header: http.Header{"Retry-After": {"7"}}, kind: KindRateLimited, client: 429, retryAfter: 7 * time.Second},
		{name: "429 ms", status: 429, header: http.Header{"Retry-After-Ms": {"1500"}}, kind: KindRateLimited, client: 429, retryAfter: 1500 * time.Millisecond},
		{name: "500", status: 500, body: `{"error":{"message":"secret internals"}}`, kind: KindServer, client: 502},
		{name: "529 overloaded", status: 529, kind: KindServer, client: 502},
		{name: "504", status: 504, kind: KindTimeout, client: 504},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			e := ErrorFromStatus(tt.status, h, []byte(tt.body), "Qwen/Qwen3-4B", "jan-v1-4b")
			if e.Kind != tt.kind || e.RetryAfter != tt.retryAfter {
				t.Errorf("kind %v retry %v, want %v %v", e.Kind, e.RetryAfter, tt.kind, tt.retryAfter)
			}
			ae := e.APIError()
			if ae.Status != tt.client {
				t.Errorf("client status %d, want %d", ae.Status, tt.client)
			}
			if tt.message != "" && ae.Message != tt.message {
				t.Errorf("message %q\nwant    %q", ae.Message, tt.message)
			}
			if tt.code != "" && ae.Code != tt.code {
				t.Errorf("code %q, want %q", ae.Code, tt.code)
			}
			if tt.kind != KindBadRequest && tt.body != "" && (strings.Contains(ae.Message, "secret") || strings.Contains(ae.Message, "sk-")) {
				t.Errorf("upstream body leaked: %q", ae.Message)
			}
		})
	}
}

func TestSanitizeMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain message", "plain message"},
		{"Bearer abc.def.ghi was rejected", "[redacted] was rejected"},
		{"token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc here", "token [redacted] here"},
		{"key sk-ant-api03-AAAAAAAAAAAAAAAA end", "key [redacted] end"},
		{"opaque 0123456789abcdef0123456789abcdef0123 end", "opaque [redacted] end"},
		{"maximum_context_length_is_exceeded_for_this_request stays", "maximum_context_length_is_exceeded_for_this_request stays"},
		{"token_limit_exceeded stays, sk_live_4eC39HqLyjWDarjtT1zdp7dc goes", "token_limit_exceeded stays, [redacted] goes"},
		{"line\nbreak\x00", "line break"},
	}
	for _, tt := range tests {
		if got := SanitizeMessage(tt.in); got != tt.want {
			t.Errorf("SanitizeMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := SanitizeMessage(strings.Repeat("word ", 200))
	if len(long) > maxMessageLen+len("…") {
		t.Errorf("not truncated: %d bytes", len(long))
	}
}

// TestWatchdog runs on synctest's fake clock: the timeouts fire exactly when
// due, whatever the machine's load.
func TestWatchdog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		ctx, wd := NewWatchdog(context.Background(), 20*time.Millisecond)
		<-ctx.Done()
		if !errors.Is(context.Cause(ctx), ErrFirstByteTimeout) {
			t.Errorf("cause = %v, want first-byte timeout", context.Cause(ctx))
		}
		if waited := time.Since(start); waited != 20*time.Millisecond {
			t.Errorf("first-byte timeout fired after %v, want 20ms", waited)
		}
		wd.Stop()

		ctx, wd = NewWatchdog(context.Background(), time.Hour)
		wd.Kick(20 * time.Millisecond)
		for range 5 {
			time.Sleep(19 * time.Millisecond)
			wd.Kick(20 * time.Millisecond) // progressing: never fires
		}
		if ctx.Err() != nil {
			t.Fatal("watchdog fired while the stream progressed")
		}
		lastKick := time.Now()
		<-ctx.Done()
		if !errors.Is(context.Cause(ctx), ErrIdleTimeout) {
			t.Errorf("cause = %v, want idle timeout", context.Cause(ctx))
		}
		if silent := time.Since(lastKick); silent != 20*time.Millisecond {
			t.Errorf("idle timeout fired after %v of silence, want 20ms", silent)
		}
		wd.Stop()

		// An idle timeout of 0 disarms the watchdog once the stream started.
		ctx, wd = NewWatchdog(context.Background(), 20*time.Millisecond)
		wd.Kick(0)
		time.Sleep(time.Hour)
		if ctx.Err() != nil {
			t.Errorf("watchdog without idle timeout fired: %v", context.Cause(ctx))
		}
		wd.Stop()
	})
}
