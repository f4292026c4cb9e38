package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

// jan_… image references are resolved through MEDIA_RESOLVE_URL before the
// request goes upstream; requests without references never call it; an
// unresolvable reference is a 400 and never reaches the upstream.
func TestMediaReferencesThroughCaddy(t *testing.T) {
	var calls atomic.Int64
	resolver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var in struct {
			Payload struct {
				Messages json.RawMessage `json:"messages"`
			} `json:"payload"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || r.Header.Get("Authorization") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		msgs := string(in.Payload.Messages)
		if strings.Contains(msgs, "jan_unknown") {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		msgs = strings.ReplaceAll(msgs, "jan_01hqr8v9k2x3f4g5h6j7k8m9n0", "https://media.example/cat.png")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"payload":{"messages":%s}}`, msgs)
	}))
	defer resolver.Close()
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "a cat"})
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`media_resolve_url %s
		media_resolve_timeout 2s
		provider up openai {
			base_url %s/v1
		}
		model vision {
			deployment up
		}`, resolver.URL, up.URL),
		Routes: "llm_auth",
	}))
	auth := []string{"Authorization", "Bearer " + guestToken(t, g)}
	withImage := func(ref string) map[string]any {
		return map[string]any{"model": "vision", "messages": []map[string]any{{"role": "user", "content": []map[string]any{
			{"type": "text", "text": "What is this?"},
			{"type": "image_url", "image_url": map[string]any{"url": ref}},
		}}}}
	}

	if r := g.do("POST", "/v1/chat/completions", map[string]any{"model": "vision",
		"messages": []map[string]any{{"role": "user", "content": "no pictures"}}}, auth...); r.Status != http.StatusOK || calls.Load() != 0 {
		t.Fatalf("plain chat = %d, resolver called %d times", r.Status, calls.Load())
	}
	if r := g.do("POST", "/v1/chat/completions", withImage("jan_01hqr8v9k2x3f4g5h6j7k8m9n0"), auth...); r.Status != http.StatusOK {
		t.Fatalf("chat with a reference = %d %s", r.Status, r.Body)
	}
	sent := string(up.Last(t).Body)
	if calls.Load() != 1 || !strings.Contains(sent, "https://media.example/cat.png") || strings.Contains(sent, "jan_") {
		t.Fatalf("the upstream got %s after %d resolver calls", sent, calls.Load())
	}
	before := len(up.Requests())
	wantError(t, g.do("POST", "/v1/chat/completions", withImage("jan_unknown"), auth...), http.StatusBadRequest, "")
	if len(up.Requests()) != before {
		t.Fatal("a request with an unresolvable reference reached the upstream")
	}
}
