package llmratelimit

import (
	"context"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/ratelimit"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		input   string
		want    Handler
		wantErr bool
	}{
		{"llm_rate_limit {\n\tby ip\n\tlimit 100/min\n}", Handler{By: "ip", Limit: "100/min"}, false},
		{"llm_rate_limit {\n\tby principal\n\tuser 60/min\n\tapi_key 1000/hour\n\tguest 10/min\n\tfail_closed\n\tname chat\n}",
			Handler{By: "principal", Tiers: map[string]string{"user": "60/min", "api_key": "1000/hour", "guest": "10/min"}, FailClosed: true, Name: "chat"}, false},
		{"llm_rate_limit {\n\tfail_closed\n\tfail_open\n\tguest 10/min\n}", Handler{Tiers: map[string]string{"guest": "10/min"}}, false},
		{"llm_rate_limit {\n\tguest 10/min\n\tguest_by_ip\n}", Handler{Tiers: map[string]string{"guest": "10/min"}, GuestByIP: true}, false},
		{"llm_rate_limit {\n\tguest_by_ip yes\n}", Handler{}, true},
		{"llm_rate_limit extra", Handler{}, true},
		{"llm_rate_limit {\n\tby\n}", Handler{}, true},
		{"llm_rate_limit {\n\tby ip principal\n}", Handler{}, true},
		{"llm_rate_limit {\n\tguest 10/min 20/min\n}", Handler{}, true},
		{"llm_rate_limit {\n\tfail_open now\n}", Handler{}, true},
		{"llm_rate_limit {\n\tburst 5\n}", Handler{}, true},
	}
	for _, tc := range tests {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: error %v, want error %v", tc.input, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !reflect.DeepEqual(h, tc.want) {
			t.Errorf("%q: got %+v, want %+v", tc.input, h, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	limit := func(s string) *ratelimit.Limit {
		l, err := parseLimit("test", s)
		if err != nil {
			t.Fatal(err)
		}
		return &l
	}
	tiers := func(kinds ...string) map[string]ratelimit.Limit {
		m := map[string]ratelimit.Limit{}
		for _, k := range kinds {
			m[k] = *limit("10/min")
		}
		return m
	}
	tests := []struct {
		name    string
		h       Handler
		wantErr bool
	}{
		{"ip with a limit", Handler{By: ByIP, limit: limit("100/min")}, false},
		{"ip without a limit", Handler{By: ByIP}, true},
		{"ip with tiers", Handler{By: ByIP, limit: limit("100/min"), tiers: tiers("guest")}, true},
		{"principal with tiers", Handler{By: ByPrincipal, tiers: tiers("guest", "user", "api_key")}, false},
		{"principal with only a limit", Handler{By: ByPrincipal, limit: limit("5/s")}, false},
		{"principal with nothing", Handler{By: ByPrincipal}, true},
		{"unknown tier", Handler{By: ByPrincipal, tiers: tiers("admin")}, true},
		{"unknown key", Handler{By: "header", limit: limit("5/s")}, true},
		{"guests by IP too", Handler{By: ByPrincipal, tiers: tiers("guest"), GuestByIP: true}, false},
		{"guests by IP without a guest limit", Handler{By: ByPrincipal, tiers: tiers("user"), GuestByIP: true}, true},
		{"guest_by_ip on a per-IP limit", Handler{By: ByIP, limit: limit("100/min"), GuestByIP: true}, true},
	}
	for _, tc := range tests {
		if err := tc.h.Validate(); (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.wantErr)
		}
	}
	for _, bad := range []string{"", "60", "0/min", "-1/min", "60/fortnight", "5/0s"} {
		if _, err := parseLimit("test", bad); err == nil {
			t.Errorf("parseLimit(%q) accepted a bad limit", bad)
		}
	}
}

func TestKeyAndLimit(t *testing.T) {
	perMinute := func(n int, name string) ratelimit.Limit {
		return ratelimit.Limit{Name: name, Rate: n, Period: time.Minute}
	}
	guest := &principal.Principal{UserID: 7, UserPublicID: "usr_guest", Kind: principal.KindGuest}
	user := &principal.Principal{UserID: 8, UserPublicID: "usr_alice", Kind: principal.KindUser}
	key := &principal.Principal{UserID: 8, UserPublicID: "usr_alice", Kind: principal.KindAPIKey, APIKeyID: 3}
	fallback := perMinute(5, "chat")
	tiered := &Handler{By: ByPrincipal, prefix: "chat:", tiers: map[string]ratelimit.Limit{
		principal.KindGuest: perMinute(10, "chat/guest"),
		principal.KindUser:  perMinute(60, "chat/user"),
	}}
	withFallback := &Handler{By: ByPrincipal, prefix: "chat:", tiers: tiered.tiers, limit: &fallback}
	byIP := &Handler{By: ByIP, prefix: "ip:", limit: &fallback}

	tests := []struct {
		name      string
		h         *Handler
		p         *principal.Principal
		clientIP  string
		wantKey   string
		wantLimit string
		wantOK    bool
	}{
		{"guest tier", tiered, guest, "", "chat:user:usr_guest", "chat/guest", true},
		{"user tier", tiered, user, "", "chat:user:usr_alice", "chat/user", true},
		{"kind without a tier passes", tiered, key, "", "", "", false},
		{"kind without a tier takes the limit", withFallback, key, "", "chat:key:usr_alice:3", "chat", true},
		{"no principal passes", tiered, nil, "", "", "", false},
		{"by IP: Caddy's client IP", byIP, user, "203.0.113.9", "ip:ip:203.0.113.9", "chat", true},
		{"by IP without Caddy's variable: the peer", byIP, nil, "", "ip:ip:192.0.2.1", "chat", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/chat/completions", nil) // RemoteAddr 192.0.2.1:1234
			ctx := r.Context()
			if tc.p != nil {
				ctx = principal.With(ctx, tc.p)
			}
			if tc.clientIP != "" {
				ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: tc.clientIP})
			}
			key, limit, ok := tc.h.keyAndLimit(r.WithContext(ctx))
			if ok != tc.wantOK || key != tc.wantKey || limit.Name != tc.wantLimit {
				t.Fatalf("keyAndLimit = %q, %q, %v; want %q, %q, %v", key, limit.Name, ok, tc.wantKey, tc.wantLimit, tc.wantOK)
			}
		})
	}
}
