package auth

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

func TestRefreshRotatesAndDetectsReuse(t *testing.T) { testRefreshRotation(t, memory.New()) }

func testRefreshRotation(t *testing.T, st store.Store) {
	srv := newServer(t, newService(t, st, Config{}))
	first := guestLogin(t, srv)

	resp, data := call(t, srv, "POST", PathRefreshToken, `{"refresh_token":"`+first.RefreshToken+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: status %d: %s", resp.StatusCode, data)
	}
	second := decode[tokenResponse](t, data)
	suiteSecrets.add(second.AccessToken)
	suiteSecrets.add(second.RefreshToken)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == "" || second.TokenType != "Bearer" || second.ExpiresIn <= 0 {
		t.Fatalf("refresh did not rotate: %s", data)
	}
	if second.UserID != first.UserID {
		t.Errorf("refresh changed the user: %q → %q", first.UserID, second.UserID)
	}
	if c := refreshCookieOf(t, resp); c.Value != second.RefreshToken {
		t.Error("refresh did not set the new token's cookie")
	}
	if p, resp, data := whoamiAs(t, srv, bearer(second.AccessToken)); resp.StatusCode != http.StatusOK || p.UserPublicID != first.UserID {
		t.Fatalf("new access token: status %d: %s", resp.StatusCode, data)
	}

	// The first token again: someone else holds a copy. Its whole family
	// is revoked, the legitimate newer token included.
	resp, data = call(t, srv, "POST", PathRefreshToken, `{"refresh_token":"`+first.RefreshToken+`"}`)
	wantError(t, resp, data, http.StatusUnauthorized, "refresh_token_reused")
	if c := refreshCookieOf(t, resp); c.MaxAge >= 0 {
		t.Error("a refused refresh did not clear the cookie")
	}
	resp, data = call(t, srv, "POST", PathRefreshToken, `{"refresh_token":"`+second.RefreshToken+`"}`)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token of a revoked family: status %d, want 401: %s", resp.StatusCode, data)
	}

	// Another login's family is untouched.
	other := guestLogin(t, srv)
	resp, data = call(t, srv, "POST", PathRefreshToken, `{"refresh_token":"`+other.RefreshToken+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("unrelated family: status %d: %s", resp.StatusCode, data)
	}
	suiteSecrets.add(decode[tokenResponse](t, data).RefreshToken)
}

func TestRefreshTokenSources(t *testing.T) {
	tests := []struct {
		name    string
		body    func(string) string
		headers func(string) []string
	}{
		{"json body", func(r string) string { return `{"refresh_token":"` + r + `"}` }, func(string) []string { return nil }},
		{"cookie", func(string) string { return "" }, func(r string) []string { return []string{"Cookie: refresh_token=" + r} }},
		{"bearer", func(string) string { return "" }, func(r string) []string { return []string{bearer(r)} }},
		{"body wins over an expired access token", func(r string) string { return `{"refresh_token":"` + r + `"}` },
			func(string) []string { return []string{bearer("eyJhbGciOiJFZERTQSJ9.e30.c2ln")} }},
		{"cookie next to an access token", func(string) string { return "" },
			func(r string) []string {
				return []string{"Cookie: refresh_token=" + r, bearer("eyJhbGciOiJFZERTQSJ9.e30.c2ln")}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, newService(t, nil, Config{}))
			tok := guestLogin(t, srv)
			resp, data := call(t, srv, "POST", PathRefreshToken, tt.body(tok.RefreshToken), tt.headers(tok.RefreshToken)...)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, data)
			}
			got := decode[tokenResponse](t, data)
			suiteSecrets.add(got.AccessToken)
			suiteSecrets.add(got.RefreshToken)
			if got.UserID != tok.UserID {
				t.Errorf("user %q, want %q", got.UserID, tok.UserID)
			}
		})
	}
}

func TestRefreshErrors(t *testing.T) {
	srv := newServer(t, newService(t, nil, Config{}))
	tests := []struct {
		name, body string
		headers    []string
		status     int
		code       string
	}{
		{"no token", "", nil, http.StatusBadRequest, "missing_refresh_token"},
		{"empty json", "{}", nil, http.StatusBadRequest, "missing_refresh_token"},
		{"invalid json", "{", nil, http.StatusBadRequest, "invalid_json"},
		{"malformed token", `{"refresh_token":"abc"}`, nil, http.StatusUnauthorized, "invalid_refresh_token"},
		{"unknown token", `{"refresh_token":"` + newOpaqueToken() + `"}`, nil, http.StatusUnauthorized, "invalid_refresh_token"},
		{"api key as bearer", "", []string{bearer("sk_" + newOpaqueToken())}, http.StatusBadRequest, "missing_refresh_token"},
		{"huge body", `{"refresh_token":"` + strings.Repeat("a", 70<<10) + `"}`, nil, http.StatusRequestEntityTooLarge, "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := call(t, srv, "POST", PathRefreshToken, tt.body, tt.headers...)
			wantError(t, resp, data, tt.status, tt.code)
		})
	}
}

func TestRefreshTokenExpires(t *testing.T) {
	clock := newFakeClock()
	srv := newServer(t, newService(t, nil, Config{Now: clock.Now, RefreshTTL: time.Hour}))
	tok := guestLogin(t, srv)
	clock.Advance(time.Hour + time.Second)
	resp, data := call(t, srv, "POST", PathRefreshToken, `{"refresh_token":"`+tok.RefreshToken+`"}`)
	wantError(t, resp, data, http.StatusUnauthorized, "refresh_token_expired")
}

func TestAccessTokenExpires(t *testing.T) {
	clock := newFakeClock()
	srv := newServer(t, newService(t, nil, Config{Now: clock.Now, AccessTTL: time.Minute}))
	tok := guestLogin(t, srv)

	// Verified once, then served from the token cache…
	for range 2 {
		if _, resp, data := whoamiAs(t, srv, bearer(tok.AccessToken)); resp.StatusCode != http.StatusOK {
			t.Fatalf("fresh token: status %d: %s", resp.StatusCode, data)
		}
	}
	// …which must not outlive the token. Within the leeway it still works.
	clock.Advance(time.Minute + gatewayLeeway/2)
	if _, resp, data := whoamiAs(t, srv, bearer(tok.AccessToken)); resp.StatusCode != http.StatusOK {
		t.Fatalf("token within the leeway: status %d: %s", resp.StatusCode, data)
	}
	clock.Advance(gatewayLeeway)
	_, resp, data := whoamiAs(t, srv, bearer(tok.AccessToken))
	wantError(t, resp, data, http.StatusUnauthorized, "token_expired")

	// The refresh token still gives a new one.
	resp, data = call(t, srv, "POST", PathRefreshToken, `{"refresh_token":"`+tok.RefreshToken+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: status %d: %s", resp.StatusCode, data)
	}
	next := decode[tokenResponse](t, data)
	suiteSecrets.add(next.AccessToken)
	suiteSecrets.add(next.RefreshToken)
	if _, resp, data := whoamiAs(t, srv, bearer(next.AccessToken)); resp.StatusCode != http.StatusOK {
		t.Fatalf("refreshed token: status %d: %s", resp.StatusCode, data)
	}
}
