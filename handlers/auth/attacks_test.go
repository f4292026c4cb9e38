package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	mathrand "math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

// mintGateway signs claims as the gateway would, with its current key, or
// with key and kid when given.
func mintGateway(t testing.TB, s *Service, claims jwt.MapClaims, key ed25519.PrivateKey, kid string) string {
	t.Helper()
	if key == nil {
		k := s.keys.signingKey()
		key, kid = k.private, k.kid
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	suiteSecrets.add(signed)
	return signed
}

// gatewayClaims returns valid claims of a gateway token for the user.
func gatewayClaims(userID string, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": DefaultIssuer, "aud": DefaultIssuer, "sub": userID,
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
	}
}

// with returns a copy of claims with changes; a nil value deletes a claim.
func with(claims jwt.MapClaims, changes map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{}
	for k, v := range claims {
		c[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func b64JSON(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(data)
}

// hmacToken signs claims with HS256 and the given secret: the algorithm
// confusion attack, where the secret is a public key.
func hmacToken(t testing.TB, claims jwt.MapClaims, kid string, secret []byte) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// replacePayload keeps a token's header and signature around other claims.
func replacePayload(t testing.TB, token string, claims jwt.MapClaims) string {
	parts := strings.Split(token, ".")
	return parts[0] + "." + b64JSON(t, claims) + "." + parts[2]
}

func TestAttacksAreRefused(t *testing.T) {
	env := newUserEnv(t, nil, Config{})
	s, prov := env.svc, env.prov
	now := time.Now()
	guest := guestLogin(t, env.srv)
	gw := gatewayClaims(guest.UserID, now)
	oidc := prov.claims(now)
	gwKey := s.keys.signingKey()

	// Keys the attacker holds.
	_, strangerKey, _ := ed25519.GenerateKey(rand.Reader)
	prov.addKey("rsa-unpublished", "RS256", testRSAKey(1), false)
	rsaPub := testRSAKey(0).Public()
	der, err := x509.MarshalPKIXPublicKey(rsaPub)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})

	validOIDC := env.token
	validGateway := guest.AccessToken
	bigClaims := with(oidc, map[string]any{"pad": strings.Repeat("x", maxTokenLen)})

	tests := []struct {
		name  string
		token string
		code  string
	}{
		{"alg none, gateway claims", b64JSON(t, map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64JSON(t, gw) + ".", "invalid_token"},
		{"alg none with a signature", b64JSON(t, map[string]string{"alg": "none", "kid": gwKey.kid}) + "." + b64JSON(t, gw) + "." + strings.Split(validGateway, ".")[2], "invalid_token"},
		{"alg none, OIDC claims", b64JSON(t, map[string]string{"alg": "none", "kid": "rsa-0"}) + "." + b64JSON(t, oidc) + ".c2ln", "invalid_token"},
		{"HS256 keyed with the gateway public key", hmacToken(t, gw, gwKey.kid, gwKey.public), "invalid_token"},
		{"HS256 keyed with the gateway JWK x", hmacToken(t, gw, gwKey.kid, []byte(base64.RawURLEncoding.EncodeToString(gwKey.public))), "invalid_token"},
		{"HS256 keyed with the OIDC public key PEM", hmacToken(t, oidc, "rsa-0", rsaPEM), "invalid_token"},
		{"HS256 keyed with the OIDC public key DER", hmacToken(t, oidc, "rsa-0", der), "invalid_token"},
		{"expired gateway token", mintGateway(t, s, with(gw, map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix()}), nil, ""), "token_expired"},
		{"expired OIDC token", prov.mint(t, "rsa-0", with(oidc, map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix()})), "token_expired"},
		{"gateway token without exp", mintGateway(t, s, with(gw, map[string]any{"exp": nil}), nil, ""), "invalid_token"},
		{"OIDC token without exp", prov.mint(t, "rsa-0", with(oidc, map[string]any{"exp": nil})), "invalid_token"},
		{"gateway nbf in the future", mintGateway(t, s, with(gw, map[string]any{"nbf": now.Add(time.Hour).Unix()}), nil, ""), "invalid_token"},
		{"OIDC nbf in the future", prov.mint(t, "rsa-0", with(oidc, map[string]any{"nbf": now.Add(time.Hour).Unix()})), "invalid_token"},
		{"OIDC iat in the future", prov.mint(t, "rsa-0", with(oidc, map[string]any{"iat": now.Add(time.Hour).Unix()})), "invalid_token"},
		{"unknown issuer", prov.mint(t, "rsa-0", with(oidc, map[string]any{"iss": "https://evil.example/realms/x"})), "invalid_token"},
		{"no issuer", prov.mint(t, "rsa-0", with(oidc, map[string]any{"iss": nil})), "invalid_token"},
		{"issuer of another type", prov.mint(t, "rsa-0", with(oidc, map[string]any{"iss": 42})), "invalid_token"},
		{"OIDC key claiming the gateway issuer", prov.mint(t, "rsa-0", with(gw, nil)), "invalid_token"},
		{"guest token presented as OIDC", mintGateway(t, s, with(oidc, nil), nil, ""), "invalid_token"},
		{"guest token relabelled with the OIDC issuer", replacePayload(t, validGateway, with(oidc, nil)), "invalid_token"},
		{"wrong OIDC audience", prov.mint(t, "rsa-0", with(oidc, map[string]any{"aud": "other-app"})), "invalid_token"},
		{"no OIDC audience", prov.mint(t, "rsa-0", with(oidc, map[string]any{"aud": nil})), "invalid_token"},
		{"wrong gateway audience", mintGateway(t, s, with(gw, map[string]any{"aud": "other"}), nil, ""), "invalid_token"},
		{"unknown OIDC kid", prov.mint(t, "rsa-unpublished", oidc), "invalid_token"},
		{"unknown gateway kid", mintGateway(t, s, gw, strangerKey, "made-up-kid"), "invalid_token"},
		{"stranger key under the gateway kid", mintGateway(t, s, gw, strangerKey, gwKey.kid), "invalid_token"},
		{"gateway token without kid", mintGateway(t, s, gw, gwKey.private, ""), "invalid_token"},
		{"OIDC PS256 with an RS256-pinned key", mintPS256(t, prov, oidc), "invalid_token"},
		{"tampered OIDC subject", replacePayload(t, validOIDC, with(oidc, map[string]any{"sub": "kc-admin"})), "invalid_token"},
		{"tampered gateway subject", replacePayload(t, validGateway, with(gw, map[string]any{"sub": "usr_00000000000000000000000000000001"})), "invalid_token"},
		{"extended gateway expiry", replacePayload(t, validGateway, with(gw, map[string]any{"exp": now.Add(24 * time.Hour).Unix()})), "invalid_token"},
		{"OIDC token without subject", prov.mint(t, "rsa-0", with(oidc, map[string]any{"sub": nil})), "invalid_token"},
		{"gateway token naming no user", mintGateway(t, s, with(gw, map[string]any{"sub": "kc-user-1"}), nil, ""), "invalid_token"},
		{"gateway token of an unknown user", mintGateway(t, s, with(gw, map[string]any{"sub": "usr_0123456789abcdef0123456789abcdef"}), nil, ""), "invalid_token"},
		{"truncated signature", validOIDC[:len(validOIDC)-10], "invalid_token"},
		{"signature removed", validOIDC[:strings.LastIndexByte(validOIDC, '.')+1], "invalid_token"},
		{"header and payload only", validGateway[:strings.LastIndexByte(validGateway, '.')], "invalid_token"},
		{"header only", validGateway[:strings.IndexByte(validGateway, '.')], "invalid_token"},
		{"four segments", validGateway + ".e30", "invalid_token"},
		{"padded base64", strings.Replace(validGateway, ".", "=.", 1), "invalid_token"},
		{"payload not JSON", "eyJhbGciOiJFZERTQSJ9." + base64.RawURLEncoding.EncodeToString([]byte("not json")) + ".c2ln", "invalid_token"},
		{"payload a JSON array", "eyJhbGciOiJFZERTQSJ9." + base64.RawURLEncoding.EncodeToString([]byte(`["iss"]`)) + ".c2ln", "invalid_token"},
		{"oversized token", prov.mint(t, "rsa-0", bigClaims), "invalid_token"},
		{"oversized garbage", strings.Repeat("a", 1<<20), "invalid_token"},
		{"kid of another type", mintWithHeader(t, prov, oidc, map[string]any{"kid": 7}), "invalid_token"},
		{"api key with one character changed", flipChar(createKey(t, env.srv, bearer(env.token), `{}`).Key, 10), "invalid_api_key"},
		{"api key prefix only", "sk_", "invalid_api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, data := whoamiAs(t, env.srv, bearer(tt.token))
			wantError(t, resp, data, http.StatusUnauthorized, tt.code)
			if strings.Contains(string(data), tt.token) {
				t.Error("the error echoes the token")
			}
			if strings.Contains(tt.name, "api key") {
				_, resp, data = whoamiAs(t, env.srv, "X-API-Key: "+tt.token)
				wantError(t, resp, data, http.StatusUnauthorized, tt.code)
			}
		})
	}

	// The valid tokens the attacks were made from do work.
	for _, tok := range []string{validOIDC, validGateway} {
		if _, resp, data := whoamiAs(t, env.srv, bearer(tok)); resp.StatusCode != http.StatusOK {
			t.Fatalf("valid token refused: status %d: %s", resp.StatusCode, data)
		}
	}
}

func mintPS256(t testing.TB, p *testProvider, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodPS256, claims)
	tok.Header["kid"] = "rsa-0" // published with "alg": "RS256"
	signed, err := tok.SignedString(testRSAKey(0))
	if err != nil {
		t.Fatal(err)
	}
	suiteSecrets.add(signed)
	return signed
}

func mintWithHeader(t testing.TB, p *testProvider, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	signed, err := tok.SignedString(testRSAKey(0))
	if err != nil {
		t.Fatal(err)
	}
	suiteSecrets.add(signed)
	return signed
}

func flipChar(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestMutatedTokensAreRefused changes valid tokens and keys at random
// places: every change is refused, and nothing panics.
func TestMutatedTokensAreRefused(t *testing.T) {
	env := newUserEnv(t, nil, Config{})
	guest := guestLogin(t, env.srv)
	key := createKey(t, env.srv, bearer(env.token), `{}`).Key
	originals := []string{env.token, guest.AccessToken, key}
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.="
	for i := range 600 {
		orig := originals[i%len(originals)]
		b := []byte(orig)
		switch rng.IntN(3) {
		case 0: // change one character
			j := rng.IntN(len(b))
			c := alphabet[rng.IntN(len(alphabet))]
			for c == b[j] {
				c = alphabet[rng.IntN(len(alphabet))]
			}
			b[j] = c
		case 1: // cut
			b = b[:rng.IntN(len(b))]
		case 2: // insert
			j := rng.IntN(len(b) + 1)
			b = append(b[:j], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[j:]...)...)
		}
		mutated := string(b)
		req, _ := http.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+mutated)
		p, err := env.svc.Authenticate(req)
		var ae *apierr.Error
		if p != nil || !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			t.Fatalf("mutation %d of token %d accepted or not a 401: %v, %v", i, i%len(originals), p, err)
		}
	}
}
