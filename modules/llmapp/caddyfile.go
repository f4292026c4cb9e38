package llmapp

import (
	"encoding/json"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/caddy-llm/gateway/modules/internal/cfargs"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("llm", parseGlobalOption)
}

// parseGlobalOption sets up the `llm` app from the global option, whose
// syntax is App.UnmarshalCaddyfile's. Several `llm` options add to one
// another: each starts from the app the previous ones built.
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

// UnmarshalCaddyfile sets up the app from the `llm` global option:
//
//	llm {
//		# Storage
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
//
//		# Media references
//		media_resolve_url     <url>...
//		media_resolve_timeout <duration>
//
//		# Providers and models (providers_caddyfile.go)
//		provider <id> openai|anthropic|mock {
//			<the kind's options>
//		}
//		model <public id> {
//			<the model's options>
//		}
//		model_aliases <alias>=<model>[,<alias>=<model>...]...
//		discovery_interval <duration>
//		failure_threshold  <n>
//		cooldown           <duration>
//
//		# Authentication (auth_caddyfile.go)
//		auth {
//			<the auth options>
//		}
//
//		# MCP (mcp_caddyfile.go)
//		mcp {
//			<the mcp options>
//		}
//
//		# Users' memory and embeddings (memory_caddyfile.go)
//		memory {
//			<the memory options>
//		# Usage metering, prices, token limits (usage_caddyfile.go)
//		usage {
//			<the usage options>
//		}
//	}
//
// Each block's options are documented with its parser: provider kinds at
// the UnmarshalCaddyfile of their modules (modules/providers), the model
// block at ModelConfig.unmarshalCaddyfile, model_aliases at
// App.unmarshalModelAliases, auth at AuthConfig.unmarshalCaddyfile (and
// oidc at OIDCConfig.unmarshalCaddyfile), mcp at MCPConfig.unmarshalCaddyfile,
// memory at MemoryConfig.unmarshalCaddyfile.
//
// `<url>...` options take their non-empty arguments as candidates, of which
// the first that is non-empty once runtime placeholders ({env.X}) are
// expanded is used: `database_url {env.DATABASE_URL} {env.DB_POSTGRESQL_WRITE_DSN}`
// honours both variable names, and none leaves the part embedded. Every
// option has a golden test in testdata/caddyfile_adapt.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		// Storage: a new option is one case here and its line above.
		case "database_url":
			a.DatabaseURL = cfargs.Candidates(d)
		case "database_max_conns":
			a.DatabaseMaxConns, err = int32Arg(d)
		case "database_min_conns":
			a.DatabaseMinConns, err = int32Arg(d)
		case "database_connect_timeout":
			a.DatabaseConnectTimeout, err = cfargs.Duration(d)
		case "database_query_timeout":
			a.DatabaseQueryTimeout, err = cfargs.Duration(d)
		case "database_read_url":
			a.DatabaseReadURL = cfargs.Candidates(d)
		case "database_read_your_writes_window":
			a.DatabaseReadYourWritesWindow, err = cfargs.Duration(d)
		case "redis_url":
			a.RedisURL = cfargs.Candidates(d)
		case "redis_pool_size":
			a.RedisPoolSize, err = cfargs.Int(d)
		case "redis_timeout":
			a.RedisTimeout, err = cfargs.Duration(d)
		case "redis_dial_timeout":
			a.RedisDialTimeout, err = cfargs.Duration(d)

		// Media references.
		case "media_resolve_url":
			a.MediaResolveURL = cfargs.Candidates(d)
		case "media_resolve_timeout":
			a.MediaResolveTimeout, err = cfargs.Duration(d)

		// Providers and models.
		case "provider":
			err = a.unmarshalProvider(d)
		case "model":
			var m ModelConfig
			if err = m.unmarshalCaddyfile(d); err == nil {
				a.Models = append(a.Models, m)
			}
		case "model_aliases":
			err = a.unmarshalModelAliases(d)
		case "discovery_interval":
			a.DiscoveryInterval, err = cfargs.Duration(d)
		case "failure_threshold":
			a.FailureThreshold, err = cfargs.Int(d)
		case "cooldown":
			a.Cooldown, err = cfargs.Duration(d)

		// Blocks of their own.
		case "auth":
			if a.Auth == nil {
				a.Auth = new(AuthConfig)
			}
			err = a.Auth.unmarshalCaddyfile(d)
		case "mcp":
			if a.MCP == nil {
				a.MCP = new(MCPConfig)
			}
			err = a.MCP.unmarshalCaddyfile(d)
		case "memory":
			if a.Memory == nil {
				a.Memory = new(MemoryConfig)
			}
			err = a.Memory.unmarshalCaddyfile(d)
		case "usage":
			if a.Usage == nil {
				a.Usage = new(UsageConfig)
			}
			err = a.Usage.unmarshalCaddyfile(d)

		default:
			err = d.Errf("unrecognized llm option '%s'", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// int32Arg reads the whole number of a PostgreSQL pool size, which pgx
// takes as an int32 (cfargs.Int bounds it to one).
func int32Arg(d *caddyfile.Dispenser) (int32, error) {
	n, err := cfargs.Int(d)
	return int32(n), err
}
