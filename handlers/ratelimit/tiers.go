package ratelimit

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/caddy-llm/gateway/handlers/principal"
)

// Tiers are the limits a gateway applies: one per kind of principal, and
// one per client IP that also guards the routes without authentication.
type Tiers struct {
	User   Limit // principals authenticated by an access token
	APIKey Limit // principals authenticated by an API key
	Guest  Limit // guest users
	IP     Limit // every request, by client IP
}

// DefaultTiers returns the specification's limits: authenticated users 60
// per minute, API keys 1000 per hour, guests 10 per minute, and 100 per
// minute per client IP.
func DefaultTiers() Tiers {
	return Tiers{
		User:   Limit{Name: "user", Rate: 60, Period: time.Minute},
		APIKey: Limit{Name: "api_key", Rate: 1000, Period: time.Hour},
		Guest:  Limit{Name: "guest", Rate: 10, Period: time.Minute},
		IP:     Limit{Name: "ip", Rate: 100, Period: time.Minute},
	}
}

// For returns the limit of a principal kind (principal.KindUser, …), and
// false for an unknown kind.
func (t *Tiers) For(kind string) (Limit, bool) {
	switch kind {
	case principal.KindUser:
		return t.User, true
	case principal.KindAPIKey:
		return t.APIKey, true
	case principal.KindGuest:
		return t.Guest, true
	}
	return Limit{}, false
}

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
