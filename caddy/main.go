// Command caddy is Caddy with the LLM gateway's modules plugged in: what
// `xcaddy build --with github.com/caddy-llm/gateway` would generate.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// Caddy's standard modules.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	// The gateway's modules.
	_ "github.com/caddy-llm/gateway/modules/llmapi"
	_ "github.com/caddy-llm/gateway/modules/llmapp"
	_ "github.com/caddy-llm/gateway/modules/llmauth"
	_ "github.com/caddy-llm/gateway/modules/llmcors"
	_ "github.com/caddy-llm/gateway/modules/llmratelimit"
	_ "github.com/caddy-llm/gateway/modules/logtext"
	_ "github.com/caddy-llm/gateway/modules/providers"
)

func main() {
	caddycmd.Main()
}
