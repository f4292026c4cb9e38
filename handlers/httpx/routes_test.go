package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRouteSet(t *testing.T) {
	s := NewRouteSet("/v1/healthz", "POST /llm/auth/guest-login", "GET /.well-known/jwks.json")
	for _, tt := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/v1/healthz", true},
		{"POST", "/v1/healthz", true}, // a pattern without a method matches every one
		{"POST", "/llm/auth/guest-login", true},
		{"GET", "/llm/auth/guest-login", false},
		{"HEAD", "/.well-known/jwks.json", true},
		{"GET", "/v1/healthz/", false},
		{"GET", "/v1//healthz", false},
		{"GET", "/v1/x/../healthz", false},
	} {
		r := httptest.NewRequest(tt.method, "http://gw/", nil)
		r.URL.Path = tt.path
		if got := s.Match(r); got != tt.want {
			t.Errorf("Match(%s %s) = %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
}

// A set of plain paths answers a request for another path without asking
// ServeMux, with ServeMux's answers: escaped paths, and sets with wildcards
// (which take ServeMux's way every time), match as they would route.
func TestRouteSetPlainPathsAgreeWithServeMux(t *testing.T) {
	plain := NewRouteSet("GET /v1/healthz", "POST /llm/auth/guest-login")
	wild := NewRouteSet("GET /v1/healthz", "GET /v1/conversations/{id}")
	if plain.paths == nil || wild.paths != nil {
		t.Fatalf("plain paths %v, wildcard set's %v: want a shortcut for the plain set only", plain.paths, wild.paths)
	}
	for _, tt := range []struct {
		s      *RouteSet
		target string
		want   bool
	}{
		{plain, "/v1/healthz", true},
		{plain, "/v1/health%7A", true}, // ServeMux matches unescaped segments
		{plain, "/v1%2Fhealthz", false},
		{plain, "/v1/chat/completions", false},
		{wild, "/v1/conversations/conv_1", true},
		{wild, "/v1/conversations/conv_1/items", false},
		{wild, "/v1/healthz", true},
	} {
		r := httptest.NewRequest("GET", "http://gw"+tt.target, nil)
		if got := tt.s.Match(r); got != tt.want {
			t.Errorf("Match(GET %s) = %v, want %v", tt.target, got, tt.want)
		}
	}
}

func TestWriteMethodNotAllowed(t *testing.T) {
	w := httptest.NewRecorder()
	WriteMethodNotAllowed(w, httptest.NewRequest(http.MethodPut, "/v1/things", nil), "GET, POST")
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, POST" {
		t.Fatalf("got %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
	if body := w.Body.String(); !strings.Contains(body, `"code":"method_not_allowed"`) ||
		!strings.Contains(body, "method PUT is not allowed on /v1/things; use GET, POST") {
		t.Fatalf("body %s", body)
	}
}
