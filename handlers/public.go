package handlers

import (
	"net/http"

	"github.com/caddy-llm/gateway/handlers/auth"
	"github.com/caddy-llm/gateway/handlers/httpx"
)

// publicRoutes is the one list of the API's routes that need no principal:
// the health routes (for every method) and the public routes of the
// authentication API. The groups register their handlers under these same
// paths; llm_auth asks IsPublic.
var publicRoutes = httpx.NewRouteSet(append(
	[]string{pathHealthz, pathReadyz, pathVersion},
	auth.PublicRoutes...)...)

// IsPublic reports whether the request is for a route that needs no
// principal. The authentication in front of the API lets such a request go
// on without credentials, and ignores bad ones.
func IsPublic(r *http.Request) bool {
	return publicRoutes.Match(r)
}
