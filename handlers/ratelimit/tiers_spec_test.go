package ratelimit

import (
	"time"

	"github.com/caddy-llm/gateway/handlers/principal"
)

// The specification's tiers, for the tests: the gateway takes its limits
// from the Caddyfile (llm_rate_limit), whose defaults are these values.

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
