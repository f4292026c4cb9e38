package auth

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

func TestUpgradeGuest(t *testing.T) {
	st := memory.New()
	env := newUserEnv(t, st, Config{})
	guest := guestLogin(t, env.srv)
	guestUser, err := st.GetUserByPublicID(t.Context(), guest.UserID)
	if err != nil {
		t.Fatal(err)
	}
	conv, _, err := st.CreateConversation(t.Context(), store.Conversation{UserID: guestUser.ID, Title: "mine"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"oidc_token":%q}`, env.token)

	resp, data := call(t, env.srv, "POST", PathUpgrade, body, bearer(guest.AccessToken))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upgrade: status %d: %s", resp.StatusCode, data)
	}
	got := decode[upgradeResponse](t, data)
	me, _, _ := whoamiAs(t, env.srv, bearer(env.token))
	if got.Status != "upgraded" || got.GuestID != guest.UserID || got.UserID != me.UserPublicID || got.Moved.Conversations != 1 {
		t.Fatalf("upgrade answer %s (user %s)", data, me.UserPublicID)
	}
	if _, err := st.GetConversation(t.Context(), me.UserID, conv.PublicID); err != nil {
		t.Errorf("the user cannot read the guest's conversation: %v", err)
	}
	// The guest's refresh token is revoked.
	resp, data = call(t, env.srv, "POST", PathRefreshToken, fmt.Sprintf(`{"refresh_token":%q}`, guest.RefreshToken))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the guest's refresh token still works: %d %s", resp.StatusCode, data)
	}
	// Again with the same guest token: nothing left, same answer.
	resp, data = call(t, env.srv, "POST", PathUpgrade, body, bearer(guest.AccessToken))
	if again := decode[upgradeResponse](t, data); resp.StatusCode != http.StatusOK || again.UserID != got.UserID || again.Moved != (upgradeMoved{}) {
		t.Errorf("second upgrade: status %d: %s", resp.StatusCode, data)
	}

	expired := env.prov.claims(time.Now().Add(-time.Hour))
	for name, tc := range map[string]struct {
		auth, body  string
		status      int
		code, param string
	}{
		"not a guest":     {bearer(env.token), body, http.StatusConflict, "not_a_guest", ""},
		"no token":        {bearer(guest.AccessToken), `{}`, http.StatusBadRequest, "missing_required_parameter", "oidc_token"},
		"no body":         {bearer(guest.AccessToken), ``, http.StatusBadRequest, "missing_required_parameter", "oidc_token"},
		"bad JSON":        {bearer(guest.AccessToken), `{"oidc_token":`, http.StatusBadRequest, "invalid_json", ""},
		"a gateway token": {bearer(guest.AccessToken), fmt.Sprintf(`{"oidc_token":%q}`, guest.AccessToken), http.StatusBadRequest, "invalid_oidc_token", "oidc_token"},
		"garbage":         {bearer(guest.AccessToken), `{"oidc_token":"x.y.z"}`, http.StatusBadRequest, "invalid_oidc_token", "oidc_token"},
		"expired":         {bearer(guest.AccessToken), fmt.Sprintf(`{"oidc_token":%q}`, env.prov.mint(t, "rsa-0", expired)), http.StatusBadRequest, "oidc_token_expired", "oidc_token"},
		"unauthenticated": {"X-None: 1", body, http.StatusUnauthorized, "missing_credentials", ""},
	} {
		t.Run(name, func(t *testing.T) {
			resp, data := call(t, env.srv, "POST", PathUpgrade, tc.body, tc.auth)
			wantError(t, resp, data, tc.status, tc.code)
			if e := apiError(t, data); e.Param != tc.param {
				t.Errorf("param = %q, want %q", e.Param, tc.param)
			}
		})
	}
	resp, data = call(t, env.srv, "GET", PathUpgrade, "", bearer(guest.AccessToken))
	wantError(t, resp, data, http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestUpgradeWithoutOIDC(t *testing.T) {
	srv := newServer(t, newService(t, nil, Config{}))
	guest := guestLogin(t, srv)
	resp, data := call(t, srv, "POST", PathUpgrade, `{"oidc_token":"a.b.c"}`, bearer(guest.AccessToken))
	wantError(t, resp, data, http.StatusBadRequest, "oidc_not_configured")
}
