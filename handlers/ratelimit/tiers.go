package ratelimit

import (
	"net/netip"
	"strconv"

	"github.com/caddy-llm/gateway/handlers/principal"
)

// PrincipalKey returns the bucket key of a principal: one bucket per API key
// for API-key principals ("key:<user public id>:<key id>"), one per user
// otherwise ("user:<user public id>", for guests too: their tier differs by
// its limit, not by its key). Public ids are random, so a bucket can never be
// inherited by another user, not even after the embedded store restarted
// its internal id sequence.
func PrincipalKey(p *principal.Principal) string {
	var buf [80]byte
	var b []byte
	if p.Kind == principal.KindAPIKey {
		b = append(append(append(buf[:0], "key:"...), p.UserPublicID...), ':')
		b = strconv.AppendInt(b, p.APIKeyID, 10)
	} else {
		b = append(append(buf[:0], "user:"...), p.UserPublicID...)
	}
	return string(b)
}

// IPKey returns the bucket key of a client address ("ip:<addr>"). An IPv6
// client is keyed by its /64 network ("ip:2001:db8:1:2::/64"): one subscriber usually holds a whole
// /64, and keying by single addresses would give it 2^64 buckets.
func IPKey(addr netip.Addr) string {
	var buf [64]byte
	b := append(buf[:0], "ip:"...)
	addr = addr.Unmap()
	if addr.Is6() {
		prefix, _ := addr.Prefix(64) // cannot fail: 64 bits fit an IPv6 address
		b = prefix.AppendTo(b)
	} else {
		b = addr.AppendTo(b)
	}
	return string(b)
}
