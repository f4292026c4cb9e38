// Package all registers every Caddy module of the gateway. Import it for its
// side effects, as caddy/main.go does (and as xcaddy's generated main would
// with --with github.com/caddy-llm/gateway/modules/all): tests that adapt the
// default Caddyfile import it too, so a new module is registered in one place.
package all

import (
	_ "github.com/caddy-llm/gateway/modules/llmapi"
	_ "github.com/caddy-llm/gateway/modules/llmapp"
	_ "github.com/caddy-llm/gateway/modules/llmauth"
	_ "github.com/caddy-llm/gateway/modules/llmcors"
	_ "github.com/caddy-llm/gateway/modules/llmratelimit"
	_ "github.com/caddy-llm/gateway/modules/logtext"
	_ "github.com/caddy-llm/gateway/modules/providers"
)
