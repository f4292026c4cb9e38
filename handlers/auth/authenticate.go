package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unsafe"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/principal"
)

// maxTokenLen caps the length of an access token. Real tokens are well under
// 2 KiB; the cap keeps oversized input from costing parsing time.
const maxTokenLen = 8 << 10

// headerAPIKey is X-API-Key in canonical form, so that looking it up does
// not allocate a canonicalised copy on every request.
const headerAPIKey = "X-Api-Key"

// Authenticate returns the principal of the request's credentials: the
// X-API-Key header first, then Authorization: Bearer, where a value starting
// with "sk_" is an API key and anything else an access token (the gateway's
// own or, when configured, the OIDC provider's).
//
// It returns (nil, nil) when the request carries no credentials at all, and
// a *apierr.Error for bad ones: 401 for credentials that are invalid,
// expired or revoked, 503 when the store is needed and cannot answer.
//
// This is the hot path of every request. A credential seen before is checked
// from memory without touching the store and without allocating; the
// returned Principal is therefore shared and must not be modified. Errors
// are shared values too and must not be modified.
func (s *Service) Authenticate(r *http.Request) (*principal.Principal, error) {
	if key := r.Header.Get(headerAPIKey); key != "" {
		return s.apiKeys.authenticate(r.Context(), key)
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return nil, nil
	}
	cred, ok := bearerCredential(authz)
	if !ok {
		return nil, errBadAuthScheme
	}
	if strings.HasPrefix(cred, apiKeyPrefix) {
		return s.apiKeys.authenticate(r.Context(), cred)
	}
	return s.authenticateToken(r.Context(), cred)
}

// bearerCredential returns the credential of an Authorization header using the
// Bearer scheme (whose name is case-insensitive, RFC 9110 §11.1).
func bearerCredential(authz string) (string, bool) {
	const scheme = "Bearer "
	if len(authz) <= len(scheme) || !strings.EqualFold(authz[:len(scheme)], scheme) {
		return "", false
	}
	cred := strings.TrimSpace(authz[len(scheme):])
	return cred, cred != ""
}

// authenticateToken verifies an access token. Verified tokens are cached by
// their hash until they expire, so each token is verified once per replica.
func (s *Service) authenticateToken(ctx context.Context, raw string) (*principal.Principal, error) {
	if len(raw) > maxTokenLen {
		return nil, errTokenTooLarge
	}
	sum := hashString(raw)
	now := s.now()
	if p, ok := s.tokens.get(sum, now); ok {
		return p, nil
	}
	// The issuer is read before the signature is checked only to choose the
	// key set: a token is verified with the keys of the issuer it claims,
	// and that issuer is then checked again, so a gateway token cannot pass
	// as an OIDC token nor the other way round.
	iss, ok := unverifiedIssuer(raw)
	if !ok {
		s.debugReject("malformed token", nil)
		return nil, errInvalidToken
	}
	var v verifiedToken
	var err error
	switch {
	case iss == s.cfg.Issuer:
		v, err = s.verifyGatewayToken(ctx, raw)
	case s.oidc != nil && iss == s.oidc.cfg.Issuer:
		v, err = s.oidc.verify(ctx, raw)
	default:
		s.debugReject("unknown issuer", nil)
		return nil, errUnknownIssuer
	}
	if err != nil {
		return nil, err
	}
	if now.Before(v.expiresAt) {
		s.tokens.put(sum, v.principal, v.expiresAt, now)
	}
	return v.principal, nil
}

// verifiedToken is the result of a successful token verification.
type verifiedToken struct {
	principal *principal.Principal
	expiresAt time.Time
}

// unverifiedIssuer returns the "iss" claim of a compact JWS without checking
// anything else. It accepts only what the JWT parser accepts as well: three
// segments, unpadded canonical base64url, a JSON object payload.
func unverifiedIssuer(raw string) (string, bool) {
	header, rest, ok := strings.Cut(raw, ".")
	if !ok || header == "" {
		return "", false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || sig == "" || strings.IndexByte(sig, '.') >= 0 {
		return "", false
	}
	data, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	if err != nil {
		return "", false
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(data, &claims); err != nil || claims.Iss == "" {
		return "", false
	}
	return claims.Iss, true
}

// debugReject logs why a credential was refused, at debug level and without
// the credential. The check keeps the disabled case free of allocations.
func (s *Service) debugReject(reason string, err error) {
	if ce := s.log.Check(zap.DebugLevel, "rejected credential"); ce != nil {
		ce.Write(zap.String("reason", reason), zap.Error(err))
	}
}

// hashString returns the SHA-256 of s. Credentials are looked up by their
// hash; reading the string's bytes in place avoids copying the credential on
// every request (sha256 only reads them).
func hashString(s string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(s), len(s)))
}
