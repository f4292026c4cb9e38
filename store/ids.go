package store

import (
	"crypto/rand"
	"encoding/hex"
)

// Public id prefixes.
const (
	PrefixUser         = "usr"
	PrefixAPIKey       = "key"
	PrefixProject      = "proj"
	PrefixConversation = "conv"
	PrefixMessage      = "msg"
	PrefixMemory       = "mem"
)

// NewPublicID returns prefix + "_" + 32 random hex characters. Public ids are
// unguessable so that ids alone never grant or reveal anything.
func NewPublicID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	buf := make([]byte, len(prefix)+1+32)
	copy(buf, prefix)
	buf[len(prefix)] = '_'
	hex.Encode(buf[len(prefix)+1:], b[:])
	return string(buf)
}
