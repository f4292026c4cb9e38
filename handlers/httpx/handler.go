package httpx

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/principal"
)

// HandlerFunc is a route that returns its error rather than write it, in
// the spirit of Caddy's caddyhttp.HandlerFunc: it writes its answer itself,
// and an error it returns (before writing anything) is written for it in
// the spec's shape. It is given the request's principal.
type HandlerFunc func(w http.ResponseWriter, r *http.Request, p *principal.Principal) error

// Routes adapts the HandlerFuncs of one resource ("project",
// "conversation", …) to net/http.
type Routes struct {
	// Resource names what a store's ErrNotFound is about, unless the
	// route said otherwise (see About).
	Resource string
	// Logger receives the errors a client cannot be told about. Nil logs
	// nothing.
	Logger *zap.Logger
}

// Handle adapts fn. A request without a principal is a 401 (see
// RequirePrincipal); the error fn returns is written by WriteError: an
// *apierr.Error as it is, a store error as StoreError maps it, anything
// else as a logged 500.
func (rs Routes) Handle(fn HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := RequirePrincipal(w, r)
		if p == nil {
			return
		}
		err := fn(w, r, p)
		if aerr, ok := err.(*apierr.Error); err == nil || ok && aerr == nil {
			return // a nil *apierr.Error in an error is no error either
		}
		WriteError(w, r, rs.Logger, err, rs.Resource)
	}
}

// About returns err to be answered as an error about resource rather than
// the route's own: a store's ErrNotFound becomes a 404 naming resource.
// Errors StoreError does not know are returned as they are.
func About(resource string, err error) error {
	if aerr := StoreError(err, resource); aerr != nil {
		return aerr
	}
	return err
}
