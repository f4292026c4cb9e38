package httpx

import (
	"net/http"
	"path"
	"strings"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

// RouteSet tells whether a request matches one of a set of ServeMux
// patterns ("GET /v1/healthz", "POST /llm/auth/refresh-token", "/v1/version"
// for every method), by the very rules the API's ServeMux routes by.
type RouteSet struct {
	mux *http.ServeMux
	// paths holds the paths of the patterns when they are all plain paths
	// (no wildcard, no subtree, no host): a request for another path
	// matches none. ServeMux finds that out too, but a miss costs it 13
	// allocations and a microsecond (it looks for a redirect), on every
	// request that is not for one of the patterns.
	paths map[string]bool
}

// NewRouteSet returns the set of the patterns. It panics on a malformed or
// repeated pattern, as ServeMux does.
func NewRouteSet(patterns ...string) *RouteSet {
	s := &RouteSet{mux: http.NewServeMux(), paths: make(map[string]bool, len(patterns))}
	for _, p := range patterns {
		s.mux.Handle(p, http.NotFoundHandler())
		_, path, hasMethod := strings.Cut(p, " ")
		if !hasMethod {
			path = p
		}
		if path = strings.TrimSpace(path); !strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") || strings.Contains(path, "{") {
			s.paths = nil
		} else if s.paths != nil {
			s.paths[path] = true
		}
	}
	return s
}

// Match reports whether the request matches one of the patterns. A path
// ServeMux would redirect to its clean form (see CleanPath) matches none.
func (s *RouteSet) Match(r *http.Request) bool {
	if s.paths != nil && !s.paths[r.URL.Path] {
		return false
	}
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

// WriteMethodNotAllowed answers a request whose path is served, but not
// for its method: a 405 with the Allow header, allow listing the methods
// ("GET, HEAD, POST"). Every 405 of the API is written through it.
func WriteMethodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	apierr.WriteStatus(w, http.StatusMethodNotAllowed, "method_not_allowed",
		"method "+r.Method+" is not allowed on "+r.URL.Path+"; use "+allow)
}

// WriteRouteNotFound answers a request for a path the API does not serve.
// Every 404 of a route (not of a resource: see apierr.NotFound) is written
// through it, Caddy's own included.
func WriteRouteNotFound(w http.ResponseWriter, r *http.Request) {
	msg := "no route for " + r.Method + " " + r.URL.Path
	if !CleanPath(r.URL.EscapedPath()) {
		msg += " (the path has empty, \".\" or \"..\" segments)"
	}
	apierr.WriteStatus(w, http.StatusNotFound, "route_not_found", msg)
}
