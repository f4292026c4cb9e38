package llmapp

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-llm/gateway/handlers"
	"github.com/caddy-llm/gateway/handlers/mcp"
	"github.com/caddy-llm/gateway/handlers/media"
)

// MCPConfig configures the MCP endpoint and the upstream MCP servers whose
// tools it aggregates.
type MCPConfig struct {
	// Servers are the upstream MCP servers (Streamable HTTP). Their tools
	// are offered as "<server>__<tool>".
	Servers []MCPServerConfig `json:"servers,omitempty"`
	// Stateless serves MCP without sessions, for replicas behind a load
	// balancer that does not route by Mcp-Session-Id.
	Stateless bool `json:"stateless,omitempty"`
	// JSONResponse answers with application/json rather than SSE when the
	// client accepts both.
	JSONResponse bool `json:"json_response,omitempty"`
	// SessionTimeout closes idle sessions (default 30m).
	SessionTimeout caddy.Duration `json:"session_timeout,omitempty"`
	// MaxSessionsPerPrincipal bounds the sessions one principal holds at
	// once (default 16; negative: no bound). One more closes the
	// principal's oldest session, whose client gets 404 and starts anew.
	MaxSessionsPerPrincipal int `json:"max_sessions_per_principal,omitempty"`
}

// MCPServerConfig is one upstream MCP server.
type MCPServerConfig struct {
	// Name prefixes the server's tools: letters, digits, - and _.
	Name string `json:"name"`
	// URL is the server's Streamable HTTP endpoint.
	URL string `json:"url"`
	// Headers are sent to the server (Authorization, …); values may hold
	// runtime placeholders ({env.TOOLS_TOKEN}). A header whose value is
	// empty once placeholders are expanded is not sent.
	Headers map[string]string `json:"headers,omitempty"`
	// AllowTools lists the only tools exposed, by their names on the
	// server; empty exposes all.
	AllowTools []string `json:"allow_tools,omitempty"`
	// Timeout bounds one tool call (default 30s).
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// provisionMCP starts the aggregator of this config's MCP servers; it
// connects in the background, so an upstream that is down does not hold up
// the start.
func (a *App) provisionMCP(ctx caddy.Context, repl *caddy.Replacer) error {
	cfg := mcp.Config{Version: handlers.Version, Logger: a.logger.Named("mcp")}
	if a.MCP != nil {
		cfg.Stateless = a.MCP.Stateless
		cfg.JSONResponse = a.MCP.JSONResponse
		cfg.SessionTimeout = time.Duration(a.MCP.SessionTimeout)
		cfg.MaxSessionsPerPrincipal = a.MCP.MaxSessionsPerPrincipal
		for _, s := range a.MCP.Servers {
			headers := make(map[string]string, len(s.Headers))
			for k, v := range s.Headers {
				// A header whose variable is unset is not sent at all
				// (header_from_env with an empty variable).
				if v = repl.ReplaceAll(v, ""); v != "" {
					headers[k] = v
				}
			}
			cfg.Servers = append(cfg.Servers, mcp.ServerConfig{
				Name:       s.Name,
				URL:        repl.ReplaceAll(s.URL, ""),
				Headers:    headers,
				AllowTools: s.AllowTools,
				Timeout:    time.Duration(s.Timeout),
			})
		}
	}
	agg, err := mcp.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("starting the MCP aggregator: %w", err)
	}
	a.mcp = agg
	return nil
}

// provisionMedia sets up the resolver of jan_… media references. Without a
// URL it still exists, so that requests with references get a clear 400
// instead of reaching the upstream unresolved.
func (a *App) provisionMedia(repl *caddy.Replacer) {
	a.media = &media.Resolver{
		URL:     firstCandidate(repl, a.MediaResolveURL),
		Timeout: time.Duration(a.MediaResolveTimeout),
		Logger:  a.logger.Named("media"),
	}
}

// MCPAggregator returns the MCP aggregator.
func (a *App) MCPAggregator() *mcp.Aggregator { return a.mcp }

// Media returns the media reference resolver.
func (a *App) Media() *media.Resolver { return a.media }
