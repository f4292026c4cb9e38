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

// Two gateway processes on one PostgreSQL and one Redis: 200 concurrent
// streams across both are each recorded exactly once with the upstream's
// usage; a budget crossed through one replica refuses the next request on
// both.
func TestUsageAcrossTwoReplicas(t *testing.T) {
	reply := strings.TrimSpace(strings.Repeat("word ", 10))
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: reply, ChunkDelay: 5 * time.Millisecond})
	dsn := storetest.NewPostgresDatabase(t)
	rs := startRedis(t, 0)
	var gws []*gateway
	for range 2 {
		port := freePort(t)
		startProcess(t, testCaddyfile(t, siteOptions{
			Port: port,
			LLM: fmt.Sprintf(`database_url %s
		redis_url %s
		provider up openai {
			base_url %s/v1
		}
		model m {
			deployment up
		}
		usage {
			flush_interval 200ms
			budget user tokens 2650/day
		}`, dsn, rs.url(), up.URL),
			Routes: "llm_auth",
		}))
		gws = append(gws, &gateway{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port), client: &http.Client{Timeout: 30 * time.Second}})
	}
	for _, g := range gws {
		waitHTTP(t, g.base+"/v1/healthz", 90*time.Second)
	}
	a := gws[0]
	token := guestToken(t, a)
	userID := me(t, a, token)

	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			events := rawStreamNoFail(gws[i%2], token, `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
			if len(events) == 0 || events[len(events)-1] != "[DONE]" {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed > 0 {
		t.Fatalf("%d of 200 streams failed", failed)
	}
	st := usageStore(t, dsn)
	recs := waitRecords(t, st, userID, 200)
	time.Sleep(500 * time.Millisecond)
	recs = waitRecords(t, st, userID, 200)
	for _, r := range recs {
		if r.PromptTokens != 3 || r.CompletionTokens != 10 {
			t.Fatalf("record %+v, want the upstream's 3+10", r)
		}
	}

	// The user's budget of 2650 tokens a day: the 200 streams took 2600,
	// 13 a request; the fourth request from here crosses it, and the next
	// is refused on both replicas.
	chat := func(g *gateway) response {
		return g.do("POST", "/v1/chat/completions", map[string]any{"model": "m", "messages": []map[string]any{{"role": "user", "content": "hi"}}},
			bearerHeader(token)...)
	}
	for i := range 4 {
		if r := chat(gws[i%2]); r.Status != http.StatusOK {
			t.Fatalf("request %d under the budget = %d %s", i, r.Status, r.Body)
		}
	}
	time.Sleep(100 * time.Millisecond) // the last settlement follows its answer
	for _, g := range gws {
		wantError(t, chat(g), http.StatusTooManyRequests, "insufficient_quota")
	}
}
