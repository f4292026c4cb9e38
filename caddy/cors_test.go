package main

// CORS for browser clients on other origins, checked with a plain HTTP
// client where a browser's exact requests are enough (preflights, headers on
// errors); cors_browser_test.go runs a real browser.

import (
	"net/http"
	"strings"
	"testing"
)

const appOrigin = "http://app.example.test:3000"

// Preflights are answered by llm_cors before authentication and rate limits:
// a browser's OPTIONS carries no credentials and must not spend its limit.
// Every answer to an allowed origin, errors included, carries the CORS
// headers a page needs to read it.
func TestCORSPreflightAndHeadersOnEveryAnswer(t *testing.T) {
	g, service := startDefaultGateway(t,
		"CORS_ALLOWED_ORIGINS", appOrigin+", http://other.example.test",
		"RATE_LIMIT_PER_IP", "3/min")
	gatewayBase := g.base
	preflight := func(base, origin string) response {
		g.base = base
		return g.do("OPTIONS", "/v1/chat/completions", nil,
			"Origin", origin,
			"Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization, content-type, x-stainless-lang")
	}
	for _, base := range []string{gatewayBase, service} {
		// More preflights than the per-IP limit allows requests.
		for i := range 6 {
			r := preflight(base, appOrigin)
			if r.Status != http.StatusNoContent {
				t.Fatalf("%s preflight %d = %d %s, want 204", base, i, r.Status, r.Body)
			}
			want := map[string]string{
				"Access-Control-Allow-Origin":      appOrigin,
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Headers":     "authorization, content-type, x-stainless-lang",
			}
			for h, v := range want {
				if got := r.Header.Get(h); got != v {
					t.Fatalf("%s preflight: %s = %q, want %q", base, h, got, v)
				}
			}
			if m := r.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") || !strings.Contains(m, "DELETE") {
				t.Fatalf("Access-Control-Allow-Methods = %q", m)
			}
			if r.Header.Get("X-Request-Id") == "" {
				t.Fatalf("preflight answer has no X-Request-Id")
			}
		}
		// An origin not listed gets no CORS headers, so the browser refuses.
		if r := preflight(base, "http://evil.example.test"); r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight from an unlisted origin allowed: %v", r.Header)
		}
	}
	g.base = gatewayBase

	wantCORS := func(what string, r response) {
		t.Helper()
		if r.Header.Get("Access-Control-Allow-Origin") != appOrigin || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("%s (%d): no CORS headers for %s: %v", what, r.Status, appOrigin, r.Header)
		}
		exposed := strings.ToLower(r.Header.Get("Access-Control-Expose-Headers"))
		for _, h := range []string{"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after", "x-request-id", "x-auth-method"} {
			if !strings.Contains(exposed, h) {
				t.Fatalf("%s: Access-Control-Expose-Headers %q lacks %s", what, exposed, h)
			}
		}
	}
	r := g.do("GET", "/v1/models", nil, "Origin", appOrigin)
	wantUnauthorized(t, r, "missing_credentials")
	wantCORS("401", r)
	var last response
	for range 10 {
		if last = g.do("POST", "/auth/guest-login", nil, "Origin", appOrigin); last.Status == http.StatusTooManyRequests {
			break
		}
	}
	wantError(t, last, http.StatusTooManyRequests, "rate_limit_exceeded")
	wantCORS("429", last)
	if last.Header.Get("Retry-After") == "" {
		t.Fatalf("429 without Retry-After")
	}
}

// "*" allows any origin, but never with credentials (browsers refuse the
// combination); without CORS_ALLOWED_ORIGINS nothing gets CORS headers.
func TestCORSAnyOriginAndDefaultOff(t *testing.T) {
	t.Run("any", func(t *testing.T) {
		g, _ := startDefaultGateway(t, "CORS_ALLOWED_ORIGINS", "*")
		r := g.do("OPTIONS", "/v1/models", nil, "Origin", "http://anything.example.test", "Access-Control-Request-Method", "GET")
		if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("preflight with *: %d %v", r.Status, r.Header)
		}
		r = g.do("GET", "/v1/healthz", nil, "Origin", "http://anything.example.test")
		if r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Expose-Headers") == "" {
			t.Fatalf("GET with *: %v", r.Header)
		}
	})
	t.Run("off", func(t *testing.T) {
		g, _ := startDefaultGateway(t, "CORS_ALLOWED_ORIGINS", "")
		r := g.do("GET", "/v1/healthz", nil, "Origin", appOrigin)
		for h := range r.Header {
			if strings.HasPrefix(h, "Access-Control-") {
				t.Fatalf("CORS header %s without CORS_ALLOWED_ORIGINS", h)
			}
		}
	})
}
