package llmapp

import (
	"maps"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-llm/gateway/modules/internal/cfargs"
)

// unmarshalCaddyfile reads the mcp block of the `llm` option:
//
//	mcp {
//		stateless
//		json_response
//		session_timeout            <duration>
//		max_sessions_per_principal <n>
//		server <name> <url> {
//			header  <name> <value>
//			allow   <tool>...
//			timeout <duration>
//		}
//		servers_from <name>=<url>[,<name>=<url>...]... {
//			header_from_env <header> <VARIABLE>
//			timeout         <duration>
//		}
//	}
//
// server adds one upstream MCP server (MCPServerConfig.unmarshalCaddyfile);
// servers_from adds a list of them from an environment variable
// (MCPConfig.unmarshalServersFrom).
func (c *MCPConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "stateless":
			c.Stateless = true
			err = cfargs.Flag(d)
		case "json_response":
			c.JSONResponse = true
			err = cfargs.Flag(d)
		case "session_timeout":
			c.SessionTimeout, err = cfargs.Duration(d)
		case "max_sessions_per_principal":
			c.MaxSessionsPerPrincipal, err = cfargs.Int(d)
		case "server":
			var s MCPServerConfig
			if err = s.unmarshalCaddyfile(d); err == nil {
				c.Servers = append(c.Servers, s)
			}
		case "servers_from":
			err = c.unmarshalServersFrom(d)
		default:
			err = d.Errf("unrecognized mcp option '%s'", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unmarshalCaddyfile reads one server of the mcp block:
//
//	server <name> <url> {
//		header  <name> <value>
//		allow   <tool>...
//		timeout <duration>
//	}
//
// header values may hold runtime placeholders ({env.TOOLS_TOKEN}); allow
// may be repeated and adds to the tools exposed.
func (s *MCPServerConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Errf("server takes a name and a URL")
	}
	s.Name, s.URL = args[0], args[1]
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "header":
			err = cfargs.Pair(d, &s.Headers)
		case "allow":
			s.AllowTools = append(s.AllowTools, d.RemainingArgs()...)
		case "timeout":
			s.Timeout, err = cfargs.Duration(d)
		default:
			err = d.Errf("unrecognized mcp server option '%s'", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unmarshalServersFrom reads
//
//	servers_from <name>=<url>[,<name>=<url>...]... {
//		header_from_env <header> <VARIABLE>
//		timeout         <duration>
//	}
//
// for `servers_from {$MCP_SERVERS}`: pairs are separated by commas or
// spaces, an empty list adds none, and every server of the list gets the
// block's settings. header_from_env sends the header with the variable's
// value, read at run time ({env.VARIABLE}: the secret stays out of the JSON
// config), and not at all while the variable is empty.
func (c *MCPConfig) unmarshalServersFrom(d *caddyfile.Dispenser) error {
	var servers []MCPServerConfig
	for _, pair := range cfargs.Fields(d) {
		name, url, _ := strings.Cut(pair, "=")
		if name == "" || url == "" {
			return d.Errf("servers_from: '%s' is not <name>=<url> (for example tools=http://mcp-tools:8091/v1/mcp)", pair)
		}
		servers = append(servers, MCPServerConfig{Name: name, URL: url})
	}
	var (
		headers map[string]string
		timeout caddy.Duration
	)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "header_from_env":
			args := d.RemainingArgs()
			if len(args) != 2 || args[0] == "" || args[1] == "" {
				return d.Errf("header_from_env takes a header name and an environment variable's name")
			}
			if headers == nil {
				headers = make(map[string]string)
			}
			headers[args[0]] = "{env." + args[1] + "}"
		case "timeout":
			timeout, err = cfargs.Duration(d)
		default:
			err = d.Errf("unrecognized servers_from option '%s'", d.Val())
		}
		if err != nil {
			return err
		}
	}
	for _, s := range servers {
		s.Headers = maps.Clone(headers)
		s.Timeout = timeout
		c.Servers = append(c.Servers, s)
	}
	return nil
}
