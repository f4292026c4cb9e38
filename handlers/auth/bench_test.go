package auth

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store/memory"
)

// authRequests returns requests carrying an API key in both headers, a
// guest token and an OIDC token, each used once so that it is cached.
func authRequests(t testing.TB, env userEnv) map[string]*http.Request {
	t.Helper()
	key := createKey(t, env.srv, bearer(env.token), `{}`).Key
	guest := guestLogin(t, env.srv)
	reqs := map[string]*http.Request{
		"api key header": newAuthRequest("X-API-Key", key),
		"api key bearer": newAuthRequest("Authorization", "Bearer "+key),
		"guest token":    newAuthRequest("Authorization", "Bearer "+guest.AccessToken),
		"oidc token":     newAuthRequest("Authorization", "Bearer "+env.token),
	}
	for name, req := range reqs {
		if p, err := env.svc.Authenticate(req); err != nil || p == nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return reqs
}

func newAuthRequest(header, value string) *http.Request {
	req, _ := http.NewRequestWithContext(markRequest(context.Background()), "GET", "/v1/chat/completions", nil)
	req.Header.Set(header, value)
	return req
}

func TestCachedPathsDoNotTouchTheStore(t *testing.T) {
	cs := newCountingStore(memory.New())
	env := newUserEnv(t, cs, Config{})
	for name, req := range authRequests(t, env) {
		for range 100 {
			if p, err := env.svc.Authenticate(req); err != nil || p == nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	// New tokens of users seen before need no store either: a second guest
	// token of the same user, and a new OIDC token of a known subject.
	guest := guestLogin(t, env.srv)
	resp, data := call(t, env.srv, "POST", PathRefreshToken, `{"refresh_token":"`+guest.RefreshToken+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d %s", resp.StatusCode, data)
	}
	refreshed := decode[tokenResponse](t, data)
	suiteSecrets.add(refreshed.AccessToken)
	suiteSecrets.add(refreshed.RefreshToken)
	fresh := env.prov.mint(t, "rsa-0", with(env.prov.claims(time.Now()), map[string]any{"jti": "fresh"}))
	for _, tok := range []string{refreshed.AccessToken, fresh} {
		if p, err := env.svc.Authenticate(newAuthRequest("Authorization", "Bearer "+tok)); err != nil || p == nil {
			t.Fatalf("new token: %v", err)
		}
	}
	if calls := cs.requestCalls(); len(calls) != 0 {
		t.Fatalf("cached authentications called the store: %v", calls)
	}
}

func TestCachedPathsDoNotAllocate(t *testing.T) {
	env := newUserEnv(t, nil, Config{})
	for name, req := range authRequests(t, env) {
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := env.svc.Authenticate(req); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per cached authentication, want 0", name, allocs)
		}
	}
}

func benchmarkAuthenticate(b *testing.B, name string) {
	env := newUserEnv(b, nil, Config{})
	req := authRequests(b, env)[name]
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := env.svc.Authenticate(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateAPIKey measures a cached API key check.
func BenchmarkAuthenticateAPIKey(b *testing.B) { benchmarkAuthenticate(b, "api key bearer") }

// BenchmarkAuthenticateJWT measures a cached access token check.
func BenchmarkAuthenticateJWT(b *testing.B) { benchmarkAuthenticate(b, "guest token") }

// BenchmarkAuthenticateJWTParallel measures cached access token checks from
// all cores at once (cache lock contention).
func BenchmarkAuthenticateJWTParallel(b *testing.B) {
	env := newUserEnv(b, nil, Config{})
	req := authRequests(b, env)["guest token"]
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := env.svc.Authenticate(req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifyGatewayToken measures the first check of a gateway token on
// a replica: signature and claims, without the token cache.
func BenchmarkVerifyGatewayToken(b *testing.B) {
	env := newUserEnv(b, nil, Config{})
	tok := guestLogin(b, env.srv).AccessToken
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := env.svc.verifyGatewayToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyOIDCToken measures the first check of an RS256 OIDC token
// of a known subject, without the token cache.
func BenchmarkVerifyOIDCToken(b *testing.B) {
	env := newUserEnv(b, nil, Config{})
	ctx := context.Background()
	if _, err := env.svc.oidc.verify(ctx, env.token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := env.svc.oidc.verify(ctx, env.token); err != nil {
			b.Fatal(err)
		}
	}
}
