// Package handlers is the LLM API as plain net/http handlers. It knows
// nothing of Caddy: the llm_api module builds an API from its parts and
// serves it.
package handlers

import (
	"net/http"
	"strings"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

// Registrar is a group of routes, registered with Go 1.22 patterns such as
// "POST /v1/chat/completions".
type Registrar interface {
	Register(mux *http.ServeMux)
}

// API routes requests to the groups it was built from and answers unknown
// routes and wrong methods with JSON errors in the spec's shape.
type API struct {
	mux *http.ServeMux
}

// New builds an API serving the given route groups.
func New(groups ...Registrar) *API {
	a := &API{mux: http.NewServeMux()}
	for _, g := range groups {
		g.Register(a.mux)
	}
	// The catch-all keeps ServeMux from writing its plain-text 404 and 405
	// pages; notFound tells the two apart itself.
	a.mux.HandleFunc("/", a.notFound)
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mux.ServeHTTP(w, r)
}

var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// notFound answers a request no route matched: 405 with Allow when the path
// exists for other methods, else 404.
func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range probeMethods {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		apierr.WriteStatus(w, http.StatusMethodNotAllowed, "method_not_allowed",
			"method "+r.Method+" is not allowed on "+r.URL.Path)
		return
	}
	apierr.WriteStatus(w, http.StatusNotFound, "route_not_found", "no route for "+r.Method+" "+r.URL.Path)
}
