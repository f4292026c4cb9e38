package media

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/caddy-llm/gateway/handlers/principal"
)

// withRef is a chat request with one media reference among fields whose
// exact bytes (spacing included) must survive resolution.
const withRef = `{ "model" : "jan-v2-30b",
  "messages": [
    {"role": "system", "content": "You describe images."},
    {"role": "user", "content": [
      {"type": "text", "text": "What is this?"},
      {"type": "image_url", "image_url": {"url": "jan_01hqr8v9k2x3f4g5h6j7k8m9n0", "detail": "low"}},
      {"type": "image_url", "image_url": {"url": "data:image/png;jan_01k9ycv6vz6gyb591axgsy9man"}}
    ]}
  ],
  "temperature":0.7,   "tools": [{"type":"function","function":{"name":"f"}}]
}`

const withoutRef = `{"model":"jan-v1-4b","messages":[{"role":"user","content":"who is jan_01hq?"}],"stream":true}`

// resolvedURL is what the fake media service puts in place of an id.
func resolvedURL(id string) string { return "https://media.example/" + id + ".png" }

// resolveAll answers like the media service: every reference replaced.
func resolveAll(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	messages := gjson.GetBytes(body, "payload.messages").Raw
	out := []byte(messages)
	gjson.Parse(messages).ForEach(func(mi, m gjson.Result) bool {
		m.Get("content").ForEach(func(pi, p gjson.Result) bool {
			if id, ok := Reference(p.Get("image_url.url").Str); ok {
				path := mi.String() + ".content." + pi.String() + ".image_url.url"
				out, _ = sjson.SetBytes(out, path, resolvedURL(id))
			}
			return true
		})
		return true
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"payload":{"messages":` + string(out) + `}}`))
}

// fakeMediaService is the media service on loopback; it counts its calls and
// keeps the last request.
type fakeMediaService struct {
	*httptest.Server
	calls   atomic.Int32
	lastReq atomic.Pointer[http.Request]
	lastRaw atomic.Pointer[[]byte]
}

func newFakeMediaService(t *testing.T, answer http.HandlerFunc) *fakeMediaService {
	t.Helper()
	f := &fakeMediaService{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		f.lastReq.Store(r.Clone(context.Background()))
		f.lastRaw.Store(&body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		answer(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// callerRequest is the client's request whose credentials are forwarded.
func callerRequest() (*http.Request, context.Context) {
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	r.Header.Set("Authorization", "Bearer caller-token")
	r.Header.Set("X-Principal-Id", "usr_spoofed") // a client header: never forwarded as such
	ctx := principal.With(context.Background(), &principal.Principal{UserID: 7, UserPublicID: "usr_7", Kind: principal.KindUser})
	return r, ctx
}

func TestResolveMessagesResolves(t *testing.T) {
	media := newFakeMediaService(t, resolveAll)
	res := &Resolver{URL: media.URL + "/v1/media/resolve"}
	r, ctx := callerRequest()

	out, changed, aerr := res.ResolveMessages(ctx, r, []byte(withRef))
	if aerr != nil || !changed {
		t.Fatalf("ResolveMessages: %+v, changed %v", aerr, changed)
	}
	if n := media.calls.Load(); n != 1 {
		t.Fatalf("media service called %d times, want 1", n)
	}

	// The media service got the caller's identity and the messages unchanged.
	req := media.lastReq.Load()
	if req.URL.Path != "/v1/media/resolve" || req.Method != http.MethodPost {
		t.Errorf("media service got %s %s", req.Method, req.URL.Path)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer caller-token" {
		t.Errorf("Authorization = %q, want the caller's", got)
	}
	if got := req.Header.Get("X-Principal-Id"); got != "usr_7" {
		t.Errorf("X-Principal-Id = %q, want the principal's id", got)
	}
	if got := req.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	sent := *media.lastRaw.Load()
	if got, want := gjson.GetBytes(sent, "payload.messages").Raw, gjson.Get(withRef, "messages").Raw; got != want {
		t.Errorf("payload.messages = %s, want the request's messages %s", got, want)
	}

	// The references are replaced...
	urls := gjson.GetBytes(out, "1.content.#.image_url.url").Array()
	if len(urls) != 2 || urls[0].Str != resolvedURL("jan_01hqr8v9k2x3f4g5h6j7k8m9n0") ||
		urls[1].Str != resolvedURL("jan_01k9ycv6vz6gyb591axgsy9man") {
		t.Fatalf("resolved urls = %v", urls)
	}
	// ...and nothing else: in place of the body's messages, they make the
	// resolved body, with every byte outside messages the client's.
	resolvedBody, err := sjson.SetRawBytes([]byte(withRef), "messages", out)
	if err != nil || HasReferences(resolvedBody) {
		t.Fatalf("the resolved messages still have references: %s (%v)", out, err)
	}
	restored, err := sjson.SetRawBytes(resolvedBody, "messages", []byte(gjson.Get(withRef, "messages").Raw))
	if err != nil || string(restored) != withRef {
		t.Fatalf("bytes outside messages changed:\n got %s\nwant %s", restored, withRef)
	}
}

func TestResolveMessagesWithoutReferencesNeverCallsTheService(t *testing.T) {
	media := newFakeMediaService(t, resolveAll)
	bodies := []string{
		withoutRef,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/jan_1.png"}}]}]}`,
		`{"model":"m","messages":[{"role":"user","content":"hello"}]}`,
	}
	resolvers := map[string]*Resolver{
		"configured": {URL: media.URL},
		"empty URL":  {},
		"nil":        nil,
	}
	r, ctx := callerRequest()
	for name, res := range resolvers {
		for i, body := range bodies {
			t.Run(name+"/"+strconv.Itoa(i), func(t *testing.T) {
				in := []byte(body)
				out, changed, aerr := res.ResolveMessages(ctx, r, in)
				if aerr != nil {
					t.Fatalf("ResolveMessages: %+v", aerr)
				}
				if changed || out != nil {
					t.Fatalf("messages %s returned (changed %v) for a body without references", out, changed)
				}
			})
		}
	}
	if n := media.calls.Load(); n != 0 {
		t.Fatalf("media service called %d times for bodies without references", n)
	}
}

func TestResolveMessagesFailures(t *testing.T) {
	tests := []struct {
		name       string
		answer     http.HandlerFunc // nil: no media service listening
		noURL      bool
		timeout    time.Duration
		wantStatus int
		wantCode   string
		wantInMsg  string
	}{
		{
			name:       "no media service configured",
			noURL:      true,
			wantStatus: http.StatusBadRequest, wantCode: "media_resolver_unavailable", wantInMsg: "MEDIA_RESOLVE_URL",
		},
		{
			name: "unknown id",
			answer: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, `{"error":"media not found"}`, http.StatusNotFound)
			},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_media_reference",
		},
		{
			name: "id left in place",
			answer: func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				_, _ = w.Write(body) // echoes the payload: nothing resolved
			},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_media_reference", wantInMsg: "jan_01hqr8v9k2x3f4g5h6j7k8m9n0",
		},
		{
			name: "slow",
			answer: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
			},
			timeout:    150 * time.Millisecond,
			wantStatus: http.StatusGatewayTimeout, wantCode: "media_resolver_timeout", wantInMsg: "150ms",
		},
		{
			name:       "caller refused",
			answer:     func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) },
			wantStatus: http.StatusForbidden, wantCode: "media_access_denied",
		},
		{
			name: "media service error",
			answer: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "db down: secret detail", http.StatusInternalServerError)
			},
			wantStatus: http.StatusBadGateway, wantCode: "media_resolver_error",
		},
		{
			name:       "answer without payload",
			answer:     func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"messages":[]}`)) },
			wantStatus: http.StatusBadGateway, wantCode: "media_resolver_error",
		},
		{
			name:       "answer not JSON",
			answer:     func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`<html>`)) },
			wantStatus: http.StatusBadGateway, wantCode: "media_resolver_error",
		},
		{
			name:       "unreachable",
			wantStatus: http.StatusBadGateway, wantCode: "media_resolver_unavailable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &Resolver{Timeout: tt.timeout}
			switch {
			case tt.noURL:
			case tt.answer == nil:
				closed := httptest.NewServer(http.NotFoundHandler())
				res.URL = closed.URL
				closed.Close()
			default:
				res.URL = newFakeMediaService(t, tt.answer).URL
			}
			r, ctx := callerRequest()
			start := time.Now()
			out, changed, aerr := res.ResolveMessages(ctx, r, []byte(withRef))
			if aerr == nil {
				t.Fatalf("ResolveMessages succeeded with %s; want an error", out)
			}
			if out != nil || changed {
				t.Fatal("messages were returned with the error")
			}
			if aerr.Status != tt.wantStatus || aerr.Code != tt.wantCode {
				t.Fatalf("error %d %q (%s), want %d %q", aerr.Status, aerr.Code, aerr.Message, tt.wantStatus, tt.wantCode)
			}
			if !strings.Contains(aerr.Message, tt.wantInMsg) {
				t.Fatalf("message %q does not mention %q", aerr.Message, tt.wantInMsg)
			}
			if strings.Contains(aerr.Message, "secret") {
				t.Fatalf("message %q leaks the media service's body", aerr.Message)
			}
			if tt.timeout > 0 && time.Since(start) > tt.timeout+2*time.Second {
				t.Fatalf("took %v with a %v timeout", time.Since(start), tt.timeout)
			}
		})
	}
}

func TestResolveMessagesCallerGone(t *testing.T) {
	started := make(chan struct{})
	media := newFakeMediaService(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	res := &Resolver{URL: media.URL, Timeout: time.Minute}
	r, ctx := callerRequest()
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		<-started
		cancel()
	}()
	_, _, aerr := res.ResolveMessages(ctx, r, []byte(withRef))
	if aerr == nil || aerr.Code != "request_canceled" {
		t.Fatalf("error %+v, want request_canceled", aerr)
	}
}
