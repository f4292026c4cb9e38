package main

// Hostile clients against the code of issues 14, 16 and 17 (the deferred
// per-IP limits, the Responses API, memory and embeddings), replayed
// through a real Caddy against real PostgreSQL and Redis and fake
// upstreams: bad input is a 4xx, never a 500 nor an ERROR log line, and a
// client over its limit gets nothing more than its 429.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-llm/gateway/store/storetest"
)

// spendOnAnotherNode empties, in Redis, every bucket of the per-IP limits
// counting ip, as if the client had spent them on another replica: this
// node's copy of the buckets knows nothing of it.
func spendOnAnotherNode(t *testing.T, client *redis.Client, ip string) {
	t.Helper()
	ctx := context.Background()
	keys, err := client.Keys(ctx, "rate:*ip:"+ip).Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("no per-IP bucket of %s in Redis (%v): send a request first", ip, err)
	}
	// The buckets' theoretical arrival time, in redis_rate's seconds since
	// 2017-01-01, an hour from now: empty for the next hour.
	tat := float64(time.Now().Unix()-1483228800) + 3600
	for _, k := range keys {
		if err := client.Set(ctx, k, strconv.FormatFloat(tat, 'f', 6, 64), time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// A client over its per-IP limit on other replicas, which this node's copy
// of the buckets does not know about yet (the default Caddyfile defers the
// per-IP decision to llm_auth and llm_api, to decide it with the
// principal's in one round trip), is refused; and once Redis refused it,
// this node refuses it at once, before authentication: its guesses of API
// keys are not checked, and the 429 of a valid key looks like the 429 of a
// wrong one. Before the fix each request authenticated its credentials
// first, and the 429 of a valid key carried X-User-Id: an oracle for key
// guessing, unlimited by the per-IP limit.
func TestHostileDeferredLimitIsNoKeyOracle(t *testing.T) {
	rs := startRedis(t, 0)
	secrets := &secretSet{}
	oidc := newOIDCProvider(t, secrets)
	for k, v := range map[string]string{
		"REDIS_URL": rs.url(), "DATABASE_URL": storetest.NewPostgresDatabase(t), "DB_POSTGRESQL_WRITE_DSN": "",
		"JWKS_URL": oidc.jwksURL(), "ISSUER": oidc.issuer, "ACCOUNT": oidcAudience,
		"LOG_LEVEL": "error", "TRUSTED_PROXIES": "127.0.0.1/32",
	} {
		t.Setenv(k, v)
	}
	gw, svc := freePort(t), freePort(t)
	e := &authEnv{gateway: startGateway(t, gw, withPorts(defaultCaddyfile(t), gw, svc)), oidc: oidc, secrets: secrets}
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rs.port)})
	t.Cleanup(func() { _ = client.Close() })
	from := func(ip string, creds ...string) []string { return append([]string{"X-Forwarded-For", ip}, creds...) }
	key, _ := e.createAPIKey(t, oidc.token("alice"), nil)["key"].(string)
	const attacker = "10.41.0.9"
	if r := e.do("GET", "/v1/models", nil, from(attacker, "X-API-Key", key)...); r.Status != http.StatusOK {
		t.Fatalf("a valid key under the limit: %d %s", r.Status, r.Body)
	}
	spendOnAnotherNode(t, client, attacker)

	// The first request after the other node spent the bucket reaches
	// Redis, which refuses it.
	wantError(t, e.do("GET", "/v1/models", nil, from(attacker, "X-API-Key", "sk_guess0")...), http.StatusTooManyRequests, "")
	for _, path := range []string{"/v1/models", "/v1/conversations", "/v1/responses/resp_x", "/v1/memories", "/v1/nowhere"} {
		valid := e.do("GET", path, nil, from(attacker, "X-API-Key", key)...)
		wrong := e.do("GET", path, nil, from(attacker, "X-API-Key", "sk_guess1")...)
		for _, r := range []response{valid, wrong} {
			wantError(t, r, http.StatusTooManyRequests, "")
			for _, h := range []string{"X-User-Id", "X-Principal-Id", "X-Auth-Method"} {
				if v := r.Header.Get(h); v != "" {
					t.Errorf("GET %s: the 429 of a client over its limit says %s: %s", path, h, v)
				}
			}
		}
		if valid.Header.Get("Retry-After") == "" || valid.Header.Get("X-RateLimit-Limit") != wrong.Header.Get("X-RateLimit-Limit") {
			t.Errorf("GET %s: the 429s of a valid and a wrong key differ: %v / %v", path, valid.Header, wrong.Header)
		}
	}
	// Other clients are not affected.
	if r := e.do("GET", "/v1/models", nil, from("10.41.0.10", "X-API-Key", key)...); r.Status != http.StatusOK {
		t.Fatalf("another address: %d %s", r.Status, r.Body)
	}
}
