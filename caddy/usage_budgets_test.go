package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	oa "github.com/openai/openai-go/v3"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
	"github.com/caddy-llm/gateway/store/storetest"
)

// Budgets and key scopes through Caddy on PostgreSQL and Redis: the request
// that crosses a daily token budget is answered, the next is refused with
// OpenAI's insufficient_quota (the SDK sees a 429); an operator's override
// lifts it at once; a key restricted to a model sees only that model; a
// user may only lower their own key's limits.
func TestBudgetsAndKeyScopesThroughCaddy(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "one two three four five"})
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
		usage {
			budget user tokens 20/day
			admin_role gateway-admin
		}`, storetest.RedisURL(), up.URL)})
	ctx := context.Background()
	alice := e.oidc.token("alice-" + storetest.RandomName(""))
	aliceID := me(t, e.gateway, alice)
	client := sdkClient(e.gateway, alice)
	ask := func(c oa.Client, model string) error {
		_, err := c.Chat.Completions.New(ctx, oa.ChatCompletionNewParams{
			Model: model, Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("hi")},
		})
		return err
	}

	// Each request takes 3+5 tokens: the third crosses 20 and is answered,
	// the next is refused. (Settlement follows the answer by microseconds;
	// one more request may slip through in that window: the documented
	// overshoot of the requests in flight at the crossing.)
	admitted := 0
	var err error
	for ; admitted < 6; admitted++ {
		if err = ask(client, "m-a"); err != nil {
			break
		}
	}
	if admitted < 3 || admitted > 4 {
		t.Fatalf("%d requests of 8 tokens admitted under a budget of 20 (last error %v), want 3 (or 4)", admitted, err)
	}
	wantSDKError(t, err, http.StatusTooManyRequests, "insufficient_quota")

	// An operator raises Alice's budget: the next request passes.
	claims := e.oidc.claims("root")
	claims["realm_access"] = map[string]any{"roles": []string{"gateway-admin"}}
	admin := bearerHeader(e.oidc.sign(claims, rsaSignerKID, e.oidc.key))
	r := e.do("PUT", "/v1/admin/usage/limits?user_id="+aliceID, map[string]any{"tokens_per_day": 1000}, admin...)
	if r.Status != http.StatusOK || r.JSON(t)["tokens_per_day"] != float64(1000) {
		t.Fatalf("admin override = %d %s", r.Status, r.Body)
	}
	if err := ask(client, "m-a"); err != nil {
		t.Fatalf("after the override: %v", err)
	}
	// Only the role opens the admin routes.
	wantError(t, e.do("PUT", "/v1/admin/usage/limits?user_id="+aliceID, map[string]any{"tokens_per_day": 1e9}, bearerHeader(alice)...), http.StatusNotFound, "")

	// Alice restricts a key to m-a.
	created := e.createAPIKey(t, alice, map[string]any{"name": "scoped"})
	key, _ := created["key"].(string)
	keyID, _ := created["id"].(string)
	path := "/v1/usage/keys/" + keyID + "/limits"
	if r := e.do("PUT", path, map[string]any{"models": []string{"m-a"}}, bearerHeader(alice)...); r.Status != http.StatusOK {
		t.Fatalf("scoping the key = %d %s", r.Status, r.Body)
	}
	keyClient := sdkClient(e.gateway, key)
	if err := ask(keyClient, "m-a"); err != nil {
		t.Fatalf("the key on its model: %v", err)
	}
	wantSDKError(t, ask(keyClient, "m-b"), http.StatusNotFound, "model_not_found")
	page, err := keyClient.Models.List(ctx)
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != "m-a" {
		t.Fatalf("the scoped key's models = %+v, %v; want only m-a", page, err)
	}
	wantError(t, e.do("GET", "/v1/models/m-b", nil, bearerHeader(key)...), http.StatusNotFound, "")
	if err := ask(client, "m-b"); err != nil { // Alice herself is not scoped
		t.Fatalf("alice on m-b: %v", err)
	}

	// Users only lower: widening the list, raising or removing an
	// operator's limit is refused; lowering it works.
	for _, bad := range []struct {
		body  map[string]any
		param string
	}{
		{map[string]any{"models": []string{"m-a", "m-b"}}, "models"},
		{map[string]any{"models": []string{}}, "models"},
		{map[string]any{"tokens_per_day": -1}, "tokens_per_day"},
	} {
		if e := wantError(t, e.do("PUT", path, bad.body, bearerHeader(alice)...), http.StatusBadRequest, "invalid_value"); e["param"] != bad.param {
			t.Errorf("PUT %v: param %v, want %s", bad.body, e["param"], bad.param)
		}
	}
	r = e.do("PUT", "/v1/admin/usage/limits?user_id="+aliceID+"&api_key_id="+keyID, map[string]any{"tokens_per_day": 500}, admin...)
	if r.Status != http.StatusOK {
		t.Fatalf("admin key limit = %d %s", r.Status, r.Body)
	}
	for _, v := range []int{1000, 0} {
		if e := wantError(t, e.do("PUT", path, map[string]any{"tokens_per_day": v}, bearerHeader(alice)...), http.StatusBadRequest, "invalid_value"); e["param"] != "tokens_per_day" {
			t.Errorf("raising to %d: %v", v, e)
		}
	}
	if r := e.do("PUT", path, map[string]any{"tokens_per_day": 100}, bearerHeader(alice)...); r.Status != http.StatusOK {
		t.Fatalf("lowering = %d %s", r.Status, r.Body)
	}
	// The key itself may read its limits, not change them; another user
	// never sees the key.
	wantError(t, e.do("PUT", path, map[string]any{"tokens_per_day": 1}, bearerHeader(key)...), http.StatusForbidden, "")
	bob := e.oidc.token("bob-" + storetest.RandomName(""))
	wantError(t, e.do("GET", path, nil, bearerHeader(bob)...), http.StatusNotFound, "")
	wantError(t, e.do("PUT", path, map[string]any{"tokens_per_day": 1}, bearerHeader(bob)...), http.StatusNotFound, "")
	wantError(t, e.do("PUT", path, `{"tokens_per_day": "x"}`, bearerHeader(alice)...), http.StatusBadRequest, "")
}
