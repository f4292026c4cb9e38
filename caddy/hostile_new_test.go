package main

// Hostile clients against the code of issues 14, 16 and 17 (the deferred
// per-IP limits, the Responses API, memory and embeddings), replayed
// through a real Caddy against real PostgreSQL and Redis and fake
// upstreams: bad input is a 4xx, never a 500 nor an ERROR log line, and a
// client over its limit gets nothing more than its 429.

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
	"github.com/caddy-llm/gateway/store/storetest"
)

// spendOnAnotherNode empties, in Redis, every bucket of the per-IP limits
// counting ip, as if the client had spent them on another replica: this
// node's copy of the buckets knows nothing of it.
func spendOnAnotherNode(t *testing.T, client *redis.Client, ip string) {
	t.Helper()
	ctx := context.Background()
	keys, err := client.Keys(ctx, "rate:*ip:"+ip).Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("no per-IP bucket of %s in Redis (%v): send a request first", ip, err)
	}
	// The buckets' theoretical arrival time, in redis_rate's seconds since
	// 2017-01-01, an hour from now: empty for the next hour.
	tat := float64(time.Now().Unix()-1483228800) + 3600
	for _, k := range keys {
		if err := client.Set(ctx, k, strconv.FormatFloat(tat, 'f', 6, 64), time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// A client over its per-IP limit on other replicas, which this node's copy
// of the buckets does not know about yet (the default Caddyfile defers the
// per-IP decision to llm_auth and llm_api, to decide it with the
// principal's in one round trip), is refused; and once Redis refused it,
// this node refuses it at once, before authentication: its guesses of API
// keys are not checked, and the 429 of a valid key looks like the 429 of a
// wrong one. Before the fix each request authenticated its credentials
// first, and the 429 of a valid key carried X-User-Id: an oracle for key
// guessing, unlimited by the per-IP limit.
func TestHostileDeferredLimitIsNoKeyOracle(t *testing.T) {
	rs := startRedis(t, 0)
	e := startDefaultWithOIDC(t, rs.url(), map[string]string{"DATABASE_URL": storetest.NewPostgresDatabase(t), "TRUSTED_PROXIES": "127.0.0.1/32"})
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rs.port)})
	t.Cleanup(func() { _ = client.Close() })
	from := forwardedFrom
	key, _ := e.createAPIKey(t, e.oidc.token("alice"), nil)["key"].(string)
	const attacker = "10.41.0.9"
	if r := e.do("GET", "/v1/models", nil, from(attacker, "X-API-Key", key)...); r.Status != http.StatusOK {
		t.Fatalf("a valid key under the limit: %d %s", r.Status, r.Body)
	}
	spendOnAnotherNode(t, client, attacker)

	// The first request after the other node spent the bucket reaches
	// Redis, which refuses it.
	wantError(t, e.do("GET", "/v1/models", nil, from(attacker, "X-API-Key", "sk_guess0")...), http.StatusTooManyRequests, "")
	for _, path := range []string{"/v1/models", "/v1/conversations", "/v1/responses/resp_x", "/v1/memories", "/v1/nowhere"} {
		valid := e.do("GET", path, nil, from(attacker, "X-API-Key", key)...)
		wrong := e.do("GET", path, nil, from(attacker, "X-API-Key", "sk_guess1")...)
		for _, r := range []response{valid, wrong} {
			wantError(t, r, http.StatusTooManyRequests, "")
			for _, h := range []string{"X-User-Id", "X-Principal-Id", "X-Auth-Method"} {
				if v := r.Header.Get(h); v != "" {
					t.Errorf("GET %s: the 429 of a client over its limit says %s: %s", path, h, v)
				}
			}
		}
		if valid.Header.Get("Retry-After") == "" || valid.Header.Get("X-RateLimit-Limit") != wrong.Header.Get("X-RateLimit-Limit") {
			t.Errorf("GET %s: the 429s of a valid and a wrong key differ: %v / %v", path, valid.Header, wrong.Header)
		}
	}
	// Other clients are not affected.
	if r := e.do("GET", "/v1/models", nil, from("10.41.0.10", "X-API-Key", key)...); r.Status != http.StatusOK {
		t.Fatalf("another address: %d %s", r.Status, r.Body)
	}
}

// newGatewayLogs returns a function that reports the ERROR lines the
// gateway logged since it was called (the debug log of testCaddyfile).
func newGatewayLogs(t *testing.T) func() []string {
	t.Helper()
	start := int64(0)
	if fi, err := os.Stat(logFile); err == nil {
		start = fi.Size()
	}
	return func() []string {
		data, err := os.ReadFile(logFile)
		if err != nil || int64(len(data)) < start {
			t.Fatalf("reading the gateway's log: %v", err)
		}
		var errs []string
		for _, line := range strings.Split(string(data[start:]), "\n") {
			if strings.Contains(line, `"level":"error"`) {
				errs = append(errs, line)
			}
		}
		return errs
	}
}

// Bad input to the Responses API, the memory API and embeddings (deep
// nesting, NUL characters, invalid UTF-8, ids that cannot be ids, oversized
// and over-many values) is a 4xx in the API's error shape: never a 500, an
// ERROR log line or a dead process. Text the database can store (a NUL in
// a response's instructions or input, kept as JSON) round-trips.
func TestHostileNewInputs(t *testing.T) {
	errorLines := newGatewayLogs(t)
	g, _ := startMemoryGateway(t)
	auth := []string{"Authorization", "Bearer " + guestToken(t, g)}
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	manyPairs := make([]string, 1000)
	for i := range manyPairs {
		manyPairs[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	texts := func(n, size int) string {
		in := make([]string, n)
		for i := range in {
			in[i] = fmt.Sprintf(`"text %d %s"`, i, strings.Repeat("x", size))
		}
		return "[" + strings.Join(in, ",") + "]"
	}
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"responses: deep metadata", "POST", "/v1/responses", `{"model":"chat-model","input":"hi","metadata":` + deep + `}`, 400, "invalid_json"},
		{"responses: deep input", "POST", "/v1/responses", `{"model":"chat-model","input":` + deep + `}`, 400, "invalid_json"},
		{"responses: 1,000 metadata pairs", "POST", "/v1/responses", `{"model":"chat-model","input":"hi","metadata":{` + strings.Join(manyPairs, ",") + `}}`, 400, "invalid_value"},
		{"responses: invalid UTF-8", "POST", "/v1/responses", []byte("{\"model\":\"chat-model\",\"input\":\"h\xff\xfei\",\"instructions\":\"\xc3\"}"), 400, "invalid_json"},
		{"responses: NUL in previous_response_id", "POST", "/v1/responses", `{"model":"chat-model","input":"hi","previous_response_id":"resp_\u0000"}`, 400, "invalid_value"},
		{"responses: 100 kB previous_response_id", "POST", "/v1/responses", `{"model":"chat-model","input":"hi","previous_response_id":"resp_` + strings.Repeat("a", 100000) + `"}`, 400, "invalid_value"},
		{"responses: unknown previous_response_id", "POST", "/v1/responses", `{"model":"chat-model","input":"hi","previous_response_id":"resp_0123456789abcdef0123456789abcdef"}`, 404, ""},
		{"responses: NUL in conversation", "POST", "/v1/responses", `{"model":"chat-model","input":"hi","conversation":"conv_\u0000"}`, 400, ""},
		{"responses: get with NUL id", "GET", "/v1/responses/resp_%00", nil, 404, "not_found"},
		{"responses: delete with invalid UTF-8 id", "DELETE", "/v1/responses/resp_%c3", nil, 404, "not_found"},
		{"responses: input items of an invalid UTF-8 id", "GET", "/v1/responses/resp_%ff/input_items", nil, 404, "not_found"},
		{"responses: get a 10 kB id", "GET", "/v1/responses/resp_" + strings.Repeat("a", 10000), nil, 404, "not_found"},
		{"responses: input items page too large", "GET", "/v1/responses/resp_x/input_items?limit=9999", nil, 400, "invalid_value"},
		{"memories: deep body", "POST", "/v1/memories", deep, 400, "invalid_json"},
		{"memories: NUL in text", "POST", "/v1/memories", `{"text":"a\u0000b"}`, 400, "invalid_value"},
		{"memories: NUL in project_id", "POST", "/v1/memories", `{"text":"a","kind":"project","project_id":"proj_\u0000"}`, 400, "invalid_value"},
		{"memories: invalid UTF-8 project_id", "POST", "/v1/memories", []byte("{\"text\":\"a\",\"kind\":\"project\",\"project_id\":\"proj_\xff\"}"), 404, ""},
		{"memories: text too long", "POST", "/v1/memories", `{"text":"` + strings.Repeat("é", 2001) + `"}`, 400, "invalid_value"},
		{"memories: list by invalid UTF-8 project", "GET", "/v1/memories?project_id=proj_%ff", nil, 400, ""},
		{"memories: list after NUL", "GET", "/v1/memories?after=mem_%ff%00", nil, 400, ""},
		{"memories: get invalid UTF-8 id", "GET", "/v1/memories/mem_%ff", nil, 404, "not_found"},
		{"memories: patch NUL id", "PATCH", "/v1/memories/mem_%00", `{"text":"x"}`, 404, ""},
		{"embeddings: deep body", "POST", "/v1/embeddings", deep, 400, "invalid_json"},
		{"embeddings: NUL model", "POST", "/v1/embeddings", `{"model":"a\u0000","input":"x"}`, 400, "invalid_model"},
		{"embeddings: 257 inputs", "POST", "/v1/embeddings", `{"model":"jan-v1-4b","input":` + texts(257, 1) + `}`, 400, "invalid_value"},
		{"embeddings: token arrays", "POST", "/v1/embeddings", `{"model":"jan-v1-4b","input":[[1,2,3]]}`, 400, "unsupported_input"},
		{"embeddings: 8,193 dimensions", "POST", "/v1/embeddings", `{"model":"jan-v1-4b","input":"x","dimensions":8193}`, 400, "invalid_value"},
		// 256 texts × 8,192 dimensions: 2 million numbers, an 11 MB
		// base64 answer and some 100 MB allocated per request before.
		{"embeddings: 256 inputs × 8,192 dimensions", "POST", "/v1/embeddings", `{"model":"jan-v1-4b","encoding_format":"base64","dimensions":8192,"input":` + texts(256, 7000) + `}`, 400, "invalid_value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := g.do(tc.method, tc.path, tc.body, auth...)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %.300s", r.Status, tc.status, r.Body)
			}
			wantError(t, r, tc.status, tc.code)
		})
	}

	// At the bound, the same request is served: 128 texts × 8,192.
	r := g.do("POST", "/v1/embeddings", `{"model":"jan-v1-4b","encoding_format":"base64","dimensions":8192,"input":`+texts(128, 100)+`}`, auth...)
	var ans struct {
		Data []struct {
			Index     int    `json:"index"`
			Embedding string `json:"embedding"`
		} `json:"data"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &ans) != nil || len(ans.Data) != 128 ||
		ans.Data[127].Index != 127 || len(ans.Data[127].Embedding) != base64.StdEncoding.EncodedLen(4*8192) || ans.Usage.PromptTokens == 0 {
		t.Fatalf("128 × 8,192 at the bound: %d %.300s", r.Status, r.Body)
	}

	// NUL in what a response stores, kept as JSON, round-trips.
	r = g.do("POST", "/v1/responses", `{"model":"chat-model","input":"h\u0000i","instructions":"a\u0000b","metadata":{"k\u0000":"a\u0000b"}}`, auth...)
	if r.Status != http.StatusOK {
		t.Fatalf("NUL in a response's text: %d %s", r.Status, r.Body)
	}
	id, _ := r.JSON(t)["id"].(string)
	got := g.do("GET", "/v1/responses/"+id, nil, auth...).JSON(t)
	if got["instructions"] != "a\x00b" {
		t.Errorf("instructions read back as %q", got["instructions"])
	}
	if r := g.do("POST", "/v1/responses", `{"model":"chat-model","input":"more","previous_response_id":"`+id+`"}`, auth...); r.Status != http.StatusOK {
		t.Errorf("continuing it: %d %s", r.Status, r.Body)
	}
	for _, q := range []string{"after=%00", "after=%ff%fe", "after=" + strings.Repeat("m", 4000), "order=sideways", "limit=0", "limit=-1", "limit=1e9", "include[]=%00"} {
		r := g.do("GET", "/v1/responses/"+id+"/input_items?"+q, nil, auth...)
		if r.Status >= 500 || r.Status == http.StatusOK && !strings.HasPrefix(q, "include") {
			t.Errorf("input_items?%.40s: %d %.200s", q, r.Status, r.Body)
		}
		if r.Status != http.StatusOK {
			wantError(t, r, r.Status, "")
		}
	}
	for _, q := range []string{"kind=%00", "kind=user&after=%00", "order=%ff", "limit=101", "project_id=" + strings.Repeat("p", 4000)} {
		r := g.do("GET", "/v1/memories?"+q, nil, auth...)
		if r.Status != http.StatusBadRequest {
			t.Errorf("memories?%.40s: %d %.200s", q, r.Status, r.Body)
		}
	}
	// Another user's response, conversation or memory is a 404, whatever
	// the route.
	conv, _ := g.do("POST", "/v1/conversations", map[string]any{}, auth...).JSON(t)["id"].(string)
	mem, _ := g.do("POST", "/v1/memories", map[string]any{"text": "I keep bees."}, auth...).JSON(t)["id"].(string)
	if conv == "" || mem == "" {
		t.Fatalf("a conversation %q and a memory %q to steal", conv, mem)
	}
	other := []string{"Authorization", "Bearer " + guestToken(t, g)}
	for _, req := range [][3]string{
		{"POST", "/v1/responses", `{"model":"chat-model","input":"steal","conversation":"` + conv + `"}`},
		{"GET", "/v1/memories/" + mem, ""},
		{"PATCH", "/v1/memories/" + mem, `{"text":"I keep wasps."}`},
		{"DELETE", "/v1/memories/" + mem, ""},
		{"GET", "/v1/responses/" + id, ""},
		{"GET", "/v1/responses/" + id + "/input_items", ""},
		{"DELETE", "/v1/responses/" + id, ""},
		{"POST", "/v1/responses", `{"model":"chat-model","input":"steal","previous_response_id":"` + id + `"}`},
	} {
		var body any
		if req[2] != "" {
			body = req[2]
		}
		wantError(t, g.do(req[0], req[1], body, other...), http.StatusNotFound, "")
	}
	if got := g.do("GET", "/v1/memories/"+mem, nil, auth...).JSON(t)["text"]; got != "I keep bees." {
		t.Errorf("the memory after another user's attempts: %v", got)
	}
	if lines := errorLines(); len(lines) > 0 {
		t.Fatalf("client input made the gateway log errors:\n%s", strings.Join(lines, "\n"))
	}
}

// Clients that start streamed responses and hang up after the first event
// leave nothing behind: the gateway cancels every upstream call, and its
// goroutines return to where they were. The gateway goes on serving.
func TestHostileResponsesStreamHangUps(t *testing.T) {
	errorLines := newGatewayLogs(t)
	var open, canceled atomic.Int64
	slow := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		open.Add(1)
		providertest.StartSSE(w)
		for i := 0; ; i++ {
			providertest.SendData(w, `{"id":"chatcmpl-s","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":{"content":"word "},"finish_reason":null}]}`)
			select {
			case <-r.Context().Done():
				canceled.Add(1)
				return
			case <-time.After(20 * time.Millisecond):
			}
			if i > 1500 { // 30 s: the gateway never hung up
				return
			}
		}
	}))
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`database_url %s
		provider slow openai {
			base_url %s/v1
		}
		model slow-model {
			deployment slow
		}`, storetest.NewPostgresDatabase(t), slow.URL),
		Routes: "llm_auth",
	}))
	token := guestToken(t, g)
	// Warm up: pools, the store's connections, the upstream transport.
	wantError(t, g.do("POST", "/v1/responses", `{"model":"slow-model"}`, "Authorization", "Bearer "+token), http.StatusBadRequest, "")
	runtime.GC()
	baseline := runtime.NumGoroutine()

	const clients = 20
	var ids [clients]string
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			body := fmt.Sprintf(`{"model":"slow-model","stream":true,"input":"tell a long story %d"}`, i)
			req, _ := http.NewRequest("POST", g.base+"/v1/responses", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			rd := bufio.NewReader(resp.Body)
			line, _ := rd.ReadString('\n')
			data, _ := rd.ReadString('\n')
			var created struct {
				Response struct{ ID string } `json:"response"`
			}
			_ = json.Unmarshal([]byte(strings.TrimPrefix(data, "data: ")), &created)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(line, "event: ") || created.Response.ID == "" {
				t.Errorf("client %d: %d %q %q", i, resp.StatusCode, line, data)
			}
			resp.Body.Close() // hang up mid-stream
			ids[i] = created.Response.ID
		})
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for canceled.Load() < clients || runtime.NumGoroutine() > baseline+5 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("after %d hang-ups: %d of %d upstream calls canceled, %d goroutines (baseline %d)\n%s",
				clients, canceled.Load(), open.Load(), runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
		runtime.GC()
	}
	// Each cut response is kept as it ended, not in progress for ever.
	for _, id := range ids {
		if id == "" {
			continue
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := g.do("GET", "/v1/responses/"+id, nil, "Authorization", "Bearer "+token)
			status, _ := r.JSON(t)["status"].(string)
			if r.Status == http.StatusOK && status != "in_progress" && status != "queued" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("response %s after its client hung up: %d %.300s", id, r.Status, r.Body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The gateway still serves.
	if r := g.do("GET", "/v1/models", nil, "Authorization", "Bearer "+token); r.Status != http.StatusOK {
		t.Fatalf("after the hang-ups: %d %s", r.Status, r.Body)
	}
	if lines := errorLines(); len(lines) > 0 {
		t.Fatalf("hang-ups made the gateway log errors:\n%s", strings.Join(lines, "\n"))
	}
}

// Memory writes embed their text upstream (a call the operator pays for,
// like /v1/embeddings): on the default Caddyfile they take from the
// principal's chat tier, so a client cannot make the gateway embed without
// end by writing memories from many addresses; reading memories does not
// count. Before, only the per-IP limit applied to them.
func TestHostileMemoryWritesCountAgainstTheChatTier(t *testing.T) {
	rs := startRedis(t, 0)
	e := startHostileDefault(t, rs.url(), map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32", "RATE_LIMIT_GUEST": "3/hour"})
	from := forwardedFrom
	guest := e.wantSession(t, e.do("POST", "/llm/auth/guest-login", nil, from("10.42.0.1")...), http.StatusCreated)
	auth := bearerHeader(guest.Access)
	var id string
	for i := range 3 {
		// Each from a new address: the per-IP limit never bites.
		ip := fmt.Sprintf("10.42.1.%d", i)
		if i < 2 {
			r := e.do("POST", "/v1/memories", map[string]any{"text": fmt.Sprintf("I keep %d bees.", i)}, from(ip, auth...)...)
			if r.Status != http.StatusCreated {
				t.Fatalf("memory write %d: %d %s", i, r.Status, r.Body)
			}
			id, _ = r.JSON(t)["id"].(string)
			continue
		}
		if r := e.do("PATCH", "/v1/memories/"+id, map[string]any{"text": "I keep wasps."}, from(ip, auth...)...); r.Status != http.StatusOK {
			t.Fatalf("memory update: %d %s", r.Status, r.Body)
		}
	}
	// The guest tier (3 an hour) is spent, from whatever address.
	wantError(t, e.do("POST", "/v1/memories", map[string]any{"text": "I keep ants."}, from("10.42.2.1", auth...)...), http.StatusTooManyRequests, "")
	wantError(t, e.do("PATCH", "/v1/memories/"+id, map[string]any{"text": "I keep moths."}, from("10.42.2.2", auth...)...), http.StatusTooManyRequests, "")
	wantError(t, e.do("POST", "/v1/embeddings", map[string]any{"model": "jan-v1-4b", "input": "bees"}, from("10.42.2.3", auth...)...), http.StatusTooManyRequests, "")
	// Reading and forgetting are not chat.
	if r := e.do("GET", "/v1/memories", nil, from("10.42.2.4", auth...)...); r.Status != http.StatusOK {
		t.Fatalf("listing memories: %d %s", r.Status, r.Body)
	}
	if r := e.do("DELETE", "/v1/memories/"+id, nil, from("10.42.2.5", auth...)...); r.Status != http.StatusOK {
		t.Fatalf("forgetting a memory: %d %s", r.Status, r.Body)
	}
}
