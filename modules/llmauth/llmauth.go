// Package llmauth holds the `llm_auth` handler: it authenticates requests
// with the llm app's auth service (gateway tokens, OIDC tokens, API keys) and
// hands the principal to the handlers after it.
package llmauth

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers"
	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/auth"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/modules/llmapp"
	"github.com/caddy-llm/gateway/modules/llmratelimit"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler authenticates every request. A request with valid credentials
// goes on with its principal in the context, in the placeholders
// {http.auth.user.id}, {http.auth.user.kind} and {http.auth.user.method},
// and in the response headers X-Auth-Method, X-Principal-Id and X-User-ID.
// A request without credentials goes on only to public routes (health,
// version, guest login, token refresh, the JWKS, and PublicPaths); others
// get 401. A path that none of the API's routes serves (as the llm_api of
// the config reports) gets a 404 before any of this, so that a mistyped
// route does not look like an authentication failure. Invalid credentials are a 401 too, except on public routes, which
// ignore them (a refresh token sent as a Bearer token is not an access
// token).
//
// Identity headers a client sends itself are removed before anything reads
// them: X-User-*, X-Consumer-*, X-Principal-*, X-Auth-Method, and the other
// headers through which Kong, whose place the gateway takes, tells services
// behind it who the caller is (X-Credential-Identifier,
// X-Anonymous-Consumer, X-Authenticated-*, X-Userinfo).
//
// A refused request gets a WWW-Authenticate challenge (RFC 6750): with
// error="invalid_token" for bad credentials, without an error code when it
// carried none.
type Handler struct {
	// PublicPaths are more paths that need no credentials, beyond the
	// API's own public routes (handlers.IsPublic). A path ending in "*" is
	// a prefix.
	PublicPaths []string `json:"public_paths,omitempty"`

	app    *llmapp.App
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.llm_auth",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision gets the llm app.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	app, err := llmapp.FromContext(ctx)
	if err != nil {
		return err
	}
	h.app = app
	return nil
}

// ServeHTTP authenticates the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	stripIdentityHeaders(r.Header)
	leave := h.app.Enter()
	defer leave()

	public := h.isPublic(r)
	if !public && !h.app.KnownRoute(r) {
		// A path the API does not serve is a 404 whatever the credentials:
		// a 401 would make a mistyped route look like an auth failure.
		// A rate limit put off before this (llm_rate_limit's defer) is
		// decided first, as it would have been before authentication.
		if !llmratelimit.Settle(w, r) {
			return nil
		}
		httpx.WriteRouteNotFound(w, r)
		return nil
	}

	p, err := h.app.AuthService().Authenticate(r)
	if err != nil && !public {
		if !llmratelimit.Settle(w, r) {
			return nil
		}
		writeRefusal(w, err, challengeInvalid)
		return nil
	}
	if p == nil {
		if public {
			return next.ServeHTTP(w, r)
		}
		if !llmratelimit.Settle(w, r) {
			return nil
		}
		writeRefusal(w, auth.MissingCredentials(), challengeMissing)
		return nil
	}

	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("http.auth.user.id", p.UserPublicID)
		repl.Set("http.auth.user.kind", p.Kind)
		repl.Set("http.auth.user.method", p.Method)
	}
	// One backing array for the three values, rather than one each.
	values := [...]string{p.Method, p.UserPublicID, p.UserPublicID}
	vs := values[:]
	hdr := w.Header()
	hdr["X-Auth-Method"] = vs[0:1:1]
	hdr["X-Principal-Id"] = vs[1:2:2]
	hdr["X-User-Id"] = vs[2:3:3]
	return next.ServeHTTP(w, r.WithContext(principal.With(r.Context(), p)))
}

func (h *Handler) isPublic(r *http.Request) bool {
	if handlers.IsPublic(r) {
		return true
	}
	path := r.URL.Path
	for _, p := range h.PublicPaths {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(path, prefix) {
				return true
			}
		} else if path == p {
			return true
		}
	}
	return false
}

// identityHeaderPrefixes and identityHeaders name, in canonical form, the
// headers through which a client could pose as someone else to anything
// behind the gateway: ours, and those Kong sets for the services behind it.
var (
	identityHeaderPrefixes = []string{"X-User-", "X-Consumer-", "X-Principal-", "X-Authenticated-"}
	identityHeaders        = map[string]bool{
		"X-Auth-Method":           true,
		"X-Credential-Identifier": true,
		"X-Anonymous-Consumer":    true,
		"X-Userinfo":              true,
	}
)

// stripIdentityHeaders removes the identity headers a client sent. Go
// canonicalizes header names as it reads them (HTTP/2 and HTTP/3 included),
// so comparing canonical forms catches every spelling.
func stripIdentityHeaders(h http.Header) {
	for name := range h {
		if isIdentityHeader(name) {
			delete(h, name)
		}
	}
}

func isIdentityHeader(name string) bool {
	if identityHeaders[name] {
		return true
	}
	for _, p := range identityHeaderPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Challenges of a 401 (RFC 6750 §3): a request without credentials gets no
// error code, one with bad credentials gets invalid_token.
const (
	challengeMissing = `Bearer realm="llm"`
	challengeInvalid = `Bearer realm="llm", error="invalid_token"`
)

// writeRefusal writes the error of a refused request, with the challenge
// when it is a 401 (a 503 of a store that cannot answer has none).
func writeRefusal(w http.ResponseWriter, err error, challenge string) {
	e, ok := err.(*apierr.Error)
	if !ok {
		e = apierr.New(http.StatusUnauthorized, "invalid_credentials", "invalid credentials")
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	apierr.Write(w, e)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
