package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
	"github.com/caddy-llm/gateway/store/storetest"
)

// Token limits through Caddy on Redis: a request reserves its prompt
// estimate plus max_tokens, so one that does not fit beside a stream in
// flight is refused with OpenAI's 429 and headers (the SDK sees a typed
// 429), and once the stream settles to its real usage the room is back.
func TestTokenLimitThroughCaddy(t *testing.T) {
	reply := "one two three four five"
	fast := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: reply})
	started := make(chan struct{}, 1)
	slow := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: reply, ChunkDelay: 100 * time.Millisecond,
		BeforeChunk: func(i int) bool {
			if i == 0 {
				started <- struct{}{}
			}
			return true
		}})
	e := startAuthGateway(t, authOptions{LLM: fmt.Sprintf(`redis_url %s
		provider fast openai {
			base_url %s/v1
		}
		provider slow openai {
			base_url %s/v1
		}
		model m-fast {
			deployment fast
		}
		model m-slow {
			deployment slow
		}
		usage {
			flush_interval 50ms
			tokens user 1000/min 100000/day
		}`, storetest.RedisURL(), fast.URL, slow.URL),
		Routes: "llm_rate_limit /v1/chat/completions {\n\t\t\tuser 1000/min\n\t\t}"})
	alice := e.oidc.token("alice-" + storetest.RandomName(""))
	chat := func(model string, maxTokens int) response {
		return e.do("POST", "/v1/chat/completions", map[string]any{
			"model": model, "max_tokens": maxTokens, "messages": []map[string]any{{"role": "user", "content": "hi"}},
		}, bearerHeader(alice)...)
	}

	r := chat("m-fast", 600)
	if r.Status != http.StatusOK {
		t.Fatalf("first request = %d %s", r.Status, r.Body)
	}
	if r.Header.Get("X-Ratelimit-Limit-Tokens") != "1000" || r.Header.Get("X-Ratelimit-Remaining-Tokens") == "" || r.Header.Get("X-Ratelimit-Reset-Tokens") == "" {
		t.Fatalf("token headers of an admitted request: %v", r.Header)
	}
	// The request limit under OpenAI's names too.
	if r.Header.Get("X-Ratelimit-Limit-Requests") != "1000" || r.Header.Get("X-Ratelimit-Remaining-Requests") != "999" || r.Header.Get("X-Ratelimit-Reset-Requests") == "" {
		t.Fatalf("request-limit headers: %v", r.Header)
	}
	// It reserved about 600 and settled to 3+5: nearly all is back. (The
	// settlement follows the answer by microseconds: give it a moment.)
	time.Sleep(50 * time.Millisecond)
	r = chat("m-fast", 600)
	remaining, _ := strconv.Atoi(r.Header.Get("X-Ratelimit-Remaining-Tokens"))
	if r.Status != http.StatusOK || remaining < 350 || remaining > 400 {
		t.Fatalf("second request = %d, %d tokens remaining; want 200 with about 1000-8-600", r.Status, remaining)
	}

	// A stream holding 600 in flight leaves no room for another 600.
	done := make(chan []string)
	go func() {
		done <- rawStreamNoFail(e.gateway, alice, `{"model":"m-slow","stream":true,"max_tokens":600,"messages":[{"role":"user","content":"hi"}]}`)
	}()
	<-started // the upstream was called: the stream's reservation is in Redis
	r = chat("m-fast", 600)
	wantError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded")
	if r.Header.Get("X-Ratelimit-Limit-Tokens") != "1000" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("refusal headers: %v", r.Header)
	}
	if rem, _ := strconv.Atoi(r.Header.Get("X-Ratelimit-Remaining-Tokens")); rem >= 600 {
		t.Fatalf("refused with %d tokens remaining", rem)
	}
	client := oa.NewClient(option.WithBaseURL(e.base+"/v1/"), option.WithAPIKey(alice), option.WithMaxRetries(0))
	_, err := client.Chat.Completions.New(context.Background(), oa.ChatCompletionNewParams{
		Model: "m-fast", MaxTokens: oa.Int(600), Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("hi")},
	})
	wantSDKError(t, err, http.StatusTooManyRequests, "rate_limit_exceeded")

	events := <-done
	if len(events) == 0 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("the stream in flight ended with %v", events)
	}
	// Settled: the room is back.
	time.Sleep(50 * time.Millisecond)
	if r := chat("m-fast", 600); r.Status != http.StatusOK {
		t.Fatalf("after the stream settled = %d %s", r.Status, r.Body)
	}
	// More than the bucket holds is refused at once, whatever the wait.
	r = chat("m-fast", 5000)
	if e := wantError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded"); !strings.Contains(e["message"].(string), "too large") {
		t.Fatalf("a request larger than the limit: %v", e)
	}
	// Another user has buckets of their own.
	bob := e.oidc.token("bob-" + storetest.RandomName(""))
	if r := e.do("POST", "/v1/chat/completions", map[string]any{
		"model": "m-fast", "max_tokens": 900, "messages": []map[string]any{{"role": "user", "content": "hi"}},
	}, bearerHeader(bob)...); r.Status != http.StatusOK {
		t.Fatalf("another user = %d %s", r.Status, r.Body)
	}
}

// rawStreamNoFail reads a whole stream from another goroutine (no t.Fatal
// there); nil on failure.
func rawStreamNoFail(g *gateway, credential, body string) []string {
	req, _ := http.NewRequest("POST", g.base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+credential)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var events []string
	buf := make([]byte, 64<<10)
	var all strings.Builder
	for {
		n, err := resp.Body.Read(buf)
		all.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, line := range strings.Split(all.String(), "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			events = append(events, data)
		}
	}
	return events
}
