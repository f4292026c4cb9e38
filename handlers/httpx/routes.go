package httpx

import (
	"net/http"
	"path"
	"strings"
)

// RouteSet tells whether a request matches one of a set of ServeMux
// patterns ("GET /v1/healthz", "POST /llm/auth/refresh-token", "/v1/version"
// for every method), by the very rules the API's ServeMux routes by.
type RouteSet struct {
	mux *http.ServeMux
}

// NewRouteSet returns the set of the patterns. It panics on a malformed or
// repeated pattern, as ServeMux does.
func NewRouteSet(patterns ...string) *RouteSet {
	s := &RouteSet{mux: http.NewServeMux()}
	for _, p := range patterns {
		s.mux.Handle(p, http.NotFoundHandler())
	}
	return s
}

// Match reports whether the request matches one of the patterns. A path
// ServeMux would redirect to its clean form (see CleanPath) matches none.
func (s *RouteSet) Match(r *http.Request) bool {
	if !CleanPath(r.URL.EscapedPath()) {
		return false
	}
	_, pattern := s.mux.Handler(r)
	return pattern != ""
}

// CleanPath reports whether p is a path ServeMux serves without
// redirecting: no empty, "." or ".." segments.
func CleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}
