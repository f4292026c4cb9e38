package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store/storetest"
)

// Two gateway processes sharing PostgreSQL and Redis serve one set of data:
// a conversation written through one is read, and continued, through the
// other with the same token.
func TestReplicasShareConversations(t *testing.T) {
	dsn := storetest.NewPostgresDatabase(t)
	rs := startRedis(t, 0)
	var gws []*gateway
	for range 2 {
		port := freePort(t)
		startProcess(t, testCaddyfile(t, siteOptions{
			Port:   port,
			LLM:    fmt.Sprintf("database_url %s\n\t\tredis_url %s", dsn, rs.url()),
			Routes: "llm_auth\n\t\tllm_rate_limit /v1/chat/completions {\n\t\t\tguest 100/min\n\t\t}",
		}))
		gws = append(gws, &gateway{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port), client: &http.Client{Timeout: 10 * time.Second}})
	}
	for _, g := range gws {
		waitHTTP(t, g.base+"/v1/healthz", 90*time.Second)
	}
	a, b := gws[0], gws[1]
	auth := []string{"Authorization", "Bearer " + guestToken(t, a)}

	r := a.do("POST", "/v1/conversations", map[string]any{
		"title": "written on A",
		"items": []map[string]any{{"type": "message", "role": "user", "content": "first message on replica A"}},
	}, auth...)
	if r.Status != http.StatusOK {
		t.Fatalf("creating on A = %d %s", r.Status, r.Body)
	}
	id, _ := r.JSON(t)["id"].(string)

	got := b.do("GET", "/v1/conversations/"+id, nil, auth...)
	if got.Status != http.StatusOK || got.JSON(t)["title"] != "written on A" {
		t.Fatalf("reading on B = %d %s", got.Status, got.Body)
	}
	if r := b.do("POST", "/v1/conversations/"+id+"/items", map[string]any{
		"items": []map[string]any{{"type": "message", "role": "user", "content": "second message on replica B"}},
	}, auth...); r.Status != http.StatusOK {
		t.Fatalf("appending on B = %d %s", r.Status, r.Body)
	}
	items := a.do("GET", "/v1/conversations/"+id+"/items?order=asc", nil, auth...).JSON(t)
	data, _ := items["data"].([]any)
	if len(data) != 2 {
		t.Fatalf("items read on A after B appended: %v", items)
	}
	// Chat works through either replica with the other's token.
	if r := b.do("POST", "/v1/chat/completions", map[string]any{
		"model": "jan-v1-4b", "max_tokens": 3, "messages": []map[string]any{{"role": "user", "content": "hello from B"}},
	}, auth...); r.Status != http.StatusOK {
		t.Fatalf("chat on B with A's token = %d %s", r.Status, r.Body)
	}
}
