package auth

import (
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"
)

func TestJWKPublicKey(t *testing.T) {
	rsaKey := testRSAKey(0)
	ec := newECKey(t, elliptic.P256())
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecJWK := jsonWebKey{Kty: "EC", Crv: "P-256", X: b64(ec.X.FillBytes(make([]byte, 32))), Y: b64(ec.Y.FillBytes(make([]byte, 32)))}
	offCurve := ecJWK
	offCurve.Y = b64(new(big.Int).Add(ec.Y, big.NewInt(1)).FillBytes(make([]byte, 32)))
	shortCoord := ecJWK
	shortCoord.X = b64(ec.X.Bytes()[1:])

	tests := []struct {
		name string
		jwk  jsonWebKey
		ok   bool
	}{
		{"RSA", jsonWebKey{Kty: "RSA", N: b64(rsaKey.N.Bytes()), E: "AQAB"}, true},
		{"RSA 1024 bits", jsonWebKey{Kty: "RSA", N: b64(short.N.Bytes()), E: "AQAB"}, false},
		{"RSA even exponent", jsonWebKey{Kty: "RSA", N: b64(rsaKey.N.Bytes()), E: "Ag"}, false},
		{"RSA exponent 1", jsonWebKey{Kty: "RSA", N: b64(rsaKey.N.Bytes()), E: "AQ"}, false},
		{"RSA huge exponent", jsonWebKey{Kty: "RSA", N: b64(rsaKey.N.Bytes()), E: "AQAAAAAB"}, false},
		{"RSA no modulus", jsonWebKey{Kty: "RSA", E: "AQAB"}, false},
		{"RSA bad base64", jsonWebKey{Kty: "RSA", N: "!!!", E: "AQAB"}, false},
		{"EC P-256", ecJWK, true},
		{"EC point off the curve", offCurve, false},
		{"EC short coordinate", shortCoord, false},
		{"EC unknown curve", jsonWebKey{Kty: "EC", Crv: "P-192", X: ecJWK.X, Y: ecJWK.Y}, false},
		{"Ed25519", jsonWebKey{Kty: "OKP", Crv: "Ed25519", X: b64(edPub)}, true},
		{"Ed25519 short", jsonWebKey{Kty: "OKP", Crv: "Ed25519", X: b64(edPub[:31])}, false},
		{"X25519", jsonWebKey{Kty: "OKP", Crv: "X25519", X: b64(edPub)}, false},
		{"symmetric", jsonWebKey{Kty: "oct", X: "c2VjcmV0"}, false},
		{"empty", jsonWebKey{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.jwk.publicKey()
			if (err == nil) != tt.ok {
				t.Errorf("publicKey() error = %v, want ok = %v", err, tt.ok)
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
	pub, err := jsonWebKey{Kty: "OKP", Crv: "Ed25519", X: x}.publicKey()
	if err != nil {
		t.Fatal(err)
	}
	const want = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	if got := ed25519Thumbprint(pub.(ed25519.PublicKey)); got != want {
		t.Errorf("thumbprint %s, want %s (RFC 8037 A.3)", got, want)
	}
}
