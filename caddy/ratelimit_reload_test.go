package main

import (
	"fmt"
	"net/http"
	"testing"
)

// A reload that raises a tier applies at once, also to a principal that the
// old, stricter limit had just refused.
func TestRateLimitRaisedTierAppliesAfterReload(t *testing.T) {
	port := freePort(t)
	config := func(guest string) string {
		return testCaddyfile(t, siteOptions{
			Port:   port,
			Routes: fmt.Sprintf("llm_auth\n\t\tllm_rate_limit /v1/conversations {\n\t\t\tguest %s\n\t\t}", guest),
		})
	}
	g := startGateway(t, port, config("2/hour"))
	auth := []string{"Authorization", "Bearer " + guestToken(t, g)}
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
		if r := g.do("GET", "/v1/conversations", nil, auth...); r.Status != want {
			t.Fatalf("request %d under 2/hour = %d, want %d", i+1, r.Status, want)
		}
	}
	loadConfig(t, config("100/hour"))
	r := g.do("GET", "/v1/conversations", nil, auth...)
	if r.Status != http.StatusOK || r.Header.Get("X-RateLimit-Limit") != "100" || r.Header.Get("X-RateLimit-Remaining") != "99" {
		t.Fatalf("after raising the tier: %d, limit %s, remaining %s", r.Status,
			r.Header.Get("X-RateLimit-Limit"), r.Header.Get("X-RateLimit-Remaining"))
	}
}
