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
