package llmapp

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Options of the `llm` global option whose values come from list-valued
// environment variables ({$MODEL_ALIASES}, {$MCP_SERVERS}), expanded when
// the Caddyfile is adapted.

// unmarshalModelAliases reads
//
//	model_aliases <alias>=<model>[,<alias>=<model>...]...
//
// Pairs are separated by commas or by spaces, so that
// `model_aliases {$MODEL_ALIASES}` takes MODEL_ALIASES as it is; an empty
// variable adds none. Later pairs for one alias win.
func (a *App) unmarshalModelAliases(d *caddyfile.Dispenser) error {
	for d.NextArg() {
		for _, pair := range splitList(d.Val()) {
			alias, target, ok := strings.Cut(pair, "=")
			alias, target = strings.TrimSpace(alias), strings.TrimSpace(target)
			if !ok || alias == "" || target == "" || alias == target {
				return d.Errf("model_aliases: '%s' is not <alias>=<model> (for example jan-v1-4b=janhq/Jan-v1-4B)", pair)
			}
			if a.ModelAliases == nil {
				a.ModelAliases = make(map[string]string)
			}
			a.ModelAliases[alias] = target
		}
	}
	if d.NextBlock(d.Nesting()) {
		return d.Err("model_aliases takes no block")
	}
	return nil
}

// unmarshalSamplingDefault reads `default_temperature <t>|none` or
// `default_top_p <p>|none` of a model block, within the spec's ranges.
func unmarshalSamplingDefault(d *caddyfile.Dispenser, m *ModelConfig) error {
	opt := d.Val()
	if !d.NextArg() {
		return d.ArgErr()
	}
	arg := d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	limit := 2.0
	value, none := &m.DefaultTemperature, &m.NoDefaultTemperature
	if opt == "default_top_p" {
		limit = 1.0
		value, none = &m.DefaultTopP, &m.NoDefaultTopP
	}
	if arg == "none" {
		*value, *none = nil, true
		return nil
	}
	v, err := strconv.ParseFloat(arg, 64)
	if err != nil || v < 0 || v > limit {
		return d.Errf("%s takes a number from 0 to %g, or none; got '%s'", opt, limit, arg)
	}
	*value, *none = &v, false
	return nil
}

// unmarshalServersFrom reads
//
//	servers_from <name>=<url>[,<name>=<url>...]... {
//		header_from_env <header> <VARIABLE>
//		timeout         <duration>
//	}
//
// for `servers_from {$MCP_SERVERS}`: every server of the list gets the
// block's settings. header_from_env sends the header with the variable's
// value, read at run time ({env.VARIABLE}: the secret stays out of the JSON
// config), and not at all while the variable is empty.
func (c *MCPConfig) unmarshalServersFrom(d *caddyfile.Dispenser) error {
	var servers []MCPServerConfig
	for d.NextArg() {
		for _, pair := range splitList(d.Val()) {
			name, url, ok := strings.Cut(pair, "=")
			name, url = strings.TrimSpace(name), strings.TrimSpace(url)
			if !ok || name == "" || url == "" {
				return d.Errf("servers_from: '%s' is not <name>=<url> (for example tools=http://mcp-tools:8091/v1/mcp)", pair)
			}
			servers = append(servers, MCPServerConfig{Name: name, URL: url})
		}
	}
	var (
		headers map[string]string
		timeout caddy.Duration
	)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
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
			var err error
			if timeout, err = durationArg(d); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized servers_from option '%s'", d.Val())
		}
	}
	for _, s := range servers {
		if len(headers) > 0 {
			s.Headers = make(map[string]string, len(headers))
			for k, v := range headers {
				s.Headers[k] = v
			}
		}
		s.Timeout = timeout
		c.Servers = append(c.Servers, s)
	}
	return nil
}

// splitList splits a list given as one argument by commas and spaces,
// dropping empty entries.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}
