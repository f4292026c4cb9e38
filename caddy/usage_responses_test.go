package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/storetest"
)

// The Responses API and embeddings through Caddy on PostgreSQL and Redis
// are metered and limited as chat completions are: each answer's usage
// record equals the upstream's usage (plain and streamed responses,
// embeddings with prompt tokens only); a token limit reserves the prompt's
// estimate plus max_output_tokens (embeddings: the inputs' only) and
// refuses with OpenAI's 429 and x-ratelimit-*-tokens headers; a crossed
// budget is 429 insufficient_quota and writes nothing to a conversation; a
// key scoped to other models gets 404 model_not_found.
func TestResponsesAndEmbeddingsUnderQuotaThroughCaddy(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.EmbeddingsServer{Dimensions: 8, Next: &providertest.OpenAIServer{Reply: "one two three four five"}})
	e := startAuthGateway(t, authOptions{LLM: fmt.Sprintf(`redis_url %s
		provider up openai {
			base_url %s/v1
		}
		model m-a {
			deployment up
		}
		model m-b {
			deployment up
		}
		model e-a {
			deployment up upstream-embedder
		}
		usage {
			flush_interval 50ms
			tokens user 10000/min
			admin_role gateway-admin
		}`, storetest.RedisURL(), up.URL)})
	st := usageStore(t, e.dsn)
	ctx := context.Background()
	alice := e.oidc.token("alice-" + storetest.RandomName(""))
	aliceID := me(t, e.gateway, alice)
	client := sdkClient(e.gateway, alice)

	// Usage records: a plain response, a streamed one, an embedding.
	plain, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model: "m-a", MaxOutputTokens: oa.Int(100),
		Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("hi")},
	})
	if err != nil || plain.Usage.TotalTokens == 0 {
		t.Fatalf("plain response: %v %+v", err, plain)
	}
	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model: "m-a", MaxOutputTokens: oa.Int(100), Instructions: oa.String("Be brief."),
		Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("hi")},
	})
	var streamed responses.Response
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "response.completed" {
			streamed = ev.Response
		}
	}
	if err := stream.Err(); err != nil || streamed.Usage.TotalTokens == 0 {
		t.Fatalf("streamed response: %v %s", err, streamed.RawJSON())
	}
	emb, err := client.Embeddings.New(ctx, oa.EmbeddingNewParams{
		Model: "e-a", Input: oa.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"I live in Paris", "Where?"}},
	})
	if err != nil || emb.Usage.PromptTokens == 0 {
		t.Fatalf("embeddings: %v %+v", err, emb)
	}
	recs := waitRecords(t, st, aliceID, 3)
	var got, want []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s stream=%v %d+%d estimated=%v status=%d", r.Model, r.Stream, r.PromptTokens, r.CompletionTokens, r.Estimated, r.Status))
	}
	want = []string{
		fmt.Sprintf("m-a stream=false %d+%d estimated=false status=200", plain.Usage.InputTokens, plain.Usage.OutputTokens),
		fmt.Sprintf("m-a stream=true %d+%d estimated=false status=200", streamed.Usage.InputTokens, streamed.Usage.OutputTokens),
		fmt.Sprintf("e-a stream=false %d+0 estimated=false status=200", emb.Usage.PromptTokens),
	}
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("usage records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// (The upstream counts 3 prompt tokens a message: the instructions
	// are one more message.)
	if plain.Usage.InputTokens != 3 || streamed.Usage.InputTokens != 6 || plain.Usage.OutputTokens != 5 {
		t.Fatalf("the upstream's usage as the client saw it: plain %+v, streamed %+v", plain.Usage, streamed.Usage)
	}

	// Token limits: a response reserves its estimate plus
	// max_output_tokens and settles to the upstream's count.
	respond := func(credential string, body map[string]any) response {
		return e.do("POST", "/v1/responses", body, bearerHeader(credential)...)
	}
	time.Sleep(50 * time.Millisecond) // settlements follow the answers
	r := respond(alice, map[string]any{"model": "m-a", "input": "hi", "max_output_tokens": 6000})
	remaining, _ := strconv.Atoi(r.Header.Get("X-Ratelimit-Remaining-Tokens"))
	if r.Status != http.StatusOK || r.Header.Get("X-Ratelimit-Limit-Tokens") != "10000" || r.Header.Get("X-Ratelimit-Reset-Tokens") == "" ||
		remaining < 3900 || remaining > 4000 {
		t.Fatalf("a response under a token limit = %d, headers %v; want 200 with about 10000-6000-its prompt remaining", r.Status, r.Header)
	}
	time.Sleep(50 * time.Millisecond)
	r = respond(alice, map[string]any{"model": "m-a", "input": "hi", "max_output_tokens": 6000})
	if rem, _ := strconv.Atoi(r.Header.Get("X-Ratelimit-Remaining-Tokens")); r.Status != http.StatusOK || rem < 3900 || rem > 4000 {
		t.Fatalf("the next response = %d with %d tokens remaining: the first was not settled to its usage", r.Status, rem)
	}
	r = respond(alice, map[string]any{"model": "m-a", "input": "hi", "max_output_tokens": 20000})
	if e := wantError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded"); !strings.Contains(e["message"].(string), "too large") ||
		r.Header.Get("X-Ratelimit-Limit-Tokens") != "10000" {
		t.Fatalf("a response larger than the limit: %v, headers %v", e, r.Header)
	}
	_, err = client.Responses.New(ctx, responses.ResponseNewParams{
		Model: "m-a", MaxOutputTokens: oa.Int(20000), Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("hi")},
	})
	wantSDKError(t, err, http.StatusTooManyRequests, "rate_limit_exceeded")
	// Embeddings reserve their inputs only (with the 4096 tokens of an
	// answer nothing bounds, this would be well below 9000).
	r = e.do("POST", "/v1/embeddings", map[string]any{"model": "e-a", "input": "Where do I live?"}, bearerHeader(alice)...)
	if rem, _ := strconv.Atoi(r.Header.Get("X-Ratelimit-Remaining-Tokens")); r.Status != http.StatusOK || rem < 9000 {
		t.Fatalf("embeddings under a token limit = %d, %d tokens remaining; headers %v", r.Status, rem, r.Header)
	}
	long := strings.Repeat("word ", 24<<10/5)
	r = e.do("POST", "/v1/embeddings", map[string]any{"model": "e-a", "input": []string{long, long}}, bearerHeader(alice)...)
	if e := wantError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded"); !strings.Contains(e["message"].(string), "too large") {
		t.Fatalf("embeddings of more tokens than the limit: %v", e)
	}

	// Budgets: an operator gives Bob 20 tokens a day. Each response takes
	// 3+5; the one that crosses 20 is answered, the next refused (one more
	// may slip through while the crossing one settles).
	bob := e.oidc.token("bob-" + storetest.RandomName(""))
	bobID := me(t, e.gateway, bob)
	claims := e.oidc.claims("root")
	claims["realm_access"] = map[string]any{"roles": []string{"gateway-admin"}}
	admin := bearerHeader(e.oidc.sign(claims, rsaSignerKID, e.oidc.key))
	if r := e.do("PUT", "/v1/admin/usage/limits?user_id="+bobID, map[string]any{"tokens_per_day": 20}, admin...); r.Status != http.StatusOK {
		t.Fatalf("admin budget = %d %s", r.Status, r.Body)
	}
	bobClient := sdkClient(e.gateway, bob)
	admitted := 0
	for ; admitted < 6; admitted++ {
		if _, err = bobClient.Responses.New(ctx, responses.ResponseNewParams{
			Model: "m-a", MaxOutputTokens: oa.Int(100), Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("hi")},
		}); err != nil {
			break
		}
	}
	if admitted < 3 || admitted > 4 {
		t.Fatalf("%d responses of 8 tokens admitted under a budget of 20 (last error %v), want 3 (or 4)", admitted, err)
	}
	wantSDKError(t, err, http.StatusTooManyRequests, "insufficient_quota")
	_, err = bobClient.Embeddings.New(ctx, oa.EmbeddingNewParams{Model: "e-a", Input: oa.EmbeddingNewParamsInputUnion{OfString: oa.String("hi")}})
	wantSDKError(t, err, http.StatusTooManyRequests, "insufficient_quota")
	// A refused response writes nothing to its conversation.
	r = e.do("POST", "/v1/conversations", map[string]any{}, bearerHeader(bob)...)
	conv, _ := r.JSON(t)["id"].(string)
	wantError(t, respond(bob, map[string]any{"model": "m-a", "input": "hi", "max_output_tokens": 100, "conversation": conv}), http.StatusTooManyRequests, "insufficient_quota")
	if r := e.do("GET", "/v1/conversations/"+conv+"/items", nil, bearerHeader(bob)...); r.Status != http.StatusOK || len(r.JSON(t)["data"].([]any)) != 0 {
		t.Fatalf("the conversation of a refused response: %d %s", r.Status, r.Body)
	}

	// Key scopes: a key restricted to m-a.
	created := e.createAPIKey(t, alice, map[string]any{"name": "scoped"})
	key, _ := created["key"].(string)
	keyID, _ := created["id"].(string)
	if r := e.do("PUT", "/v1/usage/keys/"+keyID+"/limits", map[string]any{"models": []string{"m-a"}}, bearerHeader(alice)...); r.Status != http.StatusOK {
		t.Fatalf("scoping the key = %d %s", r.Status, r.Body)
	}
	keyClient := sdkClient(e.gateway, key)
	if _, err := keyClient.Responses.New(ctx, responses.ResponseNewParams{
		Model: "m-a", Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("hi")},
	}); err != nil {
		t.Fatalf("the key on its model: %v", err)
	}
	_, err = keyClient.Responses.New(ctx, responses.ResponseNewParams{
		Model: "m-b", Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("hi")},
	})
	wantSDKError(t, err, http.StatusNotFound, "model_not_found")
	stream = keyClient.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model: "m-b", Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("hi")},
	})
	for stream.Next() {
		t.Fatalf("a scoped key streamed from another model: %s", stream.Current().RawJSON())
	}
	wantSDKError(t, stream.Err(), http.StatusNotFound, "model_not_found")
	_, err = keyClient.Embeddings.New(ctx, oa.EmbeddingNewParams{Model: "e-a", Input: oa.EmbeddingNewParamsInputUnion{OfString: oa.String("hi")}})
	wantSDKError(t, err, http.StatusNotFound, "model_not_found")
	if _, err := client.Embeddings.New(ctx, oa.EmbeddingNewParams{Model: "e-a", Input: oa.EmbeddingNewParamsInputUnion{OfString: oa.String("hi")}}); err != nil {
		t.Fatalf("alice herself is not scoped: %v", err)
	}
	// Chat bodies posted to /v1/mcp are served by the chat handler, so
	// they are scoped and metered alike.
	mcpChat := func(model string) response {
		return e.do("POST", "/v1/mcp", map[string]any{"model": model, "messages": []map[string]any{{"role": "user", "content": "hi"}}}, bearerHeader(key)...)
	}
	wantError(t, mcpChat("m-b"), http.StatusNotFound, "model_not_found")
	if r := mcpChat("m-a"); r.Status != http.StatusOK {
		t.Fatalf("a chat body on /v1/mcp = %d %s", r.Status, r.Body)
	}

	// Refusals before the upstream are not metered: Bob has only the
	// records of his admitted responses; Alice has her 6 answered
	// requests, then the key's response and chat on /v1/mcp and her own
	// embedding.
	if recs := waitRecords(t, st, bobID, admitted); slices.ContainsFunc(recs, func(r store.UsageRecord) bool { return r.Status != http.StatusOK }) {
		t.Fatalf("Bob's records: %+v", recs)
	}
	recs = waitRecords(t, st, aliceID, 9)
	var keyed []string
	for _, r := range recs {
		if r.APIKeyID != 0 {
			keyed = append(keyed, fmt.Sprintf("%s %d+%d", r.Model, r.PromptTokens, r.CompletionTokens))
		}
	}
	if strings.Join(keyed, ", ") != "m-a 3+5, m-a 3+5" {
		t.Fatalf("the scoped key's records: %v", keyed)
	}
}
