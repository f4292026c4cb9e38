// Package auth authenticates the gateway's requests and serves the
// authentication API of the specification under /llm/auth. It is plain
// net/http with no Caddy imports; the llm_auth Caddy module wraps it.
//
// Three kinds of credentials are accepted, all through Authenticate:
//
//   - The gateway's own access tokens, issued by guest login and refresh:
//     short-lived JWTs signed with Ed25519 (EdDSA). The signing keys live in
//     the store, so every replica signs with the same newest key and
//     verifies every other replica's tokens; a token with an unknown key id
//     makes the replica reload the keys (at most every 200 ms). Keys rotate
//     after Config.KeyRotation; a retired key verifies until its last tokens
//     expired. The public keys are served at /.well-known/jwks.json.
//     Refresh tokens are opaque, stored as SHA-256 hashes and rotated on
//     every use; presenting one that was already used revokes its whole
//     family.
//   - Access tokens of an external OIDC provider (Keycloak), when
//     Config.OIDC is set: verified against the provider's JWKS with pinned
//     asymmetric algorithms and the exp, nbf, iat, iss and aud claims. The key
//     set is cached, refetched on an unknown key id at most once per
//     OIDCConfig.RefetchInterval, and refreshed in the background. Each
//     (issuer, subject) maps to one user row, cached in memory.
//   - API keys "sk_…", stored as SHA-256 hashes, accepted in X-API-Key and
//     as Authorization: Bearer sk_….
//
// A token is routed by its unverified "iss" claim to the one key set of that
// issuer, and checked against it: the gateway's keys never verify an OIDC
// token nor the other way round.
//
// Authenticate is the hot path. Verified access tokens are cached by their
// hash until they expire, and API keys for Config.APIKeyCacheTTL, so that a
// credential seen before costs neither a store query nor an allocation.
// Unknown API keys are cached briefly too. A revoked API key leaves the
// caches of every replica within about Config.RevocationPoll, the interval
// at which each replica asks the store for keys revoked since its last
// poll; while the store cannot be reached, Config.APIKeyCacheTTL bounds how
// long a replica trusts a cached key. Expiry is checked on every use. The
// last-use times of API keys are collected in memory and written in one
// batch every Config.TouchInterval and by Close.
//
// Register mounts the routes on a ServeMux. The caller runs Authenticate
// before them and puts the principal in the context with principal.With;
// the routes of PublicRoutes need none and must not be refused
// for bad credentials.
package auth
