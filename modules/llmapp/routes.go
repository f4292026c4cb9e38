package llmapp

import (
	"net/http"
	"sync/atomic"
)

// RouteTable tells whether a request's path is one of the API's routes.
// handlers.API is one.
type RouteTable interface {
	Known(r *http.Request) bool
}

// routeTable holds the API's routes once an llm_api handler of this config
// has been provisioned. Every llm_api serves the same routes, so the last
// one provisioned stands for all.
type routeTable struct {
	table atomic.Pointer[RouteTable]
}

// SetRoutes records the API's routes, so that handlers in front of the API
// (llm_auth) can tell an unknown path from a protected one.
func (a *App) SetRoutes(t RouteTable) { a.routes.table.Store(&t) }

func newRouteTable() *routeTable { return new(routeTable) }

// KnownRoute reports whether the request's path is one of the API's routes.
// Without an llm_api in the config every path counts as known, so that
// llm_auth in front of another handler protects everything.
func (a *App) KnownRoute(r *http.Request) bool {
	if a.routes == nil {
		return true
	}
	t := a.routes.table.Load()
	if t == nil {
		return true
	}
	return (*t).Known(r)
}
