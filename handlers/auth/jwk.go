package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// minRSABits is the smallest RSA modulus accepted from a key set; shorter
// keys are skipped as unsafe.
const minRSABits = 2048

// jwksDocument is a JWKS document, {"keys": […]}, as fetched: each key is
// parsed on its own so that one key the gateway cannot use (an encryption
// key, an unknown type) does not spoil the others, as RFC 7517 §5 asks.
type jwksDocument struct {
	Keys []json.RawMessage `json:"keys"`
}

// parsePublicJWK parses one key of a key set with go-jose and applies the
// gateway's policy on top of go-jose's checks (coordinates on the curve and
// of the curve's size, Ed25519 low-order points): only public asymmetric keys
// (RSA, EC P-256/P-384/P-521, Ed25519), and RSA keys of at least minRSABits
// with an odd exponent that crypto/rsa accepts.
func parsePublicJWK(data []byte) (jose.JSONWebKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("parsing JWK: %w", err)
	}
	// Symmetric keys and private key material have no place in a published
	// key set; a provider that publishes them is misconfigured.
	if !jwk.IsPublic() {
		return jose.JSONWebKey{}, errors.New("parsing JWK: not a public asymmetric key")
	}
	if pub, ok := jwk.Key.(*rsa.PublicKey); ok {
		if pub.E < 3 || pub.E%2 == 0 || pub.E > 1<<31-1 {
			return jose.JSONWebKey{}, errors.New("parsing JWK: invalid RSA exponent")
		}
		if bits := pub.N.BitLen(); bits < minRSABits {
			return jose.JSONWebKey{}, fmt.Errorf("parsing JWK: RSA key of %d bits is too short", bits)
		}
	}
	return jwk, nil
}

// algorithmFits reports whether a token signed with alg may be verified with
// key. The JWT library checks this too, but checking it here as well keeps an
// RS256 key from ever being handed to an ES256 verifier, and pins each ES
// algorithm to its curve.
func algorithmFits(alg string, key crypto.PublicKey) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
		return false
	case ed25519.PublicKey:
		return alg == "EdDSA"
	default:
		return false
	}
}

// ed25519JWK returns the public JWK of a gateway signing key.
func ed25519JWK(kid string, pub ed25519.PublicKey) jose.JSONWebKey {
	return jose.JSONWebKey{Key: pub, KeyID: kid, Use: "sig", Algorithm: signingAlgorithm}
}

// ed25519Thumbprint returns the RFC 7638 thumbprint of an Ed25519 public key,
// used as the key id of the gateway's signing keys: unique, stable and
// derived from the key itself.
func ed25519Thumbprint(pub ed25519.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("computing key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}
