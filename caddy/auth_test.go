package main

// Authentication through a real Caddy on PostgreSQL, with an OIDC provider
// on loopback: every endpoint of /llm/auth, token rotation and expiry, API
// keys, revocation across replicas, forged credentials, client-sent
// identity headers and the official OpenAI SDK. Every test that runs in
// process captures Caddy's logs at debug level and checks that no
// credential it handled shows up in them.

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/option"

	"github.com/caddy-llm/gateway/store/storetest"
)

// Guest login, /me, the JWKS, refresh by body, Bearer and cookie with
// rotation and reuse detection, and logout, each as a client sees them.
func TestAuthGuestSessionLifecycle(t *testing.T) {
	e := startAuthGateway(t, authOptions{Auth: "access_ttl 10m"})

	// Guest login: 201 with the fields Jan's clients read.
	r := e.do("POST", "/llm/auth/guest-login", nil)
	s := e.wantSession(t, r, http.StatusCreated)
	if s.Body["token_type"] != "Bearer" {
		t.Errorf("token_type = %v, want Bearer", s.Body["token_type"])
	}
	if in, _ := s.Body["expires_in"].(float64); in < 590 || in > 600 {
		t.Errorf("expires_in = %v, want about 600 (access_ttl 10m)", s.Body["expires_in"])
	}
	if !strings.HasPrefix(s.UserID, "usr_") || s.Body["principal_id"] != s.UserID {
		t.Errorf("user_id = %q, principal_id = %v; want one usr_ id in both", s.UserID, s.Body["principal_id"])
	}
	if u, _ := s.Body["username"].(string); u == "" {
		t.Errorf("username is empty: %v", s.Body)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control = %q on a response carrying tokens, want no-store", cc)
	}
	cookie := refreshCookie(t, r)
	if cookie.Value != s.Refresh || !cookie.HttpOnly || cookie.Path != "/llm/auth" {
		t.Errorf("refresh cookie = %+v, want the refresh token, HttpOnly, Path /llm/auth", cookie)
	}

	// /me and the identity headers of an authenticated response.
	me := e.do("GET", "/llm/auth/me", nil, bearerHeader(s.Access)...)
	if me.Status != http.StatusOK {
		t.Fatalf("/me = %d %s", me.Status, me.Body)
	}
	m := me.JSON(t)
	if m["id"] != s.UserID || m["user_id"] != s.UserID || m["kind"] != "guest" || m["auth_method"] != "jwt" {
		t.Errorf("/me = %v, want the guest %s authenticated by jwt", m, s.UserID)
	}
	wantIdentityHeaders(t, me, "jwt", s.UserID)

	// The JWKS is public and verifies the access token.
	jwks := e.do("GET", "/.well-known/jwks.json", nil)
	if jwks.Status != http.StatusOK {
		t.Fatalf("JWKS = %d %s", jwks.Status, jwks.Body)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(s.Access, claims, gatewayKeyFunc(t, jwks.Body), jwt.WithValidMethods([]string{"EdDSA"})); err != nil {
		t.Fatalf("the access token does not verify with the published JWKS: %v", err)
	}
	if claims["sub"] != s.UserID || claims["iss"] != "caddy-llm-gateway" {
		t.Errorf("access token claims = %v, want sub %s, iss caddy-llm-gateway", claims, s.UserID)
	}

	// Refresh with the token in the body: a new pair for the same user.
	s2 := e.wantSession(t, e.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": s.Refresh}), http.StatusOK)
	if s2.UserID != s.UserID || s2.Access == s.Access || s2.Refresh == s.Refresh {
		t.Fatalf("refresh gave user %s (want %s), and must rotate both tokens", s2.UserID, s.UserID)
	}
	if r := e.do("GET", "/llm/auth/me", nil, bearerHeader(s2.Access)...); r.Status != http.StatusOK {
		t.Fatalf("/me with the refreshed access token = %d %s", r.Status, r.Body)
	}

	// Reusing a rotated refresh token revokes the whole family: the thief
	// and the owner both have to log in again.
	wantError(t, e.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": s.Refresh}),
		http.StatusUnauthorized, "refresh_token_reused")
	wantError(t, e.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": s2.Refresh}),
		http.StatusUnauthorized, "")

	// Refresh with the token as a Bearer credential.
	b := e.guestLogin(t)
	b2 := e.wantSession(t, e.do("POST", "/llm/auth/refresh-token", nil, bearerHeader(b.Refresh)...), http.StatusOK)
	if b2.UserID != b.UserID || b2.Refresh == b.Refresh {
		t.Fatalf("Bearer refresh: user %s (want %s); the refresh token must rotate", b2.UserID, b.UserID)
	}

	// Refresh from the cookie, as a browser does; the answer sets the
	// rotated token in the cookie.
	c := e.guestLogin(t)
	cr := e.do("POST", "/llm/auth/refresh-token", nil, "Cookie", "refresh_token="+c.Refresh)
	c2 := e.wantSession(t, cr, http.StatusOK)
	if c2.UserID != c.UserID || refreshCookie(t, cr).Value != c2.Refresh {
		t.Fatalf("cookie refresh: user %s (want %s), cookie must hold the new refresh token", c2.UserID, c.UserID)
	}

	// Logout with the cookie clears it and ends the session.
	out := e.do("POST", "/llm/auth/logout", nil, "Cookie", "refresh_token="+c2.Refresh)
	if out.Status != http.StatusOK {
		t.Fatalf("logout = %d %s", out.Status, out.Body)
	}
	if ck := refreshCookie(t, out); ck.Value != "" || ck.MaxAge >= 0 {
		t.Errorf("logout cookie = %+v, want it cleared", ck)
	}
	wantError(t, e.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": c2.Refresh}),
		http.StatusUnauthorized, "")

	// Logout with the refresh token as a Bearer credential.
	if r := e.do("GET", "/llm/auth/logout", nil, bearerHeader(b2.Refresh)...); r.Status != http.StatusOK {
		t.Fatalf("Bearer logout = %d %s", r.Status, r.Body)
	}
	wantError(t, e.do("POST", "/llm/auth/refresh-token", nil, bearerHeader(b2.Refresh)...), http.StatusUnauthorized, "")

	// A refresh without a token is a client error, not a 401 or a 5xx.
	wantError(t, e.do("POST", "/llm/auth/refresh-token", nil), http.StatusBadRequest, "missing_refresh_token")
}

// API keys: guests may not create them; an OIDC user creates, lists, uses
// (X-API-Key and Bearer sk_…) and deletes them; a key cannot mint keys; a
// deleted key stops working at once.
func TestAuthAPIKeyLifecycle(t *testing.T) {
	e := startAuthGateway(t, authOptions{})

	guest := e.guestLogin(t)
	wantError(t, e.do("POST", "/llm/auth/api-keys", map[string]string{"name": "nope"}, bearerHeader(guest.Access)...),
		http.StatusForbidden, "guest_not_allowed")

	// An OIDC user, known to the gateway from its first token.
	alice := e.oidc.token("alice")
	me := e.do("GET", "/llm/auth/me", nil, bearerHeader(alice)...)
	if me.Status != http.StatusOK {
		t.Fatalf("/me with an OIDC token = %d %s", me.Status, me.Body)
	}
	am := me.JSON(t)
	aliceID, _ := am["id"].(string)
	if am["kind"] != "user" || am["email"] != "alice@example.com" || am["issuer"] != e.oidc.issuer {
		t.Fatalf("/me for the OIDC user = %v", am)
	}
	wantIdentityHeaders(t, me, "jwt", aliceID)
	// Every token of the subject maps to the same user.
	if r := e.do("GET", "/llm/auth/me", nil, bearerHeader(e.oidc.token("alice"))...); r.JSON(t)["id"] != aliceID {
		t.Fatalf("a second token of the same subject is another user: %s", r.Body)
	}
	if r := e.do("GET", "/llm/auth/me", nil, bearerHeader(e.oidc.token("bob"))...); r.JSON(t)["id"] == aliceID {
		t.Fatalf("another subject maps to Alice's user: %s", r.Body)
	}

	created := e.createAPIKey(t, alice, map[string]string{"name": "ci"})
	key, _ := created["key"].(string)
	keyID, _ := created["id"].(string)
	if created["name"] != "ci" || created["prefix"] != key[:8] || created["suffix"] != key[len(key)-4:] || created["status"] != "active" || keyID == "" {
		t.Fatalf("created key = %v", created)
	}

	// Listed without the key itself.
	list := e.do("GET", "/llm/auth/api-keys", nil, bearerHeader(alice)...)
	if list.Status != http.StatusOK {
		t.Fatalf("listing keys = %d %s", list.Status, list.Body)
	}
	items, _ := list.JSON(t)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != keyID {
		t.Fatalf("key list = %s, want the one key", list.Body)
	}
	if strings.Contains(string(list.Body), key) || strings.Contains(string(list.Body), `"key"`) {
		t.Fatalf("the key list shows the key: %s", list.Body)
	}

	// Both ways to present a key authenticate as Alice, with X-Auth-Method
	// apikey.
	for _, hdr := range [][]string{{"X-API-Key", key}, bearerHeader(key)} {
		r := e.do("GET", "/llm/auth/me", nil, hdr...)
		if r.Status != http.StatusOK {
			t.Fatalf("/me with the key in %s = %d %s", hdr[0], r.Status, r.Body)
		}
		m := r.JSON(t)
		if m["id"] != aliceID || m["kind"] != "api_key" || m["auth_method"] != "apikey" {
			t.Fatalf("/me with the key in %s = %v", hdr[0], m)
		}
		wantIdentityHeaders(t, r, "apikey", aliceID)
		if r := e.do("GET", "/v1/conversations", nil, hdr...); r.Status != http.StatusOK {
			t.Fatalf("GET /v1/conversations with the key in %s = %d %s", hdr[0], r.Status, r.Body)
		}
	}

	// A body over the limit is refused by Caddy's request_body before the
	// API runs; Caddy logs such requests with their headers (see
	// credentialLogFilter).
	wantError(t, e.do("POST", "/v1/conversations", strings.Repeat("x", 100<<10), "X-API-Key", key),
		http.StatusRequestEntityTooLarge, "request_too_large")

	// A key cannot create keys, and a guest cannot delete Alice's key.
	wantError(t, e.do("POST", "/llm/auth/api-keys", nil, "X-API-Key", key), http.StatusForbidden, "api_key_not_allowed")
	wantError(t, e.do("DELETE", "/llm/auth/api-keys/"+keyID, nil, bearerHeader(guest.Access)...), http.StatusNotFound, "")
	if r := e.do("GET", "/llm/auth/me", nil, "X-API-Key", key); r.Status != http.StatusOK {
		t.Fatalf("the key stopped working after a stranger's delete: %d %s", r.Status, r.Body)
	}

	// Delete: 204, then the key is refused and no longer listed.
	if r := e.do("DELETE", "/llm/auth/api-keys/"+keyID, nil, bearerHeader(alice)...); r.Status != http.StatusNoContent {
		t.Fatalf("deleting the key = %d %s", r.Status, r.Body)
	}
	wantUnauthorized(t, e.do("GET", "/llm/auth/me", nil, "X-API-Key", key), "invalid_api_key")
	wantUnauthorized(t, e.do("GET", "/v1/conversations", nil, bearerHeader(key)...), "invalid_api_key")
	if r := e.do("GET", "/llm/auth/api-keys", nil, bearerHeader(alice)...); strings.Contains(string(r.Body), keyID) {
		t.Fatalf("the deleted key is still listed: %s", r.Body)
	}
	wantError(t, e.do("DELETE", "/llm/auth/api-keys/"+keyID, nil, bearerHeader(alice)...), http.StatusNotFound, "")
}

// Health, version, guest login, refresh and the JWKS need no credentials,
// and bad credentials do not break them; every other route answers 401 with
// a Bearer challenge.
func TestAuthPublicAndProtectedRoutes(t *testing.T) {
	e := startAuthGateway(t, authOptions{})

	for _, creds := range [][]string{nil, bearerHeader("not-a-token"), bearerHeader("a.b.c"), {"X-API-Key", "sk_garbage"}} {
		// Refresh is public but needs a refresh token; an opaque Bearer
		// credential is taken for one.
		refreshStatus := http.StatusBadRequest
		if creds != nil && creds[1] == "Bearer not-a-token" {
			refreshStatus = http.StatusUnauthorized
		}
		for _, rt := range []struct {
			method, path string
			status       int
		}{
			{"GET", "/v1/healthz", http.StatusOK},
			{"GET", "/v1/readyz", http.StatusOK},
			{"GET", "/v1/version", http.StatusOK},
			{"GET", "/llm/v1/healthz", http.StatusOK},
			{"GET", "/.well-known/jwks.json", http.StatusOK},
			{"POST", "/llm/auth/guest-login", http.StatusCreated},
			{"POST", "/llm/auth/refresh-token", refreshStatus},
		} {
			r := e.do(rt.method, rt.path, nil, creds...)
			if r.Status != rt.status {
				t.Errorf("%s %s with credentials %v = %d, want %d; body %s", rt.method, rt.path, credName(creds), r.Status, rt.status, r.Body)
			}
			if rt.path == "/llm/auth/guest-login" && r.Status == http.StatusCreated {
				e.wantSession(t, r, http.StatusCreated)
			}
		}
	}

	for _, rt := range []struct{ method, path string }{
		{"GET", "/v1/conversations"},
		{"POST", "/v1/conversations"},
		{"GET", "/llm/v1/conversations"},
		{"GET", "/v1/projects"},
		{"GET", "/v1/users/me/settings"},
		{"GET", "/llm/auth/me"},
		{"GET", "/llm/auth/api-keys"},
		{"POST", "/llm/auth/api-keys"},
		{"DELETE", "/llm/auth/api-keys/key_123"},
	} {
		r := e.do(rt.method, rt.path, nil)
		wantUnauthorized(t, r, "missing_credentials")
	}
	// A path no route serves is a 404 (issue #13): nothing is served there,
	// so it is no way round the check, and a 401 would hide the typo.
	wantError(t, e.do("GET", "/v1/no-such-route", nil), http.StatusNotFound, "route_not_found")
}

func credName(creds []string) string {
	if creds == nil {
		return "none"
	}
	return creds[0]
}

// Forged, tampered, expired and misdirected credentials are each a 401 with
// a Bearer challenge in the spec's error shape, never a server error, and
// valid credentials still work afterwards.
func TestAuthRejectsForgedCredentials(t *testing.T) {
	e := startAuthGateway(t, authOptions{})
	p := e.oidc

	guest := e.guestLogin(t)
	alice := p.token("alice")
	key, _ := e.createAPIKey(t, alice, map[string]string{"name": "attack target"})["key"].(string)

	jwks := e.do("GET", "/.well-known/jwks.json", nil).Body
	gatewayPub, gatewayKID := gatewayPublicKey(t, jwks)
	gatewayPubPEM := pemPublicKey(t, gatewayPub)
	rsaPubPEM := pemPublicKey(t, &p.key.PublicKey)
	guestClaims := payloadOf(t, guest.Access)

	now := time.Now()
	with := func(claims jwt.MapClaims, changes map[string]any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		for k, v := range changes {
			c[k] = v
		}
		return c
	}
	bigClaims := p.claims("alice")
	bigClaims["padding"] = strings.Repeat("x", 9000)

	cases := []struct {
		name  string
		creds []string
		code  string
	}{
		{"alg none with the gateway's issuer", bearerHeader(unsignedToken(t, guestClaims, gatewayKID)), "invalid_token"},
		{"alg none with the OIDC issuer", bearerHeader(unsignedToken(t, p.claims("alice"), rsaSignerKID)), "invalid_token"},
		{"HS256 keyed with the gateway's raw public key", bearerHeader(hmacSigned(t, guestClaims, gatewayKID, gatewayPub)), "invalid_token"},
		{"HS256 keyed with the gateway's public key PEM", bearerHeader(hmacSigned(t, guestClaims, gatewayKID, gatewayPubPEM)), "invalid_token"},
		{"HS256 keyed with the gateway's JWK x", bearerHeader(hmacSigned(t, guestClaims, gatewayKID, []byte(base64.RawURLEncoding.EncodeToString(gatewayPub)))), "invalid_token"},
		{"HS256 keyed with the OIDC public key PEM", bearerHeader(hmacSigned(t, p.claims("alice"), rsaSignerKID, rsaPubPEM)), "invalid_token"},
		{"HS256 keyed with the OIDC public key DER", bearerHeader(hmacSigned(t, p.claims("alice"), rsaSignerKID, x509.MarshalPKCS1PublicKey(&p.key.PublicKey))), "invalid_token"},
		{"expired OIDC token", bearerHeader(p.sign(with(p.claims("alice"), map[string]any{
			"exp": now.Add(-10 * time.Minute).Unix(), "iat": now.Add(-20 * time.Minute).Unix(), "nbf": now.Add(-20 * time.Minute).Unix(),
		}), rsaSignerKID, p.key)), "token_expired"},
		{"OIDC token not valid before a future time", bearerHeader(p.sign(with(p.claims("alice"), map[string]any{"nbf": now.Add(10 * time.Minute).Unix()}), rsaSignerKID, p.key)), "invalid_token"},
		{"wrong issuer", bearerHeader(p.sign(with(p.claims("alice"), map[string]any{"iss": "https://evil.example/realms/jan"}), rsaSignerKID, p.key)), "invalid_token"},
		{"wrong audience", bearerHeader(p.sign(with(p.claims("alice"), map[string]any{"aud": []string{"another-service"}}), rsaSignerKID, p.key)), "invalid_token"},
		{"no audience", bearerHeader(p.sign(with(p.claims("alice"), map[string]any{"aud": nil}), rsaSignerKID, p.key)), "invalid_token"},
		{"unknown kid, key never published", bearerHeader(p.sign(p.claims("alice"), rsaRogueKID, p.rogue)), "invalid_token"},
		{"published kid, signed by another key", bearerHeader(p.sign(p.claims("alice"), rsaSignerKID, p.rogue)), "invalid_token"},
		{"unknown kid with the gateway's issuer", bearerHeader(edSigned(t, guestClaims, "made-up-kid")), "invalid_token"},
		{"gateway token with another user's id", bearerHeader(rewritePayload(t, guest.Access, func(c map[string]any) { c["sub"] = "usr_someoneelse" })), "invalid_token"},
		{"gateway token with a later expiry", bearerHeader(rewritePayload(t, guest.Access, func(c map[string]any) { c["exp"] = now.Add(24 * time.Hour).Unix() })), "invalid_token"},
		{"OIDC token with another subject", bearerHeader(rewritePayload(t, alice, func(c map[string]any) { c["sub"] = "bob" })), "invalid_token"},
		{"guest token presented as an OIDC token", bearerHeader(rewritePayload(t, guest.Access, func(c map[string]any) {
			c["iss"], c["aud"] = p.issuer, oidcAudience
		})), "invalid_token"},
		{"OIDC token presented as a gateway token", bearerHeader(rewritePayload(t, alice, func(c map[string]any) {
			c["iss"], c["aud"] = "caddy-llm-gateway", "caddy-llm-gateway"
		})), "invalid_token"},
		{"truncated signature", bearerHeader(guest.Access[:len(guest.Access)-1]), "invalid_token"},
		{"signature cut off", bearerHeader(guest.Access[:strings.LastIndexByte(guest.Access, '.')+1]), "invalid_token"},
		{"two segments", bearerHeader(guest.Access[:strings.LastIndexByte(guest.Access, '.')]), "invalid_token"},
		{"half a token", bearerHeader(guest.Access[:len(guest.Access)/2]), "invalid_token"},
		{"validly signed but oversized token", bearerHeader(p.sign(bigClaims, rsaSignerKID, p.key)), "invalid_token"},
		{"12 KiB of garbage", bearerHeader(strings.Repeat("A", 12<<10)), "invalid_token"},
		{"refresh token as an access token", bearerHeader(guest.Refresh), "invalid_token"},
		{"Basic scheme", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:secret"))}, "invalid_token"},
		{"API key with one character changed, X-API-Key", []string{"X-API-Key", changeOneChar(key)}, "invalid_api_key"},
		{"API key with one character changed, Bearer", bearerHeader(changeOneChar(key)), "invalid_api_key"},
		{"API key cut short", []string{"X-API-Key", key[:len(key)-1]}, "invalid_api_key"},
		{"made-up API key", []string{"X-API-Key", "sk_" + strings.Repeat("A", 43)}, "invalid_api_key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/llm/auth/me", "/v1/conversations"} {
				r := e.do("GET", path, nil, tc.creds...)
				wantUnauthorized(t, r, tc.code)
			}
		})
	}

	// Made-up key ids cannot make the gateway hammer the provider: key set
	// fetches for unknown key ids are rate-limited.
	before := p.fetches.Load()
	for i := range 30 {
		wantUnauthorized(t, e.do("GET", "/llm/auth/me", nil, bearerHeader(p.sign(p.claims("alice"), fmt.Sprintf("made-up-%d", i), p.rogue))...), "invalid_token")
	}
	if n := p.fetches.Load() - before; n > 1 {
		t.Errorf("30 tokens with made-up key ids caused %d fetches of the provider's key set, want at most 1", n)
	}

	// The real credentials still work: no attack locked them out.
	for _, creds := range [][]string{bearerHeader(guest.Access), bearerHeader(alice), {"X-API-Key", key}} {
		if r := e.do("GET", "/llm/auth/me", nil, creds...); r.Status != http.StatusOK {
			t.Fatalf("a valid credential (%s) is refused after the attacks: %d %s", creds[0], r.Status, r.Body)
		}
	}
}

// Identity headers a client sends itself are ignored: they neither reach the
// handlers after llm_auth nor change who the request acts for.
func TestAuthIgnoresClientIdentityHeaders(t *testing.T) {
	e := startAuthGateway(t, authOptions{})
	mallory := e.guestLogin(t)
	victim := e.guestLogin(t)

	// The victim owns a conversation.
	if r := e.do("POST", "/v1/conversations", map[string]any{"metadata": map[string]string{"owner": "victim"}}, bearerHeader(victim.Access)...); r.Status != http.StatusOK {
		t.Fatalf("creating the victim's conversation = %d %s", r.Status, r.Body)
	}

	spoofed := []string{
		"X-User-ID", victim.UserID,
		"X-User-Kind", "user",
		"X-Principal-Id", victim.UserID,
		"X-Consumer-ID", victim.UserID,
		"X-Consumer-Username", "victim",
		"X-Consumer-Custom-ID", victim.UserID,
		"X-Auth-Method", "apikey",
	}

	// Authenticated as Mallory, the spoofed headers change nothing.
	me := e.do("GET", "/llm/auth/me", nil, append(bearerHeader(mallory.Access), spoofed...)...)
	if me.Status != http.StatusOK {
		t.Fatalf("/me = %d %s", me.Status, me.Body)
	}
	if m := me.JSON(t); m["id"] != mallory.UserID || m["kind"] != "guest" || m["auth_method"] != "jwt" {
		t.Fatalf("/me with spoofed identity headers = %v, want Mallory %s", m, mallory.UserID)
	}
	wantIdentityHeaders(t, me, "jwt", mallory.UserID)
	// What the handlers after llm_auth see: none of the client's identity
	// headers, and the real principal in the placeholders.
	for _, h := range []string{"X-Seen-User-Id", "X-Seen-Consumer-Id", "X-Seen-Auth-Method"} {
		if v := me.Header.Get(h); v != "" {
			t.Errorf("handlers after llm_auth saw the client's header (%s = %q)", h, v)
		}
	}
	if me.Header.Get("X-Seen-Auth-User") != mallory.UserID || me.Header.Get("X-Seen-Auth-Kind") != "guest" {
		t.Errorf("placeholders after llm_auth: user %q kind %q, want %s guest",
			me.Header.Get("X-Seen-Auth-User"), me.Header.Get("X-Seen-Auth-Kind"), mallory.UserID)
	}

	list := e.do("GET", "/v1/conversations", nil, append(bearerHeader(mallory.Access), spoofed...)...)
	if list.Status != http.StatusOK {
		t.Fatalf("listing = %d %s", list.Status, list.Body)
	}
	if data, _ := list.JSON(t)["data"].([]any); len(data) != 0 {
		t.Fatalf("Mallory sees %d conversations with spoofed headers; want none: %s", len(data), list.Body)
	}

	// Without credentials, identity headers are no credentials.
	wantUnauthorized(t, e.do("GET", "/v1/conversations", nil, spoofed...), "missing_credentials")
	wantUnauthorized(t, e.do("GET", "/llm/auth/me", nil, spoofed...), "missing_credentials")
}

// The official OpenAI Go SDK, given an sk_… key as its API key (which it
// sends as Authorization: Bearer), is authenticated as the key's user; a
// wrong key is an authentication error the SDK understands.
func TestAuthOpenAISDKWithAPIKey(t *testing.T) {
	e := startAuthGateway(t, authOptions{})
	alice := e.oidc.token("alice")
	key, _ := e.createAPIKey(t, alice, map[string]string{"name": "sdk"})["key"].(string)

	client := func(apiKey string) *openai.Client {
		c := openai.NewClient(
			option.WithBaseURL(e.base+"/v1/"),
			option.WithAPIKey(apiKey),
			option.WithMaxRetries(0),
		)
		return &c
	}
	conv, err := client(key).Conversations.New(t.Context(), conversations.ConversationNewParams{})
	if err != nil {
		t.Fatalf("creating a conversation through the SDK with an API key: %v", err)
	}
	if !strings.HasPrefix(conv.ID, "conv_") {
		t.Fatalf("conversation id = %q", conv.ID)
	}
	// It belongs to the key's user.
	if r := e.do("GET", "/v1/conversations/"+conv.ID, nil, bearerHeader(alice)...); r.Status != http.StatusOK {
		t.Fatalf("the key's user cannot read the SDK's conversation: %d %s", r.Status, r.Body)
	}

	_, err = client(changeOneChar(key)).Conversations.New(t.Context(), conversations.ConversationNewParams{})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("SDK with a wrong key: error %v, want an *openai.Error", err)
	}
	if apiErr.StatusCode != http.StatusUnauthorized || apiErr.Code != "invalid_api_key" || apiErr.Type != "authentication_error" {
		t.Fatalf("SDK with a wrong key: status %d code %q type %q", apiErr.StatusCode, apiErr.Code, apiErr.Type)
	}
}

// Access tokens, refresh tokens and API keys stop working when they expire.
func TestAuthExpiry(t *testing.T) {
	e := startAuthGateway(t, authOptions{Auth: "access_ttl 1s\n\t\t\trefresh_ttl 3s"})

	s := e.guestLogin(t)
	if in, _ := s.Body["expires_in"].(float64); in > 1 {
		t.Fatalf("expires_in = %v with access_ttl 1s", s.Body["expires_in"])
	}
	expiresAt, err := time.Parse(time.RFC3339, fmt.Sprint(s.Body["expires_at"]))
	if err != nil {
		t.Fatalf("expires_at = %v: %v", s.Body["expires_at"], err)
	}
	if r := e.do("GET", "/llm/auth/me", nil, bearerHeader(s.Access)...); r.Status != http.StatusOK {
		t.Fatalf("a fresh access token = %d %s", r.Status, r.Body)
	}
	alice := e.oidc.token("alice")
	created := e.createAPIKey(t, alice, map[string]any{"name": "short", "expires_in": 2})
	key, _ := created["key"].(string)
	if created["expires_at"] == nil {
		t.Fatalf("created key has no expires_at: %v", created)
	}
	if r := e.do("GET", "/llm/auth/me", nil, "X-API-Key", key); r.Status != http.StatusOK {
		t.Fatalf("a fresh API key = %d %s", r.Status, r.Body)
	}

	time.Sleep(3500 * time.Millisecond)
	wantError(t, e.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": s.Refresh}),
		http.StatusUnauthorized, "refresh_token_expired")
	wantUnauthorized(t, e.do("GET", "/llm/auth/me", nil, "X-API-Key", key), "api_key_expired")
	if r := e.do("GET", "/llm/auth/api-keys", nil, bearerHeader(alice)...); !strings.Contains(string(r.Body), `"status":"expired"`) {
		t.Errorf("the key list does not mark the key expired: %s", r.Body)
	}

	// The gateway tolerates 5 s of clock skew between replicas.
	time.Sleep(time.Until(expiresAt.Add(6 * time.Second)))
	wantUnauthorized(t, e.do("GET", "/llm/auth/me", nil, bearerHeader(s.Access)...), "token_expired")
	wantUnauthorized(t, e.do("GET", "/v1/conversations", nil, bearerHeader(s.Access)...), "token_expired")
}

// Two gateway processes on one database act as one: tokens of either work on
// both, a refresh token rotated on one is detected as reused on the other,
// and an API key revoked through one is refused by the other within a
// second.
func TestAuthAcrossReplicas(t *testing.T) {
	secrets := &secretSet{}
	oidc := newOIDCProvider(t, secrets)
	dsn := storetest.NewPostgresDatabase(t)
	var gws []*authEnv
	for i := range 2 {
		port := freePort(t)
		logs := newLogCapture(t)
		// Runs after the process stopped (cleanups run last first).
		t.Cleanup(func() { logs.check(t, fmt.Sprintf("replica %d", i), secrets) })
		startProcess(t, testCaddyfile(t, siteOptions{
			Port:   port,
			Global: logs.global(),
			Site:   logs.site(),
			LLM: fmt.Sprintf(`database_url %s
		auth {
			%s
		}`, dsn, oidc.llmAuthBlock()),
			Routes: "llm_auth",
		}))
		gws = append(gws, &authEnv{
			gateway: &gateway{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port), client: &http.Client{Timeout: 10 * time.Second}},
			oidc:    oidc,
			secrets: secrets,
		})
	}
	for _, g := range gws {
		waitHTTP(t, g.base+"/v1/healthz", 90*time.Second)
	}
	a, b := gws[0], gws[1]

	// A guest of one replica is known to the other.
	s := a.guestLogin(t)
	if r := b.do("GET", "/llm/auth/me", nil, bearerHeader(s.Access)...); r.Status != http.StatusOK || r.JSON(t)["id"] != s.UserID {
		t.Fatalf("replica B with replica A's access token = %d %s", r.Status, r.Body)
	}
	// Rotation on B, reuse on A: the family is revoked everywhere.
	s2 := b.wantSession(t, b.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": s.Refresh}), http.StatusOK)
	wantError(t, a.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": s.Refresh}),
		http.StatusUnauthorized, "refresh_token_reused")
	wantError(t, b.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": s2.Refresh}),
		http.StatusUnauthorized, "")

	// A key created on A works on B (and is cached there).
	alice := oidc.token("alice")
	created := a.createAPIKey(t, alice, map[string]string{"name": "replicated"})
	key, _ := created["key"].(string)
	keyID, _ := created["id"].(string)
	for range 3 {
		if r := b.do("GET", "/llm/auth/me", nil, "X-API-Key", key); r.Status != http.StatusOK {
			t.Fatalf("replica B with a key created on A = %d %s", r.Status, r.Body)
		}
	}

	// Revoked through A, refused by B within a second.
	if r := a.do("DELETE", "/llm/auth/api-keys/"+keyID, nil, bearerHeader(alice)...); r.Status != http.StatusNoContent {
		t.Fatalf("revoking on A = %d %s", r.Status, r.Body)
	}
	revoked := time.Now()
	var last response
	for time.Since(revoked) < 3*time.Second {
		last = b.do("GET", "/llm/auth/me", nil, "X-API-Key", key)
		if last.Status != http.StatusOK {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(revoked)
	wantUnauthorized(t, last, "invalid_api_key")
	if took > time.Second {
		t.Fatalf("replica B accepted the revoked key for %s, want under 1s", took)
	}
	t.Logf("replica B refused the key revoked on A after %s", took.Round(time.Millisecond))
	wantUnauthorized(t, a.do("GET", "/llm/auth/me", nil, bearerHeader(key)...), "invalid_api_key")
}

// The default Caddyfile run at LOG_LEVEL=debug keeps credentials out of its
// logs, including API keys sent in X-API-Key, which Caddy's own redaction
// (Authorization, Cookie) does not cover: Caddy logs the headers of every
// request a handler fails with an error, such as a body over the limit.
func TestAuthDefaultCaddyfileKeepsCredentialsOutOfLogs(t *testing.T) {
	secrets := &secretSet{}
	oidc := newOIDCProvider(t, secrets)
	logPath := filepath.Join(t.TempDir(), "caddy.log")
	for k, v := range map[string]string{
		"LOG_LEVEL": "debug", "MAX_REQUEST_BODY": "1KB",
		"REDIS_URL": "", "DATABASE_URL": "", "DB_POSTGRESQL_WRITE_DSN": "",
		"JWKS_URL": oidc.jwksURL(), "ISSUER": oidc.issuer, "ACCOUNT": oidcAudience,
	} {
		t.Setenv(k, v)
	}
	// Only the destination of the default Caddyfile's log changes: its
	// level, format and any filter stay as they are.
	const levelLine = "\t\tlevel {$LOG_LEVEL:info}\n"
	cfg := defaultCaddyfile(t)
	if !strings.Contains(cfg, levelLine) {
		t.Fatalf("the default Caddyfile's global log block has no line %q; update this test", levelLine)
	}
	cfg = strings.Replace(cfg, levelLine, levelLine+"\t\toutput file "+logPath+"\n", 1)
	gw, svc := freePort(t), freePort(t)
	e := &authEnv{gateway: startGateway(t, gw, withPorts(cfg, gw, svc)), oidc: oidc, secrets: secrets}

	s := e.guestLogin(t)
	alice := oidc.token("alice")
	key, _ := e.createAPIKey(t, alice, nil)["key"].(string)
	for _, creds := range [][]string{bearerHeader(s.Access), bearerHeader(alice), {"X-API-Key", key}, bearerHeader(key)} {
		if r := e.do("GET", "/llm/auth/me", nil, creds...); r.Status != http.StatusOK {
			t.Fatalf("/me = %d %s", r.Status, r.Body)
		}
		wantError(t, e.do("POST", "/v1/conversations", strings.Repeat("x", 4<<10), creds...),
			http.StatusRequestEntityTooLarge, "request_too_large")
	}
	wantUnauthorized(t, e.do("GET", "/llm/auth/me", nil, "X-API-Key", changeOneChar(key)), "invalid_api_key")
	e.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": s.Refresh})
	e.do("POST", "/llm/auth/logout", nil, "Cookie", "refresh_token="+s.Refresh)

	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("reading the log: %v", err)
	}
	if !strings.Contains(string(data), "DEBUG") || !strings.Contains(string(data), "request body too large") {
		t.Fatalf("the log holds no debug entry of the refused bodies; is the capture working?\n%.3000s", data)
	}
	assertNoSecretsIn(t, "the default Caddyfile's debug logs", string(data), secrets)
}

// ---- helpers -----------------------------------------------------------------

// wantIdentityHeaders asserts the identity headers of an authenticated
// response.
func wantIdentityHeaders(t testing.TB, r response, method, userID string) {
	t.Helper()
	if got := r.Header.Get("X-Auth-Method"); got != method {
		t.Errorf("X-Auth-Method = %q, want %q", got, method)
	}
	for _, h := range []string{"X-Principal-Id", "X-User-Id"} {
		if got := r.Header.Get(h); got != userID {
			t.Errorf("%s = %q, want %q", h, got, userID)
		}
	}
}

// refreshCookie returns the refresh_token cookie a response sets.
func refreshCookie(t testing.TB, r response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "refresh_token" {
			return c
		}
	}
	t.Fatalf("no refresh_token cookie in %v", r.Header.Values("Set-Cookie"))
	return nil
}

// gatewayPublicKey returns the first key of the gateway's JWKS.
func gatewayPublicKey(t testing.TB, jwks []byte) (ed25519.PublicKey, string) {
	t.Helper()
	var doc struct {
		Keys []struct{ Kty, Crv, Kid, X, Alg string } `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &doc); err != nil || len(doc.Keys) == 0 {
		t.Fatalf("JWKS %s: %v", jwks, err)
	}
	k := doc.Keys[0]
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if k.Kty != "OKP" || k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize || k.Kid == "" {
		t.Fatalf("JWKS key %+v is not an Ed25519 key with a kid", k)
	}
	return ed25519.PublicKey(x), k.Kid
}

// gatewayKeyFunc verifies gateway tokens with the keys of a JWKS document.
func gatewayKeyFunc(t testing.TB, jwks []byte) jwt.Keyfunc {
	var doc struct {
		Keys []struct{ Kid, X string } `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &doc); err != nil {
		t.Fatalf("decoding JWKS: %v", err)
	}
	return func(tok *jwt.Token) (any, error) {
		for _, k := range doc.Keys {
			if k.Kid == tok.Header["kid"] {
				x, err := base64.RawURLEncoding.DecodeString(k.X)
				return ed25519.PublicKey(x), err
			}
		}
		return nil, fmt.Errorf("kid %v not in the JWKS", tok.Header["kid"])
	}
}

func pemPublicKey(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// payloadOf returns a JWT's claims, unverified.
func payloadOf(t testing.TB, token string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatalf("decoding a token: %v", err)
	}
	return claims
}

// rewritePayload changes a JWT's claims and keeps its header and signature.
func rewritePayload(t testing.TB, token string, change func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{}
	if err := json.Unmarshal(data, &claims); err != nil {
		t.Fatal(err)
	}
	change(claims)
	data, err = json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(data)
	return strings.Join(parts, ".")
}

// unsignedToken returns an "alg": "none" token.
func unsignedToken(t testing.TB, claims jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hmacSigned signs with HS256 keyed with secret: the algorithm confusion
// attack when the secret is a public key.
func hmacSigned(t testing.TB, claims jwt.MapClaims, kid string, secret []byte) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// edSigned signs with a fresh Ed25519 key the gateway has never seen.
func edSigned(t testing.TB, claims jwt.MapClaims, kid string) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// changeOneChar returns key with one character of its secret part changed
// to another character of the base64url alphabet.
func changeOneChar(key string) string {
	b := []byte(key)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
