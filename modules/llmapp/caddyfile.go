package llmapp

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("llm", parseGlobalOption)
}

// parseGlobalOption sets up the `llm` app from the global option:
//
//	llm {
//		database_url             <url>...
//		database_max_conns       <n>
//		database_min_conns       <n>
//		database_connect_timeout <duration>
//		database_query_timeout   <duration>
//		database_read_url        <url>...
//		database_read_your_writes_window <duration>
//		redis_url                <url>...
//		redis_pool_size          <n>
//		redis_timeout            <duration>
//		redis_dial_timeout       <duration>
//	}
//
// `database_url` and `redis_url` take the first non-empty of their arguments,
// so that `database_url {$DATABASE_URL} {$DB_POSTGRESQL_WRITE_DSN}` honours
// both variable names; no non-empty argument leaves the part embedded.
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	app := new(App)
	if existing != nil {
		if prev, ok := existing.(httpcaddyfile.App); ok {
			if err := json.Unmarshal(prev.Value, app); err != nil {
				return nil, err
			}
		}
	}
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "llm", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile sets up the app from Caddyfile tokens; see
// parseGlobalOption for the syntax.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "database_url":
			a.DatabaseURL = candidatesArg(d)
		case "database_max_conns":
			a.DatabaseMaxConns, err = int32Arg(d)
		case "database_min_conns":
			a.DatabaseMinConns, err = int32Arg(d)
		case "database_connect_timeout":
			a.DatabaseConnectTimeout, err = durationArg(d)
		case "database_query_timeout":
			a.DatabaseQueryTimeout, err = durationArg(d)
		case "database_read_url":
			a.DatabaseReadURL = candidatesArg(d)
		case "database_read_your_writes_window":
			a.DatabaseReadYourWritesWindow, err = durationArg(d)
		case "redis_url":
			a.RedisURL = candidatesArg(d)
		case "redis_pool_size":
			var n int32
			n, err = int32Arg(d)
			a.RedisPoolSize = int(n)
		case "redis_timeout":
			a.RedisTimeout, err = durationArg(d)
		case "redis_dial_timeout":
			a.RedisDialTimeout, err = durationArg(d)
		default:
			err = a.unmarshalMore(d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unmarshalMore handles the subdirectives that are not about storage.
func (a *App) unmarshalMore(d *caddyfile.Dispenser) error {
	switch d.Val() {
	case "provider":
		return a.unmarshalProvider(d)
	case "model":
		return a.unmarshalModel(d)
	case "discovery_interval":
		var err error
		a.DiscoveryInterval, err = durationArg(d)
		return err
	case "cooldown":
		var err error
		a.Cooldown, err = durationArg(d)
		return err
	case "failure_threshold":
		n, err := int32Arg(d)
		a.FailureThreshold = int(n)
		return err
	case "media_resolve_url":
		a.MediaResolveURL = candidatesArg(d)
		return nil
	case "media_resolve_timeout":
		var err error
		a.MediaResolveTimeout, err = durationArg(d)
		return err
	case "mcp":
		if a.MCP == nil {
			a.MCP = new(MCPConfig)
		}
		return a.MCP.unmarshalCaddyfile(d)
	case "auth":
		if a.Auth == nil {
			a.Auth = new(AuthConfig)
		}
		return a.Auth.unmarshalCaddyfile(d)
	}
	return d.Errf("unrecognized llm option '%s'", d.Val())
}

// unmarshalCaddyfile reads the auth block:
//
//	auth {
//		issuer          <iss>
//		access_ttl      <duration>
//		refresh_ttl     <duration>
//		key_rotation    <duration>
//		revocation_poll <duration>
//		oidc {
//			jwks_url          <url>...
//			keycloak_base_url <url>...
//			keycloak_realm    <realm>
//			issuer            <iss>...
//			audience          <aud>...
//			algorithms        <alg>...
//			leeway            <duration>
//		}
//	}
//
// Arguments marked ... take the first non-empty one, so unset environment
// variables leave an option unset; OIDC is off without a key set URL.
func (c *AuthConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "issuer":
			c.Issuer = firstNonEmptyArg(d)
		case "access_ttl":
			c.AccessTTL, err = durationArg(d)
		case "refresh_ttl":
			c.RefreshTTL, err = durationArg(d)
		case "key_rotation":
			c.KeyRotation, err = durationArg(d)
		case "revocation_poll":
			c.RevocationPoll, err = durationArg(d)
		case "oidc":
			if c.OIDC == nil {
				c.OIDC = new(OIDCConfig)
			}
			err = c.OIDC.unmarshalCaddyfile(d)
		default:
			err = d.Errf("unrecognized auth option '%s'", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (o *OIDCConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "jwks_url":
			o.JWKSURL = firstNonEmptyArg(d)
		case "keycloak_base_url":
			o.KeycloakBaseURL = firstNonEmptyArg(d)
		case "keycloak_realm":
			o.KeycloakRealm = firstNonEmptyArg(d)
		case "issuer":
			o.Issuer = firstNonEmptyArg(d)
		case "audience":
			o.Audience = firstNonEmptyArg(d)
		case "algorithms":
			o.Algorithms = nil
			for d.NextArg() {
				if d.Val() != "" {
					o.Algorithms = append(o.Algorithms, d.Val())
				}
			}
		case "leeway":
			o.Leeway, err = durationArg(d)
		default:
			err = d.Errf("unrecognized oidc option '%s'", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// candidatesArg returns the non-empty remaining arguments joined by spaces:
// candidates of which the first that is non-empty after runtime placeholders
// ({env.X}) are expanded is used.
func candidatesArg(d *caddyfile.Dispenser) string {
	var args []string
	for d.NextArg() {
		if d.Val() != "" {
			args = append(args, d.Val())
		}
	}
	return strings.Join(args, " ")
}

// unmarshalProvider reads
//
//	provider <id> <kind> {
//		<the kind's options>
//	}
//
// where kind is openai, anthropic or mock (module llm.providers.<kind>).
func (a *App) unmarshalProvider(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Errf("provider takes an id and a kind: provider <id> openai|anthropic|mock { … }")
	}
	id, kind := args[0], args[1]
	// The module reads its block from a dispenser of its own segment,
	// starting again at the "provider" token.
	d.Prev()
	d.Prev()
	mod, err := caddyfile.UnmarshalModule(d, "llm.providers."+kind)
	if err != nil {
		return err
	}
	a.Providers = append(a.Providers, ProviderConfig{
		ID:          id,
		ProviderRaw: caddyconfig.JSONModuleObject(mod, "kind", kind, nil),
	})
	return nil
}

// unmarshalModel reads
//
//	model <id> {
//		deployment           <provider id> [<upstream model>]
//		owned_by             <owner>
//		display_name         <name>
//		context_length       <n>
//		max_output_tokens    <n>
//		streaming|tools|vision true|false
//		supported_parameters <name>...
//	}
func (a *App) unmarshalModel(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	m := ModelConfig{ID: d.Val()}
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		var err error
		switch opt {
		case "deployment":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.Errf("deployment takes a provider id and optionally the upstream's model name")
			}
			dep := DeploymentConfig{Provider: args[0]}
			if len(args) == 2 {
				dep.Model = args[1]
			}
			m.Deployments = append(m.Deployments, dep)
		case "owned_by", "display_name":
			if !d.NextArg() {
				return d.ArgErr()
			}
			if opt == "owned_by" {
				m.OwnedBy = d.Val()
			} else {
				m.DisplayName = d.Val()
			}
		case "context_length", "max_output_tokens":
			var n int32
			if n, err = int32Arg(d); err == nil {
				if opt == "context_length" {
					m.ContextLength = int(n)
				} else {
					m.MaxOutputTokens = int(n)
				}
			}
		case "streaming", "tools", "vision":
			if !d.NextArg() {
				return d.ArgErr()
			}
			v, perr := strconv.ParseBool(d.Val())
			if perr != nil {
				return d.Errf("%s takes true or false", opt)
			}
			switch opt {
			case "streaming":
				m.Streaming = &v
			case "tools":
				m.Tools = &v
			case "vision":
				m.Vision = &v
			}
		case "supported_parameters":
			m.SupportedParameters = d.RemainingArgs()
		default:
			return d.Errf("unrecognized model option '%s'", opt)
		}
		if err != nil {
			return err
		}
	}
	a.Models = append(a.Models, m)
	return nil
}

// firstNonEmptyArg returns the first non-empty remaining argument on the
// line (environment placeholders that are unset expand to empty strings).
func firstNonEmptyArg(d *caddyfile.Dispenser) string {
	var first string
	for d.NextArg() {
		if first == "" && d.Val() != "" {
			first = d.Val()
		}
	}
	return first
}

func int32Arg(d *caddyfile.Dispenser) (int32, error) {
	name := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	n, err := strconv.ParseInt(d.Val(), 10, 32)
	if err != nil || n < 0 {
		return 0, d.Errf("'%s' needs a non-negative whole number, got '%s'", name, d.Val())
	}
	if d.NextArg() {
		return 0, d.ArgErr()
	}
	return int32(n), nil
}

func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	dur, err := caddy.ParseDuration(d.Val())
	if err != nil {
		return 0, d.Errf("'%s': parsing duration: %v", name, err)
	}
	if d.NextArg() {
		return 0, d.ArgErr()
	}
	return caddy.Duration(dur), nil
}

// unmarshalCaddyfile reads the mcp block:
//
//	mcp {
//		stateless
//		json_response
//		session_timeout <duration>
//		server <name> <url> {
//			header  <name> <value>
//			allow   <tool>...
//			timeout <duration>
//		}
//	}
func (c *MCPConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "stateless":
			c.Stateless = true
		case "json_response":
			c.JSONResponse = true
		case "session_timeout":
			c.SessionTimeout, err = durationArg(d)
		case "server":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("server takes a name and a URL")
			}
			s := MCPServerConfig{Name: args[0], URL: args[1]}
			for inner := d.Nesting(); d.NextBlock(inner); {
				switch d.Val() {
				case "header":
					kv := d.RemainingArgs()
					if len(kv) != 2 {
						return d.ArgErr()
					}
					if s.Headers == nil {
						s.Headers = map[string]string{}
					}
					s.Headers[kv[0]] = kv[1]
				case "allow":
					s.AllowTools = append(s.AllowTools, d.RemainingArgs()...)
				case "timeout":
					if s.Timeout, err = durationArg(d); err != nil {
						return err
					}
				default:
					return d.Errf("unrecognized mcp server option '%s'", d.Val())
				}
			}
			c.Servers = append(c.Servers, s)
		default:
			err = d.Errf("unrecognized mcp option '%s'", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}
