package main

import (
	"net/http"
	"testing"
)

// BenchmarkGatewayChain sends requests through the default Caddyfile's
// gateway site, in process: API key authentication, the per-IP and
// per-principal rate limits in a Redis of its own, llm_api and the built-in
// mock provider. Its allocations include the test client's, which are the
// same before and after a change to the gateway.
//
//	go test -run '^$' -bench GatewayChain -benchmem ./caddy/
func BenchmarkGatewayChain(b *testing.B) {
	rs := startRedis(b, 0)
	e := startDefaultWithOIDC(b, rs.url(), map[string]string{"RATE_LIMIT_PER_IP": "100000000/min", "RATE_LIMIT_API_KEY": "100000000/min"})
	key, _ := e.createAPIKey(b, e.oidc.token("alice"), nil)["key"].(string)
	for _, bc := range []struct {
		name string
		body any
	}{{"plain", rateChatRequest}, {"stream", rateChatStreamRequest}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := e.do("POST", "/v1/chat/completions", bc.body, "X-API-Key", key); r.Status != http.StatusOK {
					b.Fatalf("status %d: %s", r.Status, r.Body)
				}
			}
		})
	}
}
