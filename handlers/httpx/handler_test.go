package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// Routes.Handle writes what a route returns: nothing more when it answered
// itself (a nil *apierr.Error included), and the spec's error otherwise,
// about the group's resource unless About names another.
func TestRoutesHandle(t *testing.T) {
	var noErr *apierr.Error
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantBody   string
	}{
		{"answered", nil, http.StatusTeapot, "tea"},
		{"nil api error", noErr, http.StatusTeapot, "tea"},
		{"api error", apierr.Invalid("name", "bad_name", "bad name"), 400, `"param":"name"`},
		{"store not found", fmt.Errorf("getting: %w", store.ErrNotFound), 404, `"message":"widget not found"`},
		{"about another", About("gadget", store.ErrNotFound), 404, `"message":"gadget not found"`},
		{"unexpected", errors.New("disk on fire"), 500, `"code":"internal_error"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Routes{Resource: "widget"}.Handle(func(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
				if tt.err == nil || tt.err == error(noErr) {
					w.WriteHeader(http.StatusTeapot)
					_, _ = w.Write([]byte("tea"))
				}
				return tt.err
			})
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r = r.WithContext(principal.With(context.Background(), &principal.Principal{UserID: 1}))
			w := httptest.NewRecorder()
			h(w, r)
			if w.Code != tt.wantStatus || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Fatalf("got %d %s, want %d with %s", w.Code, w.Body.String(), tt.wantStatus, tt.wantBody)
			}
		})
	}
}

// A route of Routes is never run without a principal.
func TestRoutesHandleNeedsPrincipal(t *testing.T) {
	ran := false
	h := Routes{Resource: "widget"}.Handle(func(http.ResponseWriter, *http.Request, *principal.Principal) error {
		ran = true
		return nil
	})
	w := httptest.NewRecorder()
	h(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if ran || w.Code != http.StatusUnauthorized {
		t.Fatalf("ran %v, status %d; want not run and 401", ran, w.Code)
	}
}

// A Principal gate's refusal is the answer, and a gate that finds no
// principal refuses with a 401; neither runs the route.
func TestRoutesHandlePrincipalGate(t *testing.T) {
	for _, tt := range []struct {
		name       string
		gate       func(*http.Request) (*principal.Principal, error)
		wantStatus int
	}{
		{"refused", func(*http.Request) (*principal.Principal, error) {
			return nil, apierr.New(http.StatusForbidden, "not_allowed", "no")
		}, http.StatusForbidden},
		{"none", func(*http.Request) (*principal.Principal, error) { return nil, nil }, http.StatusUnauthorized},
		{"admitted", func(*http.Request) (*principal.Principal, error) { return &principal.Principal{UserID: 1}, nil }, http.StatusNoContent},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := Routes{Resource: "widget", Principal: tt.gate}.Handle(func(w http.ResponseWriter, _ *http.Request, p *principal.Principal) error {
				if p == nil {
					t.Fatal("run without a principal")
				}
				w.WriteHeader(http.StatusNoContent)
				return nil
			})
			w := httptest.NewRecorder()
			h(w, httptest.NewRequest(http.MethodGet, "/", nil))
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tt.wantStatus)
			}
		})
	}
}
