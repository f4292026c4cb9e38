// Package principal carries the authenticated caller of a request through its
// context. The auth handler sets it; every other handler reads it.
package principal

import "context"

// Kinds of principal. They select the rate-limit tier.
const (
	KindGuest  = "guest"   // a user created by guest login
	KindUser   = "user"    // a user authenticated by an access token (gateway or OIDC)
	KindAPIKey = "api_key" // a user authenticated by one of their API keys
)

// Authentication methods, as reported in the X-Auth-Method header.
const (
	MethodJWT    = "jwt"
	MethodAPIKey = "apikey"
)

// Principal is who a request acts for.
type Principal struct {
	UserID       int64  // internal user id; scopes every store query
	UserPublicID string // "usr_…", the id shown to clients
	Kind         string // KindGuest, KindUser or KindAPIKey
	Method       string // MethodJWT or MethodAPIKey
	APIKeyID     int64  // set when Method is MethodAPIKey
	Issuer       string // token issuer, for JWT principals
	Username     string
	Email        string
	// Roles are the roles of an external OIDC token (Keycloak's
	// realm_access.roles, or a top-level roles claim); principals of any
	// other kind have none. The usage API's admin route checks them.
	Roles []string
}

type ctxKey struct{}

// With returns a context that carries p.
func With(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the principal of the context, or nil when the request is not
// authenticated.
func From(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}
