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
	// Principal, when set, returns the request's principal or the error
	// that refuses the request, in place of RequirePrincipal's 401.
	Principal func(r *http.Request) (*principal.Principal, error)
}

// Handle adapts fn. A request without a principal is a 401 (see
// RequirePrincipal, and Principal); the error fn returns is written by
// WriteError: an *apierr.Error as it is, a store error as StoreError maps
// it, anything else as a logged 500.
func (rs Routes) Handle(fn HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := rs.principal(r)
		if isNil(err) {
			err = fn(w, r, p)
		}
		if !isNil(err) {
			WriteError(w, r, rs.Logger, err, rs.Resource)
		}
	}
}

// principal returns the request's principal, or the error that refuses
// the request.
func (rs Routes) principal(r *http.Request) (*principal.Principal, error) {
	if rs.Principal != nil {
		p, err := rs.Principal(r)
		if p == nil && isNil(err) {
			return nil, errNoPrincipal()
		}
		return p, err
	}
	if p := principal.From(r.Context()); p != nil {
		return p, nil
	}
	return nil, errNoPrincipal()
}

// isNil reports whether err is no error, a nil *apierr.Error in an error
// included.
func isNil(err error) bool {
	aerr, ok := err.(*apierr.Error)
	return err == nil || ok && aerr == nil
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
