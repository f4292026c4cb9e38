package usage

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/ratelimit"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

func TestQuotaLimitsBudgetsAndScopes(t *testing.T) {
	st := memory.New()
	u, _ := st.UpsertUser(t.Context(), store.User{Issuer: "t", Subject: "s", Kind: store.UserKindUser})
	key, _ := st.CreateAPIKey(t.Context(), store.APIKey{UserID: u.ID, Hash: []byte("h")}, 0)
	limits, _ := ratelimit.ParseTokenLimits("1000/min")
	q := &Quota{
		Tokens:  ratelimit.NewTokenLimiter(ratelimit.TokenLimiterOptions{}),
		Tiers:   map[string][]ratelimit.Limit{principal.KindUser: limits},
		Budgets: []BudgetRule{{Scope: ScopeAPIKey, Period: PeriodDay, Amount: 30}},
		Limits:  &LimitCache{Store: st},
	}
	user := &principal.Principal{UserID: u.ID, UserPublicID: u.PublicID, Kind: principal.KindUser}
	keyed := &principal.Principal{UserID: u.ID, UserPublicID: u.PublicID, Kind: principal.KindAPIKey, APIKeyID: key.ID}
	admit := func(p *principal.Principal, model string, maxTokens int) (http.Header, func(*chat.Outcome), error) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/v1/chat/completions", nil).WithContext(principal.With(t.Context(), p))
		settle, aerr := q.Admit(w, r, chat.QuotaRequest{Model: model, PromptTokens: 10, MaxTokens: maxTokens})
		if aerr != nil {
			return w.Header(), nil, aerr
		}
		return w.Header(), settle, nil
	}
	used := func(prompt, completion int) *chat.Outcome {
		return &chat.Outcome{Model: "m", Status: 200, HasUsage: true, Usage: openai.Usage{PromptTokens: prompt, CompletionTokens: completion}}
	}

	// Token limit: 10 + 900 reserved of 1000, headers set; 200 more refused
	// until the first settles at 30.
	h, settle, err := admit(user, "m", 900)
	if err != nil || h.Get(HeaderLimitTokens) != "1000" || h.Get(HeaderRemainingTokens) != "90" {
		t.Fatalf("admit = %v, headers %v", err, h)
	}
	if _, _, err := admit(user, "m", 200); err == nil {
		t.Fatal("a reservation past the limit was admitted")
	}
	settle(used(10, 20))
	if _, _, err := admit(user, "m", 200); err != nil {
		t.Fatalf("after settling: %v", err)
	}

	// Budget on the key: 30 tokens a day; the crossing request is answered,
	// the next is refused with insufficient_quota.
	for range 2 {
		_, settle, err := admit(keyed, "m", 10)
		if err != nil {
			t.Fatalf("under the key's budget: %v", err)
		}
		settle(used(10, 10))
	}
	_, _, err = admit(keyed, "m", 10)
	if ae := asAPIError(err); ae == nil || ae.Status != 429 || ae.Code != "insufficient_quota" {
		t.Fatalf("over budget = %+v", ae)
	}

	// Scope: the key may use only m2; the user is not scoped.
	if err := st.PutUsageLimits(t.Context(), u.ID, key.ID, store.UsageLimits{Models: []string{"m2"}, TokensPerDay: 1000}); err != nil {
		t.Fatal(err)
	}
	q.Limits.Forget(u.ID, key.ID)
	if ae := asAPIError(second(admit(keyed, "m", 10))); ae == nil || ae.Status != 404 || ae.Code != "model_not_found" {
		t.Fatalf("scoped key on another model = %+v", ae)
	}
	if _, _, err := admit(keyed, "m2", 10); err != nil {
		t.Fatalf("scoped key on its model (its own budget raised): %v", err)
	}
	if _, _, err := admit(user, "m", 10); err != nil {
		t.Fatalf("the user is not scoped: %v", err)
	}
}

func second(_ http.Header, _ func(*chat.Outcome), err error) error { return err }

func asAPIError(err error) *apierr.Error {
	ae, _ := err.(*apierr.Error)
	return ae
}
