package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
	"github.com/caddy-llm/gateway/store/storetest"
)

// Reloads while streams run: one that keeps the writer's settings (same
// writer, same buffer) and one that changes them (a new writer; the old one
// is flushed once its streams are done). Every request is recorded exactly
// once, with the upstream's usage.
func TestUsageRecordsSurviveReload(t *testing.T) {
	reply := strings.TrimSpace(strings.Repeat("word ", 20))
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: reply, ChunkDelay: 15 * time.Millisecond})
	dsn := storetest.NewPostgresDatabase(t)
	port := freePort(t)
	config := func(flush, price string) string {
		return testCaddyfile(t, siteOptions{
			Port: port,
			LLM: fmt.Sprintf(`database_url %s
		provider up openai {
			base_url %s/v1
		}
		model m {
			deployment up
		}
		usage {
			flush_interval %s
			price m %s 0
		}`, dsn, up.URL, flush, price),
			Routes: "llm_auth",
		})
	}
	g := startGateway(t, port, config("300ms", "1"))
	st := usageStore(t, dsn)
	token := guestToken(t, g)
	userID := me(t, g, token)

	var wg sync.WaitGroup
	streams := func(n int) {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				events := rawStreamNoFail(g, token, `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
				if len(events) == 0 || events[len(events)-1] != "[DONE]" {
					t.Errorf("a stream across the reload ended with %v", events)
				}
			}()
		}
	}
	streams(10)
	time.Sleep(50 * time.Millisecond)
	loadConfig(t, config("300ms", "2")) // same writer, new prices
	streams(10)
	time.Sleep(50 * time.Millisecond)
	loadConfig(t, config("100ms", "2")) // a new writer
	streams(10)
	wg.Wait()
	for range 5 {
		if r := g.do("POST", "/v1/chat/completions", map[string]any{"model": "m", "messages": []map[string]any{{"role": "user", "content": "hi"}}},
			bearerHeader(token)...); r.Status != http.StatusOK {
			t.Fatalf("after the reloads = %d %s", r.Status, r.Body)
		}
	}
	recs := waitRecords(t, st, userID, 35)
	time.Sleep(500 * time.Millisecond) // a record written twice would show up by now
	recs = waitRecords(t, st, userID, 35)
	for _, r := range recs {
		if r.PromptTokens != 3 || r.CompletionTokens != 20 || r.Incomplete || r.Estimated {
			t.Errorf("record %+v, want 3+20 tokens from the upstream", r)
		}
	}
}
