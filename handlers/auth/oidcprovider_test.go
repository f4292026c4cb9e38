package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testProvider is an OIDC provider for tests: real keys, a JWKS served over
// HTTP, tokens minted with golang-jwt.
type testProvider struct {
	issuer string
	srv    *httptest.Server

	mu        sync.Mutex
	keys      map[string]testKey // every key, published or not
	published []string           // kids in the JWKS, in order

	fetches atomic.Int32
}

type testKey struct {
	alg    string
	signer crypto.Signer
}

const (
	testAudience = "account"
	testSubject  = "kc-user-1"
)

// Key generation is slow under the race detector; the suite shares a few.
var (
	rsaKeysOnce sync.Once
	rsaKeys     [3]*rsa.PrivateKey
)

func testRSAKey(i int) *rsa.PrivateKey {
	rsaKeysOnce.Do(func() {
		for j := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
	})
	return rsaKeys[i]
}

// newTestProvider starts a provider that publishes one RS256 key, "rsa-0".
func newTestProvider(t testing.TB) *testProvider {
	t.Helper()
	p := &testProvider{keys: make(map[string]testKey)}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serveJWKS))
	t.Cleanup(p.srv.Close)
	p.issuer = p.srv.URL + "/realms/test"
	p.addKey("rsa-0", "RS256", testRSAKey(0), true)
	return p
}

func (p *testProvider) jwksURL() string {
	return p.srv.URL + "/realms/test/protocol/openid-connect/certs"
}

func (p *testProvider) config() *OIDCConfig {
	return &OIDCConfig{
		JWKSURL:         p.jwksURL(),
		Issuer:          p.issuer,
		Audience:        testAudience,
		Algorithms:      []string{"RS256", "ES256", "PS256"},
		RefetchInterval: 300 * time.Millisecond,
	}
}

func (p *testProvider) addKey(kid, alg string, signer crypto.Signer, publish bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys[kid] = testKey{alg: alg, signer: signer}
	if publish {
		p.published = append(p.published, kid)
	}
}

func (p *testProvider) publish(kid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published = append(p.published, kid)
}

func (p *testProvider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	p.fetches.Add(1)
	p.mu.Lock()
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	// Keycloak publishes an encryption key too; it must be ignored.
	doc.Keys = append(doc.Keys, map[string]string{"kty": "RSA", "kid": "enc-0", "use": "enc", "alg": "RSA-OAEP",
		"n": b64(testRSAKey(2).N.Bytes()), "e": "AQAB"})
	for _, kid := range p.published {
		doc.Keys = append(doc.Keys, publicJWK(kid, p.keys[kid]))
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

func publicJWK(kid string, k testKey) map[string]string {
	switch pub := k.signer.Public().(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": k.alg,
			"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		return map[string]string{"kty": "EC", "kid": kid, "use": "sig", "alg": k.alg, "crv": pub.Curve.Params().Name,
			"x": b64(pub.X.FillBytes(make([]byte, size))), "y": b64(pub.Y.FillBytes(make([]byte, size)))}
	}
	panic("unsupported test key")
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// claims returns valid claims for testSubject, valid from now for five
// minutes.
func (p *testProvider) claims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":                p.issuer,
		"sub":                testSubject,
		"aud":                []string{testAudience, "other"},
		"exp":                now.Add(5 * time.Minute).Unix(),
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"preferred_username": "alice",
		"email":              "alice@example.com",
		"name":               "Alice Example",
		"typ":                "Bearer",
	}
}

// mint signs claims with the provider's key kid and records the token as a
// secret.
func (p *testProvider) mint(t testing.TB, kid string, claims jwt.MapClaims) string {
	t.Helper()
	p.mu.Lock()
	k, ok := p.keys[kid]
	p.mu.Unlock()
	if !ok {
		t.Fatalf("no test key %q", kid)
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(k.alg), claims)
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(k.signer)
	if err != nil {
		t.Fatalf("minting: %v", err)
	}
	suiteSecrets.add(signed)
	return signed
}

func newECKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
