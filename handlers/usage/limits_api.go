package usage

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// Routes of the limits API.
const (
	PathAdminLimits = "/v1/admin/usage/limits"
	PathKeyLimits   = "/v1/usage/keys/{key_id}/limits"
)

// Bounds of a limits body.
const (
	maxLimitsBody = 16 << 10
	maxModels     = 100
	maxModelID    = 256
)

// limitsBody is the limits API's JSON: budgets in tokens or cost (in the
// prices' unit) per day and month, a key's own token rate per minute and
// its model list. In a PUT, a member left out keeps its value.
type limitsBody struct {
	TokensPerDay    *int64   `json:"tokens_per_day,omitempty"`
	TokensPerMonth  *int64   `json:"tokens_per_month,omitempty"`
	CostPerDay      *float64 `json:"cost_per_day,omitempty"`
	CostPerMonth    *float64 `json:"cost_per_month,omitempty"`
	TokensPerMinute *int64   `json:"tokens_per_minute,omitempty"`
	Models          []string `json:"models,omitempty"`
	SetByAdmin      bool     `json:"set_by_admin"`
}

func bodyOf(l store.UsageLimits) limitsBody {
	b := limitsBody{Models: l.Models, SetByAdmin: l.SetByAdmin}
	set := func(v int64) *int64 {
		if v == 0 {
			return nil
		}
		return &v
	}
	cost := func(v int64) *float64 {
		if v == 0 {
			return nil
		}
		f := float64(v) / 1e9
		return &f
	}
	b.TokensPerDay, b.TokensPerMonth, b.TokensPerMinute = set(l.TokensPerDay), set(l.TokensPerMonth), set(l.TokensPerMinute)
	b.CostPerDay, b.CostPerMonth = cost(l.CostNanosPerDay), cost(l.CostNanosPerMonth)
	return b
}

// apply sets the members given onto l; a zero removes a limit.
func (b limitsBody) apply(l store.UsageLimits) (store.UsageLimits, *apierr.Error) {
	ints := []struct {
		name string
		v    *int64
		dst  *int64
	}{
		{"tokens_per_day", b.TokensPerDay, &l.TokensPerDay},
		{"tokens_per_month", b.TokensPerMonth, &l.TokensPerMonth},
		{"tokens_per_minute", b.TokensPerMinute, &l.TokensPerMinute},
	}
	for _, f := range ints {
		if f.v == nil {
			continue
		}
		if *f.v < 0 || *f.v > 1<<40 {
			return l, invalid(f.name, f.name+" must be a whole number of tokens from 0 (no limit) to 2^40")
		}
		*f.dst = *f.v
	}
	costs := []struct {
		name string
		v    *float64
		dst  *int64
	}{
		{"cost_per_day", b.CostPerDay, &l.CostNanosPerDay},
		{"cost_per_month", b.CostPerMonth, &l.CostNanosPerMonth},
	}
	for _, f := range costs {
		if f.v == nil {
			continue
		}
		if *f.v < 0 || *f.v > 1e9 || math.IsNaN(*f.v) {
			return l, invalid(f.name, f.name+" must be an amount from 0 (no limit) to 1e9")
		}
		*f.dst = int64(math.Round(*f.v * 1e9))
	}
	if b.Models != nil {
		if len(b.Models) > maxModels {
			return l, invalid("models", "models holds at most 100 ids")
		}
		for _, m := range b.Models {
			if m == "" || len(m) > maxModelID {
				return l, invalid("models", "models holds model ids of 1 to 256 bytes")
			}
		}
		l.Models = slices.Clone(b.Models)
	}
	return l, nil
}

// adminLimits serves GET, PUT and DELETE /v1/admin/usage/limits?user_id=
// [&api_key_id=]: the limits of a user, or of one of its keys.
func (h *Handler) adminLimits(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	if !h.isAdmin(p) {
		httpx.WriteRouteNotFound(w, r)
		return nil
	}
	v := r.URL.Query()
	userID, aerr := single(v, "user_id")
	if aerr != nil {
		return aerr
	}
	if userID == "" {
		return invalid("user_id", "user_id is required")
	}
	u, err := h.Store.GetUserByPublicID(r.Context(), userID)
	if err != nil {
		return httpx.About("user", err)
	}
	keyPublicID, aerr := single(v, "api_key_id")
	if aerr != nil {
		return aerr
	}
	var keyID int64
	if keyPublicID != "" {
		if keyID, err = h.keyID(r, u.ID, keyPublicID); err != nil {
			return err
		}
	}
	switch r.Method {
	case http.MethodGet:
		l, err := h.Store.GetUsageLimits(r.Context(), u.ID, keyID)
		if err != nil {
			return httpx.About("limits", err)
		}
		httpx.WriteJSON(w, http.StatusOK, bodyOf(l))
	case http.MethodDelete:
		if err := h.Store.DeleteUsageLimits(r.Context(), u.ID, keyID); err != nil {
			return httpx.About("limits", err)
		}
		h.forget(u.ID, keyID)
		w.WriteHeader(http.StatusNoContent)
	default: // PUT
		var body limitsBody
		if aerr := httpx.DecodeJSON(w, r, maxLimitsBody, &body); aerr != nil {
			return aerr
		}
		l, err := h.Store.GetUsageLimits(r.Context(), u.ID, keyID)
		if err != nil && !isNotFound(err) {
			return err
		}
		l, aerr := body.apply(l)
		if aerr != nil {
			return aerr
		}
		l.SetByAdmin = true
		if err := h.Store.PutUsageLimits(r.Context(), u.ID, keyID, l); err != nil {
			return httpx.About("limits", err)
		}
		h.forget(u.ID, keyID)
		httpx.WriteJSON(w, http.StatusOK, bodyOf(l))
	}
	return nil
}

// keyLimits serves GET and PUT /v1/usage/keys/{key_id}/limits: a user's
// limits on their own key. A user may only lower them: a PUT may not raise
// or remove a limit the key has (from an operator or the defaults), and may
// only narrow a model list. Requests with an API key may only read.
func (h *Handler) keyLimits(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	keyID, err := h.keyID(r, p.UserID, r.PathValue("key_id"))
	if err != nil {
		return err
	}
	current, err := h.Store.GetUsageLimits(r.Context(), p.UserID, keyID)
	if err != nil && !isNotFound(err) {
		return err
	}
	if r.Method == http.MethodGet {
		httpx.WriteJSON(w, http.StatusOK, bodyOf(current))
		return nil
	}
	if p.Kind == principal.KindAPIKey {
		return apierr.New(http.StatusForbidden, "forbidden", "an API key cannot change limits; sign in")
	}
	var body limitsBody
	if aerr := httpx.DecodeJSON(w, r, maxLimitsBody, &body); aerr != nil {
		return aerr
	}
	next, aerr := body.apply(current)
	if aerr != nil {
		return aerr
	}
	if aerr := h.onlyLower(current, next); aerr != nil {
		return aerr
	}
	if err := h.Store.PutUsageLimits(r.Context(), p.UserID, keyID, next); err != nil {
		return httpx.About("API key", err)
	}
	h.forget(p.UserID, keyID)
	httpx.WriteJSON(w, http.StatusOK, bodyOf(next))
	return nil
}

// onlyLower checks that next raises or removes no limit of the key: each
// limit must stay at or below what applies now (the key's own, else the
// default for keys), and a model list may only shrink.
func (h *Handler) onlyLower(current, next store.UsageLimits) *apierr.Error {
	fields := []struct {
		name           string
		was, now       int64
		cost           bool
		period, minute string
	}{
		{name: "tokens_per_day", was: current.TokensPerDay, now: next.TokensPerDay, period: PeriodDay},
		{name: "tokens_per_month", was: current.TokensPerMonth, now: next.TokensPerMonth, period: PeriodMonth},
		{name: "cost_per_day", was: current.CostNanosPerDay, now: next.CostNanosPerDay, cost: true, period: PeriodDay},
		{name: "cost_per_month", was: current.CostNanosPerMonth, now: next.CostNanosPerMonth, cost: true, period: PeriodMonth},
		{name: "tokens_per_minute", was: current.TokensPerMinute, now: next.TokensPerMinute, minute: "1"},
	}
	for _, f := range fields {
		if f.now == f.was {
			continue
		}
		applies := f.was
		if applies == 0 && h.Quota != nil {
			if f.minute != "" {
				applies = h.Quota.tierMinute(principal.KindAPIKey)
			} else {
				for _, d := range h.Quota.Budgets {
					if d.Scope == ScopeAPIKey && d.Cost == f.cost && d.Period == f.period {
						applies = d.Amount
					}
				}
			}
		}
		if applies > 0 && (f.now == 0 || f.now > applies) {
			return invalid(f.name, f.name+" may only be lowered on your own key (it is at most "+formatAmount(applies, f.cost)+")")
		}
	}
	if len(current.Models) > 0 {
		if len(next.Models) == 0 {
			return invalid("models", "models may only be narrowed on your own key")
		}
		for _, m := range next.Models {
			if !slices.Contains(current.Models, m) {
				return invalid("models", "models may only be narrowed on your own key")
			}
		}
	}
	return nil
}

// tierMinute returns the per-minute token limit of a tier, or zero.
func (q *Quota) tierMinute(kind string) int64 {
	for _, l := range q.Tiers[kind] {
		if l.Period == time.Minute {
			return int64(l.Capacity())
		}
	}
	return 0
}

func formatAmount(v int64, cost bool) string {
	if cost {
		return strconv.FormatFloat(float64(v)/1e9, 'f', -1, 64)
	}
	return strconv.FormatInt(v, 10)
}

// keyID returns the internal id of the user's key with the public id; a
// key of another user is a 404.
func (h *Handler) keyID(r *http.Request, userID int64, publicID string) (int64, error) {
	keys, err := h.Store.ListAPIKeys(r.Context(), userID)
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if k.PublicID == publicID {
			return k.ID, nil
		}
	}
	return 0, apierr.NotFound("API key")
}

func (h *Handler) forget(userID, keyID int64) {
	if h.Quota != nil && h.Quota.Limits != nil {
		h.Quota.Limits.Forget(userID, keyID)
	}
}
