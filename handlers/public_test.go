package handlers

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-llm/gateway/handlers/auth"
	"github.com/caddy-llm/gateway/store/memory"
)

// Every public route is one the API serves, for the method it is public
// for: the one list cannot name a route the groups do not register.
func TestPublicRoutesAreServed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := auth.New(ctx, memory.New(), auth.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	api := New(&Health{}, svc)
	routes := append([]string{"GET " + pathHealthz, "GET " + pathReadyz, "GET " + pathVersion}, auth.PublicRoutes...)
	for _, route := range routes {
		method, path, _ := strings.Cut(route, " ")
		r := httptest.NewRequest(method, "http://gw"+path, nil)
		if !IsPublic(r) {
			t.Errorf("%s is not public", route)
		}
		probe := r.Clone(r.Context())
		if _, pattern := api.mux.Handler(probe); pattern != route {
			t.Errorf("%s is served by %q, want its own route", route, pattern)
		}
	}
	for _, route := range []string{"GET /llm/auth/me", "POST /llm/auth/api-keys", "GET /v1/conversations", "GET /llm/auth/guest-login"} {
		method, path, _ := strings.Cut(route, " ")
		if IsPublic(httptest.NewRequest(method, "http://gw"+path, nil)) {
			t.Errorf("%s is public", route)
		}
	}
}
