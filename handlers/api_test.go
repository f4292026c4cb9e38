package handlers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type routes []string

func (rs routes) Register(mux *http.ServeMux) {
	for _, p := range rs {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	}
}

func TestKnownAndCleanPaths(t *testing.T) {
	api := New(routes{"GET /v1/models", "GET /v1/models/{id...}", "POST /v1/conversations/{id}"})
	for _, tt := range []struct {
		method, path string
		known        bool
		status       int
	}{
		{"GET", "/v1/models", true, 204},
		{"DELETE", "/v1/models", true, 405},
		{"GET", "/v1/models/org/name", true, 204},
		{"POST", "/v1/conversations/conv_1", true, 204},
		{"GET", "/v1/nope", false, 404},
		{"GET", "/", false, 404},
		{"GET", "//v1/models", false, 404},
		{"GET", "/v1/./models", false, 404},
		{"GET", "/v1/x/../models", false, 404},
	} {
		r := httptest.NewRequest(tt.method, "http://gw"+tt.path, nil)
		r.URL.Path = tt.path // httptest keeps it, but make sure
		if got := api.Known(r); got != tt.known {
			t.Errorf("Known(%s %s) = %v, want %v", tt.method, tt.path, got, tt.known)
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, w.Code, tt.status)
		}
		if w.Code >= 400 && !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: error is %q, not JSON: %s", tt.method, tt.path, w.Header().Get("Content-Type"), w.Body)
		}
	}
}
