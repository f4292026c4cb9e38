package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The bench's OIDC identity: the gateway is configured to trust it.
const (
	oidcIssuer   = "bench"
	oidcAudience = "bench"
	oidcKeyID    = "bench-key"
)

// oidcIssuerServer is a minimal OpenID Connect provider: an RSA key whose
// public half it serves as a JWKS over loopback, and access tokens signed
// with it. The gateway needs a non-guest user to create an API key, and
// this is the shortest way to one.
type oidcIssuerServer struct {
	key     *rsa.PrivateKey
	srv     *http.Server
	JWKSURL string
}

func startOIDCIssuer() (*oidcIssuerServer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating the OIDC key: %w", err)
	}
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA",
		"kid": oidcKeyID,
		"use": "sig",
		"alg": "RS256",
		"n":   base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
	if err != nil {
		return nil, fmt.Errorf("encoding the JWKS: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the OIDC issuer: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	s := &oidcIssuerServer{
		key:     key,
		srv:     &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		JWKSURL: "http://" + ln.Addr().String() + "/jwks",
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// token mints an access token for subject, valid for two hours.
func (s *oidcIssuerServer) token(subject string) (string, error) {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss":                oidcIssuer,
		"aud":                oidcAudience,
		"sub":                subject,
		"iat":                now.Unix(),
		"exp":                now.Add(2 * time.Hour).Unix(),
		"preferred_username": subject,
	})
	tok.Header["kid"] = oidcKeyID
	signed, err := tok.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("signing an OIDC token: %w", err)
	}
	return signed, nil
}

func (s *oidcIssuerServer) close() { _ = s.srv.Close() }
