package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

func TestGuestLogin(t *testing.T) {
	srv := newServer(t, newService(t, nil, Config{}))
	resp, data := call(t, srv, "POST", PathGuestLogin, "")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	tok := decode[tokenResponse](t, data)
	suiteSecrets.add(tok.AccessToken)
	suiteSecrets.add(tok.RefreshToken)

	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" {
		t.Errorf("incomplete token response: %s", data)
	}
	if ttl := time.Duration(tok.ExpiresIn) * time.Second; ttl > DefaultAccessTTL || ttl < DefaultAccessTTL-5*time.Second {
		t.Errorf("expires_in = %d, want about %v", tok.ExpiresIn, DefaultAccessTTL)
	}
	if !strings.HasPrefix(tok.UserID, "usr_") || tok.PrincipalID != tok.UserID {
		t.Errorf("user_id %q, principal_id %q: want one usr_ id", tok.UserID, tok.PrincipalID)
	}
	if !strings.HasPrefix(tok.Username, "guest-") {
		t.Errorf("username %q, want guest-…", tok.Username)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	c := refreshCookieOf(t, resp)
	if c.Value != tok.RefreshToken || !c.HttpOnly || c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/llm/auth" || c.MaxAge <= 0 {
		t.Errorf("refresh cookie %+v, want the refresh token, HttpOnly, not Secure over plain HTTP, SameSite=Lax, Path=/llm/auth", c)
	}

	p, resp, data := whoamiAs(t, srv, bearer(tok.AccessToken))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("using the access token: status %d: %s", resp.StatusCode, data)
	}
	if p.Kind != principal.KindGuest || p.Method != principal.MethodJWT || p.UserPublicID != tok.UserID || p.Issuer != DefaultIssuer {
		t.Errorf("principal %+v, want a guest by jwt with the login's user id", p)
	}

	// Two logins are two guests.
	if other := guestLogin(t, srv); other.UserID == tok.UserID {
		t.Error("two guest logins returned the same user")
	}
}

func TestGuestLoginOverTLSSetsSecureCookie(t *testing.T) {
	s := newService(t, nil, Config{})
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewTLSServer(middleware(s, mux))
	defer srv.Close()
	resp, data := call(t, srv, "POST", PathGuestLogin, "")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	tok := decode[tokenResponse](t, data)
	suiteSecrets.add(tok.AccessToken)
	suiteSecrets.add(tok.RefreshToken)
	if c := refreshCookieOf(t, resp); !c.Secure {
		t.Errorf("cookie over TLS is not Secure: %+v", c)
	}
}

func refreshCookieOf(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "refresh_token" {
			return c
		}
	}
	t.Fatalf("no refresh_token cookie in %v", resp.Header["Set-Cookie"])
	return nil
}

func TestMe(t *testing.T) {
	srv := newServer(t, newService(t, nil, Config{}))
	tok := guestLogin(t, srv)

	resp, data := call(t, srv, "GET", PathMe, "", bearer(tok.AccessToken))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	me := decode[meResponse](t, data)
	want := meResponse{
		ID: tok.UserID, UserID: tok.UserID, PrincipalID: tok.UserID, Username: tok.Username,
		Subject: me.Subject, Kind: "guest", AuthMethod: "jwt", Issuer: DefaultIssuer,
	}
	if me != want || !strings.HasPrefix(me.Subject, "guest_") {
		t.Errorf("me = %+v\nwant %+v", me, want)
	}

	resp, data = call(t, srv, "GET", PathMe, "")
	wantError(t, resp, data, http.StatusUnauthorized, "missing_credentials")
}

func TestJWKSVerifiesIssuedTokens(t *testing.T) {
	srv := newServer(t, newService(t, nil, Config{}))
	tok := guestLogin(t, srv)

	resp, data := call(t, srv, "GET", PathJWKS, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), data)
	}
	doc := decode[struct {
		Keys []map[string]string `json:"keys"`
	}](t, data)
	if len(doc.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1: %s", len(doc.Keys), data)
	}
	// Exactly these members: no private key material, nothing else.
	k := doc.Keys[0]
	var members []string
	for m := range k {
		members = append(members, m)
	}
	slices.Sort(members)
	if want := []string{"alg", "crv", "kid", "kty", "use", "x"}; !slices.Equal(members, want) {
		t.Fatalf("JWK members %v, want %v: %s", members, want, data)
	}
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["use"] != "sig" || k["kid"] == "" {
		t.Fatalf("unexpected JWK %v", k)
	}
	x, err := base64.RawURLEncoding.DecodeString(k["x"])
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := ed25519Thumbprint(x); k["kid"] != want {
		t.Errorf("kid %q, want the key's RFC 7638 thumbprint %q", k["kid"], want)
	}
	// An outside verifier with nothing but the JWKS accepts the token.
	parsed, err := jwt.Parse(tok.AccessToken, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != k["kid"] {
			return nil, jwt.ErrTokenUnverifiable
		}
		return ed25519.PublicKey(x), nil
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer(DefaultIssuer), jwt.WithAudience(DefaultIssuer))
	if err != nil || !parsed.Valid {
		t.Fatalf("verifying with the JWKS: %v", err)
	}
	if sub, _ := parsed.Claims.GetSubject(); sub != tok.UserID {
		t.Errorf("sub = %q, want %q", sub, tok.UserID)
	}
}

func TestIsPublic(t *testing.T) {
	tests := []struct {
		method, path string
		want         bool
	}{
		{"POST", "/llm/auth/guest-login", true},
		{"POST", "/llm/auth/refresh-token", true},
		{"GET", "/llm/auth/logout", true},
		{"POST", "/llm/auth/logout", true},
		{"GET", "/.well-known/jwks.json", true},
		{"HEAD", "/.well-known/jwks.json", true},
		{"GET", "/llm/auth/guest-login", false},
		{"GET", "/llm/auth/me", false},
		{"GET", "/llm/auth/api-keys", false},
		{"POST", "/llm/auth/api-keys", false},
		{"DELETE", "/llm/auth/api-keys/key_1", false},
		{"POST", "/v1/chat/completions", false},
		{"GET", "/llm/auth/guest-login/", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, "http://gw"+tt.path, nil)
		if got := publicRoutes.Match(r); got != tt.want {
			t.Errorf("public %s %s = %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestWrongMethodIsJSON(t *testing.T) {
	srv := newServer(t, newService(t, nil, Config{}))
	tok := guestLogin(t, srv)
	tests := []struct {
		method, path, allow string
	}{
		{"DELETE", PathMe, "GET, HEAD"},
		{"PUT", PathAPIKeys, "GET, HEAD, POST"},
		{"GET", PathAPIKeys + "/key_1", "DELETE"},
		{"PATCH", PathGuestLogin, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, data := call(t, srv, tt.method, tt.path, "", bearer(tok.AccessToken))
			wantError(t, resp, data, http.StatusMethodNotAllowed, "method_not_allowed")
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestAuthorizationHeaderForms(t *testing.T) {
	srv := newServer(t, newService(t, nil, Config{}))
	tok := guestLogin(t, srv)
	tests := []struct {
		name   string
		header string
		status int
		code   string
	}{
		{"lowercase scheme", "Authorization: bearer " + tok.AccessToken, http.StatusOK, ""},
		{"extra spaces", "Authorization: Bearer   " + tok.AccessToken, http.StatusOK, ""},
		{"basic scheme", "Authorization: Basic dXNlcjpwYXNz", http.StatusUnauthorized, "invalid_token"},
		{"empty bearer", "Authorization: Bearer ", http.StatusUnauthorized, "invalid_token"},
		{"no header", "X-Other: 1", http.StatusUnauthorized, "missing_credentials"},
		{"garbage", "Authorization: Bearer not-a-token", http.StatusUnauthorized, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, data := whoamiAs(t, srv, tt.header)
			if tt.status == http.StatusOK {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, data)
				}
				return
			}
			wantError(t, resp, data, tt.status, tt.code)
		})
	}
}

func TestLogout(t *testing.T) {
	tests := []struct {
		name   string
		method string
		send   func(refresh string) (body string, headers []string)
	}{
		{"POST with cookie", "POST", func(r string) (string, []string) { return "", []string{"Cookie: refresh_token=" + r} }},
		{"GET with bearer", "GET", func(r string) (string, []string) { return "", []string{bearer(r)} }},
		{"POST with body", "POST", func(r string) (string, []string) { return `{"refresh_token":"` + r + `"}`, nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, newService(t, nil, Config{}))
			tok := guestLogin(t, srv)
			body, headers := tt.send(tok.RefreshToken)
			resp, data := call(t, srv, tt.method, PathLogout, body, headers...)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), "logged out") {
				t.Fatalf("status %d: %s", resp.StatusCode, data)
			}
			if c := refreshCookieOf(t, resp); c.MaxAge >= 0 || c.Value != "" {
				t.Errorf("logout did not clear the cookie: %+v", c)
			}
			resp, data = call(t, srv, "POST", PathRefreshToken, `{"refresh_token":"`+tok.RefreshToken+`"}`)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("refresh after logout: status %d, want 401: %s", resp.StatusCode, data)
			}
		})
	}
}

func TestLogoutWithoutTokenStillClearsCookie(t *testing.T) {
	srv := newServer(t, newService(t, nil, Config{}))
	resp, data := call(t, srv, "POST", PathLogout, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	if c := refreshCookieOf(t, resp); c.MaxAge >= 0 {
		t.Errorf("cookie not cleared: %+v", c)
	}
}

// A GET carrying only the cookie, which any web page can make a browser
// send, does not log out; the same GET with the token in Authorization does.
func TestLogoutByGETNeedsAnExplicitToken(t *testing.T) {
	srv := newServer(t, newService(t, nil, Config{}))
	tok := guestLogin(t, srv)
	resp, data := call(t, srv, "GET", PathLogout, "", "Cookie: refresh_token="+tok.RefreshToken)
	wantError(t, resp, data, http.StatusMethodNotAllowed, "method_not_allowed")
	if resp.Header.Get("Allow") != "POST" {
		t.Errorf("Allow = %q, want POST", resp.Header.Get("Allow"))
	}
	if resp, data := call(t, srv, "POST", PathRefreshToken, `{"refresh_token":"`+tok.RefreshToken+`"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("the session ended on a cookie-only GET: refresh status %d: %s", resp.StatusCode, data)
	}
}

func TestMeForDeletedUserIsRefused(t *testing.T) {
	// A principal whose user row is gone (the store was reset) is not
	// served stale data.
	s := newService(t, nil, Config{})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", PathMe, nil)
	req = req.WithContext(principal.With(req.Context(), &principal.Principal{UserID: 424242, Kind: store.UserKindUser}))
	s.handleMe(rec, req)
	wantError(t, rec.Result(), rec.Body.Bytes(), http.StatusUnauthorized, "invalid_token")
}
