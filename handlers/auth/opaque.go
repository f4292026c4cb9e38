package auth

import (
	"crypto/rand"
	"encoding/base64"
)

// opaqueTokenLen is the length of an opaque secret: 32 random bytes in
// unpadded base64url.
const opaqueTokenLen = 43

// newOpaqueToken returns 32 random bytes in unpadded base64url: the secret
// part of refresh tokens and API keys.
func newOpaqueToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// wellFormedOpaqueToken reports whether t has the shape newOpaqueToken gives.
func wellFormedOpaqueToken(t string) bool {
	return len(t) == opaqueTokenLen && isBase64URL(t)
}

// isBase64URL reports whether s uses only the unpadded base64url alphabet.
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
