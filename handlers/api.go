// Package handlers is the LLM API as plain net/http handlers. It knows
// nothing of Caddy: the llm_api module builds an API from its parts and
// serves it.
package handlers

import (
	"net/http"
	"strings"

	"github.com/caddy-llm/gateway/handlers/httpx"
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
	if !httpx.CleanPath(r.URL.EscapedPath()) {
		// ServeMux would answer with a 307 to the clean path and an HTML
		// body; an API client gets a JSON error instead, and no redirect
		// that would make it send its body and credentials again.
		httpx.WriteRouteNotFound(w, r)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// Known reports whether the request's path is one of the API's routes, for
// any method. The authentication in front of the API asks it, so that an
// unknown path is a 404 rather than a 401 that makes a missing route look
// like an authentication failure.
func (a *API) Known(r *http.Request) bool {
	if !httpx.CleanPath(r.URL.EscapedPath()) {
		return false
	}
	if _, pattern := a.mux.Handler(r); pattern != "" && pattern != "/" {
		return true
	}
	return len(a.allowed(r)) > 0
}

var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// notFound answers a request no route matched: 405 with Allow when the path
// exists for other methods, else 404.
func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	if allow := a.allowed(r); len(allow) > 0 {
		httpx.WriteMethodNotAllowed(w, r, strings.Join(allow, ", "))
		return
	}
	httpx.WriteRouteNotFound(w, r)
}

// allowed returns the other methods the request's path has routes for.
func (a *API) allowed(r *http.Request) []string {
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
	return allow
}
