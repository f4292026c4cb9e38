package ratelimit

import (
	"net/netip"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/principal"
)

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in         string
		wantRate   int
		wantPeriod time.Duration
		wantErr    bool
	}{
		{"60/min", 60, time.Minute, false},
		{"1000/hour", 1000, time.Hour, false},
		{"10/m", 10, time.Minute, false},
		{" 5 / S ", 5, time.Second, false},
		{"100/1m", 100, time.Minute, false},
		{"5/30s", 5, 30 * time.Second, false},
		{"2000/day", 2000, 24 * time.Hour, false},
		{"60", 0, 0, true},
		{"x/min", 0, 0, true},
		{"0/min", 0, 0, true},
		{"-1/min", 0, 0, true},
		{"10/fortnight", 0, 0, true},
		{"10/0s", 0, 0, true},
		{"10/5ns", 0, 0, true}, // less than a nanosecond per request
	}
	for _, tt := range tests {
		got, err := ParseLimit(tt.in)
		if (err != nil) != tt.wantErr || got.Rate != tt.wantRate || got.Period != tt.wantPeriod {
			t.Errorf("ParseLimit(%q) = %+v, %v; want %d per %v (error %v)", tt.in, got, err, tt.wantRate, tt.wantPeriod, tt.wantErr)
		}
		if err == nil {
			if back, err := ParseLimit(got.String()); err != nil || back != got {
				t.Errorf("%+v does not read back from its String %q: %+v, %v", got, got.String(), back, err)
			}
		}
	}
}

func TestLimitCapacity(t *testing.T) {
	if got := PerMinute(60).Capacity(); got != 60 {
		t.Errorf("capacity of 60/min = %d, want 60", got)
	}
	if got := (Limit{Rate: 60, Period: time.Minute, Burst: 5}).Capacity(); got != 5 {
		t.Errorf("capacity of 60/min with burst 5 = %d, want 5", got)
	}
	if got := (Limit{Rate: 1000, Period: time.Hour}).emissionInterval(); got != 3600*time.Millisecond {
		t.Errorf("1000/hour: one request every %v, want 3.6s", got)
	}
}

func TestDefaultTiers(t *testing.T) {
	tiers := DefaultTiers()
	tests := []struct {
		kind string
		want string
	}{
		{principal.KindUser, "60/min"},
		{principal.KindAPIKey, "1000/hour"},
		{principal.KindGuest, "10/min"},
	}
	for _, tt := range tests {
		lim, ok := tiers.For(tt.kind)
		if !ok || lim.String() != tt.want || lim.Validate() != nil {
			t.Errorf("tier of %s: %v (found %v), want %s", tt.kind, lim, ok, tt.want)
		}
	}
	if got := tiers.IP.String(); got != "100/min" {
		t.Errorf("per-IP tier %s, want 100/min", got)
	}
	if _, ok := tiers.For("robot"); ok {
		t.Error("an unknown kind has a tier")
	}
}

func TestPrincipalKey(t *testing.T) {
	tests := []struct {
		p    principal.Principal
		want string
	}{
		{principal.Principal{UserID: 7, UserPublicID: "usr_a", Kind: principal.KindUser}, "user:usr_a"},
		{principal.Principal{UserID: 9, UserPublicID: "usr_b", Kind: principal.KindGuest}, "user:usr_b"},
		{principal.Principal{UserID: 7, UserPublicID: "usr_a", Kind: principal.KindAPIKey, APIKeyID: 42}, "key:usr_a:42"},
	}
	for _, tt := range tests {
		if got := PrincipalKey(&tt.p); got != tt.want {
			t.Errorf("PrincipalKey(%+v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestIPKey(t *testing.T) {
	tests := []struct {
		addr string
		want string
	}{
		{"203.0.113.7", "ip:203.0.113.7"},
		{"::ffff:203.0.113.7", "ip:203.0.113.7"},
		{"2001:db8:1:2:3:4:5:6", "ip:2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "ip:2001:db8:1:2::/64"},
		{"::1", "ip:::/64"},
	}
	for _, tt := range tests {
		if got := IPKey(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("IPKey(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}
