// Command caddy is Caddy with the LLM gateway's modules plugged in: what
// `xcaddy build --with github.com/caddy-llm/gateway` would generate.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// Caddy's standard modules.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	// The gateway's modules.
	_ "github.com/caddy-llm/gateway/modules/all"
)

func main() {
	caddycmd.Main()
}
