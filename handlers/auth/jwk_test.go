package auth

import (
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"testing"
)

func TestJWKPublicKey(t *testing.T) {
	rsaKey := testRSAKey(0)
	ec := newECKey(t, elliptic.P256())
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	n := b64(rsaKey.N.Bytes())
	x, y := b64(ec.X.FillBytes(make([]byte, 32))), b64(ec.Y.FillBytes(make([]byte, 32)))
	offCurveY := b64(new(big.Int).Add(ec.Y, big.NewInt(1)).FillBytes(make([]byte, 32)))

	tests := []struct {
		name string
		jwk  map[string]string
		ok   bool
	}{
		{"RSA", map[string]string{"kty": "RSA", "n": n, "e": "AQAB"}, true},
		{"RSA 1024 bits", map[string]string{"kty": "RSA", "n": b64(short.N.Bytes()), "e": "AQAB"}, false},
		{"RSA even exponent", map[string]string{"kty": "RSA", "n": n, "e": "Ag"}, false},
		{"RSA exponent 1", map[string]string{"kty": "RSA", "n": n, "e": "AQ"}, false},
		{"RSA huge exponent", map[string]string{"kty": "RSA", "n": n, "e": "AQAAAAAB"}, false},
		{"RSA no modulus", map[string]string{"kty": "RSA", "e": "AQAB"}, false},
		{"RSA bad base64", map[string]string{"kty": "RSA", "n": "!!!", "e": "AQAB"}, false},
		{"RSA private key", map[string]string{"kty": "RSA", "n": n, "e": "AQAB", "d": b64(rsaKey.D.Bytes()),
			"p": b64(rsaKey.Primes[0].Bytes()), "q": b64(rsaKey.Primes[1].Bytes())}, false},
		{"EC P-256", map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y}, true},
		{"EC point off the curve", map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": offCurveY}, false},
		{"EC short coordinate", map[string]string{"kty": "EC", "crv": "P-256", "x": b64(ec.X.Bytes()[1:]), "y": y}, false},
		{"EC unknown curve", map[string]string{"kty": "EC", "crv": "P-192", "x": x, "y": y}, false},
		{"Ed25519", map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(edPub)}, true},
		{"Ed25519 short", map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(edPub[:31])}, false},
		{"Ed25519 private key", map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(edPub), "d": b64(edPriv.Seed())}, false},
		{"X25519", map[string]string{"kty": "OKP", "crv": "X25519", "x": b64(edPub)}, false},
		{"symmetric", map[string]string{"kty": "oct", "k": "c2VjcmV0"}, false},
		{"empty", map[string]string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.jwk)
			if err != nil {
				t.Fatal(err)
			}
			jwk, err := parsePublicJWK(data)
			if (err == nil) != tt.ok {
				t.Fatalf("parsePublicJWK() error = %v, want ok = %v", err, tt.ok)
			}
			if tt.ok && !jwk.IsPublic() {
				t.Errorf("parsePublicJWK() returned a %T, want a public key", jwk.Key)
			}
		})
	}
}

func TestAlgorithmFits(t *testing.T) {
	rsaPub := testRSAKey(0).Public()
	p256 := &newECKey(t, elliptic.P256()).PublicKey
	p384 := &newECKey(t, elliptic.P384()).PublicKey
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		alg  string
		key  any
		want bool
	}{
		{"RS256", rsaPub, true},
		{"PS512", rsaPub, true},
		{"ES256", rsaPub, false},
		{"HS256", rsaPub, false},
		{"ES256", p256, true},
		{"ES384", p256, false},
		{"ES384", p384, true},
		{"RS256", p256, false},
		{"EdDSA", edPub, true},
		{"ES256", edPub, false},
		{"EdDSA", []byte("secret"), false},
	}
	for _, tt := range tests {
		if got := algorithmFits(tt.alg, tt.key); got != tt.want {
			t.Errorf("algorithmFits(%s, %T) = %v, want %v", tt.alg, tt.key, got, tt.want)
		}
	}
}

func TestEd25519Thumbprint(t *testing.T) {
	// RFC 8037 appendix A.3: the thumbprint of the example key.
	x := "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	jwk, err := parsePublicJWK([]byte(`{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	const want = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	got, err := ed25519Thumbprint(jwk.Key.(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("thumbprint %s, want %s (RFC 8037 A.3)", got, want)
	}
}
