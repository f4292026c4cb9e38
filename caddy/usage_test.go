package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	oa "github.com/openai/openai-go/v3"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/postgres"
)

// usageStore opens the gateway's database beside it, to read the records.
func usageStore(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), postgres.Config{URL: dsn})
	if err != nil {
		t.Fatalf("opening the gateway's database: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// waitRecords waits until the user has n usage records (the writer flushes
// every 50ms here) and returns them, oldest first.
func waitRecords(t *testing.T, st store.Store, publicID string, n int) []store.UsageRecord {
	t.Helper()
	u, err := st.GetUserByPublicID(t.Context(), publicID)
	if err != nil {
		t.Fatalf("user %s: %v", publicID, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, err := st.ListUsageRecords(t.Context(), u.ID, time.Unix(0, 0), time.Now().Add(time.Hour), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) >= n || time.Now().After(deadline) {
			if len(recs) != n {
				t.Fatalf("user has %d usage records, want %d: %+v", len(recs), n, recs)
			}
			return recs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// me returns the public user id of a credential.
func me(t *testing.T, g *gateway, credential string) string {
	t.Helper()
	r := g.do("GET", "/llm/auth/me", nil, bearerHeader(credential)...)
	id, _ := r.JSON(t)["id"].(string)
	if r.Status != http.StatusOK || id == "" {
		t.Fatalf("me = %d %s", r.Status, r.Body)
	}
	return id
}

// rawStream sends a streamed chat request and reads `events` data events
// before hanging up (events < 0: to the end). It returns the events read.
func rawStream(t *testing.T, g *gateway, credential, body string, events int) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", g.base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+credential)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	var got []string
	sc := bufio.NewScanner(resp.Body)
	for (events < 0 || len(got) < events) && sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			got = append(got, data)
		}
	}
	return got
}

// Every chat completion yields one usage record whose tokens are the
// upstream's own usage (plain, streamed with and without include_usage) or,
// for a stream cut short (client gone, upstream failed mid-stream), the
// gateway's estimate, flagged; the usage API's totals equal the records;
// another user's usage is invisible; the admin route opens only to the
// OIDC role.
func TestUsageRecordsAndAPIThroughCaddy(t *testing.T) {
	reply := "one two three four five six"
	words := len(providertest.Words(reply))
	ok := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: reply})
	slow := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: strings.Repeat("word ", 200), ChunkDelay: 20 * time.Millisecond})
	broken := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: reply, BeforeChunk: func(i int) bool { return i < 4 }})
	e := startAuthGateway(t, authOptions{LLM: fmt.Sprintf(`provider ok openai {
			base_url %s/v1
		}
		provider slow openai {
			base_url %s/v1
		}
		provider broken openai {
			base_url %s/v1
		}
		model m-ok {
			deployment ok
			price 1000 3000
		}
		model m-slow {
			deployment slow
		}
		model m-broken {
			deployment broken
		}
		usage {
			flush_interval 50ms
			price m-slow 0.5 1.5
			admin_role gateway-admin
		}`, ok.URL, slow.URL, broken.URL)})
	st := usageStore(t, e.dsn)
	ctx := t.Context()

	alice := e.oidc.token("alice")
	aliceID := me(t, e.gateway, alice)
	key, _ := e.createAPIKey(t, alice, map[string]any{"name": "ci"})["key"].(string)
	client := sdkClient(e.gateway, alice)
	keyClient := sdkClient(e.gateway, key)
	start := time.Now().Add(-time.Minute).Unix()

	// 1. Plain.
	resp, err := client.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{
		Model: "m-ok", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("hi")},
	})
	if err != nil {
		t.Fatal(err)
	}
	plainUsage := resp.Usage
	// 2. Streamed with include_usage, with the API key.
	stream := keyClient.Chat.Completions.NewStreaming(ctx, oa.ChatCompletionNewParams{
		Model:         "m-ok",
		Messages:      []oa.ChatCompletionMessageParamUnion{oa.SystemMessage("be brief"), oa.UserMessage("hi")},
		StreamOptions: oa.ChatCompletionStreamOptionsParam{IncludeUsage: oa.Bool(true)},
	})
	var acc oa.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil || acc.Usage.TotalTokens == 0 {
		t.Fatalf("stream with usage: %v, usage %+v", err, acc.Usage)
	}
	streamUsage := acc.Usage
	// 3. Streamed without include_usage: the client sees no usage chunk.
	events := rawStream(t, e.gateway, alice, `{"model":"m-ok","stream":true,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}`, -1)
	for _, ev := range events {
		if strings.Contains(ev, `"usage":{`) {
			t.Fatalf("a client that did not ask got a usage chunk: %s", ev)
		}
	}
	// 4. Cancelled after three events.
	rawStream(t, e.gateway, alice, `{"model":"m-slow","stream":true,"messages":[{"role":"user","content":"a long story"}]}`, 3)
	// 5. The upstream fails mid-stream.
	events = rawStream(t, e.gateway, alice, `{"model":"m-broken","stream":true,"messages":[{"role":"user","content":"hi"}]}`, -1)
	if last := events[len(events)-1]; !strings.Contains(last, `"error"`) {
		t.Fatalf("a stream cut by its upstream ended with %s, want an error event", last)
	}

	recs := waitRecords(t, st, aliceID, 5)
	byModel := map[string][]store.UsageRecord{}
	for _, r := range recs {
		byModel[r.Model] = append(byModel[r.Model], r)
	}
	okRecs := byModel["m-ok"]
	if len(okRecs) != 3 {
		t.Fatalf("m-ok records: %+v", okRecs)
	}
	// A record is made when its handler ends, which may be just after the
	// client has read the answer and sent the next request: order them by
	// their prompts (1, 2 and 3 messages) rather than by time.
	slices.SortFunc(okRecs, func(a, b store.UsageRecord) int { return int(a.PromptTokens - b.PromptTokens) })
	// The upstream counts 3 prompt tokens a message and a token a word.
	want := []struct {
		prompt, completion int64
		stream             bool
		keyed              bool
	}{
		{plainUsage.PromptTokens, plainUsage.CompletionTokens, false, false},
		{streamUsage.PromptTokens, streamUsage.CompletionTokens, true, true},
		{9, int64(words), true, false},
	}
	if plainUsage.PromptTokens != 3 || streamUsage.PromptTokens != 6 {
		t.Fatalf("the upstream's usage as the client saw it: plain %+v, stream %+v", plainUsage, streamUsage)
	}
	for i, w := range want {
		r := okRecs[i]
		if r.PromptTokens != w.prompt || r.CompletionTokens != w.completion || r.Stream != w.stream ||
			(r.APIKeyID != 0) != w.keyed || r.Estimated || r.Incomplete || r.Status != 200 || r.Provider != "ok" || r.RequestID == "" {
			t.Errorf("record %d = %+v, want %d+%d tokens, stream %v, keyed %v", i, r, w.prompt, w.completion, w.stream, w.keyed)
		}
		if cost := r.PromptTokens*1000*1000 + r.CompletionTokens*3000*1000; r.CostNanos != cost {
			t.Errorf("record %d cost = %d nanos, want %d", i, r.CostNanos, cost)
		}
	}
	if r := byModel["m-slow"]; len(r) != 1 || !r[0].Incomplete || !r[0].Estimated || r[0].ErrorCode != "client_closed_request" ||
		r[0].CompletionTokens < 2 || r[0].PromptTokens == 0 {
		t.Errorf("cancelled stream's record = %+v, want incomplete, estimated, at least the chunks read", r)
	}
	if r := byModel["m-broken"]; len(r) != 1 || !r[0].Incomplete || !r[0].Estimated || r[0].ErrorCode == "" || r[0].CompletionTokens < 2 {
		t.Errorf("broken stream's record = %+v, want incomplete, estimated, with its error", r)
	}

	// The usage API's totals are the records'.
	var sumIn, sumOut, sumCost int64
	for _, r := range recs {
		sumIn, sumOut, sumCost = sumIn+r.PromptTokens, sumOut+r.CompletionTokens, sumCost+r.CostNanos
	}
	type result struct {
		InputTokens      int64   `json:"input_tokens"`
		OutputTokens     int64   `json:"output_tokens"`
		NumModelRequests int64   `json:"num_model_requests"`
		Cost             float64 `json:"cost"`
		Model            *string `json:"model"`
		APIKeyID         *string `json:"api_key_id"`
		UserID           *string `json:"user_id"`
	}
	type page struct {
		Object string `json:"object"`
		Data   []struct {
			Object    string   `json:"object"`
			StartTime int64    `json:"start_time"`
			EndTime   int64    `json:"end_time"`
			Results   []result `json:"results"`
		} `json:"data"`
		HasMore bool `json:"has_more"`
	}
	getPage := func(credential, path string) page {
		t.Helper()
		var p page
		c := sdkClient(e.gateway, credential)
		if err := c.Get(ctx, path, nil, &p); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if p.Object != "page" {
			t.Fatalf("GET %s: object %q", path, p.Object)
		}
		return p
	}
	totals := func(p page) (in, out, n int64, cost float64) {
		for _, b := range p.Data {
			for _, r := range b.Results {
				in, out, n, cost = in+r.InputTokens, out+r.OutputTokens, n+r.NumModelRequests, cost+r.Cost
			}
		}
		return
	}
	q := fmt.Sprintf("usage?start_time=%d&bucket_width=1h&limit=3", start)
	in, out, n, cost := totals(getPage(alice, q))
	if in != sumIn || out != sumOut || n != 5 || int64(cost*1e9+0.5) != sumCost {
		t.Errorf("usage API totals = %d in, %d out, %d requests, %v cost; records: %d, %d, 5, %d nanos", in, out, n, cost, sumIn, sumOut, sumCost)
	}
	p := getPage(alice, q+"&group_by=model&group_by=api_key_id")
	keyed := 0
	for _, b := range p.Data {
		for _, r := range b.Results {
			if r.Model == nil {
				t.Errorf("grouped by model, a result has no model: %+v", r)
			}
			if r.APIKeyID != nil {
				keyed++
				if !strings.HasPrefix(*r.APIKeyID, "key_") || *r.Model != "m-ok" || r.InputTokens != 6 {
					t.Errorf("the key's result = %+v", r)
				}
			}
		}
	}
	if keyed != 1 {
		t.Errorf("%d results name an API key, want 1", keyed)
	}

	// Another user sees none of it; its own request only.
	guest := e.guestLogin(t)
	guestClient := sdkClient(e.gateway, guest.Access)
	if _, err := guestClient.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{
		Model: "m-ok", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("hi")},
	}); err != nil {
		t.Fatal(err)
	}
	waitRecords(t, st, guest.UserID, 1)
	if in, _, n, _ := totals(getPage(guest.Access, q)); n != 1 || in != 3 {
		t.Errorf("the guest's usage = %d requests, %d tokens in; want only its own 1 and 3", n, in)
	}

	// The admin route: 404 to everyone without the role (guest, API key,
	// a user), the role's holder reads anyone's.
	for name, cred := range map[string]string{"guest": guest.Access, "api key": key, "user": alice} {
		wantError(t, e.do("GET", "/v1/admin/usage?start_time=1", nil, bearerHeader(cred)...), http.StatusNotFound, "")
		_ = name
	}
	claims := e.oidc.claims("root")
	claims["realm_access"] = map[string]any{"roles": []string{"gateway-admin"}}
	admin := e.oidc.sign(claims, rsaSignerKID, e.oidc.key)
	p = getPage(admin, fmt.Sprintf("admin/usage?start_time=%d&bucket_width=1h&limit=3&user_id=%s", start, aliceID))
	if in, _, n, _ := totals(p); in != sumIn || n != 5 {
		t.Errorf("admin's view of alice = %d in, %d requests; want %d, 5", in, n, sumIn)
	}
	p = getPage(admin, fmt.Sprintf("admin/usage?start_time=%d&bucket_width=1h&limit=3&group_by=user_id", start))
	users := map[string]int64{}
	for _, b := range p.Data {
		for _, r := range b.Results {
			users[*r.UserID] += r.NumModelRequests
		}
	}
	if users[aliceID] != 5 || users[guest.UserID] != 1 {
		t.Errorf("admin's view by user = %v", users)
	}
	wantError(t, e.do("GET", "/v1/admin/usage?start_time=1&user_id=usr_nobody", nil, bearerHeader(admin)...), http.StatusNotFound, "")

	// Every parameter is checked.
	for _, bad := range []struct{ query, param string }{
		{"", "start_time"},
		{"start_time=abc", "start_time"},
		{"start_time=-5", "start_time"},
		{"start_time=100&end_time=50", "end_time"},
		{"start_time=1&bucket_width=1m", "bucket_width"},
		{"start_time=1&limit=0", "limit"},
		{"start_time=1&bucket_width=1h&limit=169", "limit"},
		{"start_time=1&group_by=user_id", "group_by"},
		{"start_time=1&group_by=project_id", "group_by"},
		{"start_time=1&page=xyz", "page"},
		{"start_time=1&page=7", "page"},
		{"start_time=1&start_time=2", "start_time"},
		{"start_time=1&bucket_width=" + strings.Repeat("x", 100), "bucket_width"},
	} {
		r := e.do("GET", "/v1/usage?"+bad.query, nil, bearerHeader(alice)...)
		if got := wantError(t, r, http.StatusBadRequest, "invalid_value"); got["param"] != bad.param {
			t.Errorf("GET /v1/usage?%s: param = %v, want %s", bad.query, got["param"], bad.param)
		}
	}
}
