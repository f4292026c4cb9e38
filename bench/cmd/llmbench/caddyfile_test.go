package main

import (
	"strings"
	"testing"
	"text/template"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	_ "github.com/caddy-llm/gateway/modules/llmapi"
	_ "github.com/caddy-llm/gateway/modules/llmapp"
	_ "github.com/caddy-llm/gateway/modules/llmauth"
	_ "github.com/caddy-llm/gateway/modules/llmratelimit"
	_ "github.com/caddy-llm/gateway/modules/providers"
)

// The generated Caddyfiles adapt with the gateway's directives as they are
// now: a change of their syntax fails here, not in the middle of a run.
func TestCaddyfilesAdapt(t *testing.T) {
	cfg := caddyConfig{
		AdminPort: 2999, Port: 3000, SlowPort: 3001,
		Upstream: "127.0.0.1:3002", SlowUpstream: "127.0.0.1:3003", IdleConns: 512,
		RedisURL: "redis://127.0.0.1:3004/0", JWKSURL: "http://127.0.0.1:3005/jwks",
	}
	withDB := cfg
	withDB.DatabaseURL = "postgres://postgres@127.0.0.1:5432/llmbench_x?sslmode=disable"
	for _, tc := range []struct {
		name    string
		tpl     *template.Template
		cfg     caddyConfig
		want    []string
		notWant []string
	}{
		{"bare Caddy", bareCaddyfile, cfg,
			[]string{`"handler":"reverse_proxy"`, `"flush_interval":-1`, `"max_idle_conns_per_host":512`, `"127.0.0.1:3003"`, `"listen":"127.0.0.1:2999"`},
			[]string{"llm"}},
		{"gateway", gatewayCaddyfile, cfg,
			[]string{`"handler":"llm_auth"`, `"handler":"llm_rate_limit"`, `"handler":"llm_api"`, `"redis_url":"redis://127.0.0.1:3004/0"`,
				`"base_url":"http://127.0.0.1:3002/v1"`, `"id":"` + slowModel + `"`, `"jwks_url":"http://127.0.0.1:3005/jwks"`},
			[]string{"database_url"}},
		{"gateway with PostgreSQL", gatewayCaddyfile, withDB,
			[]string{`"database_url":"postgres://postgres@127.0.0.1:5432/llmbench_x?sslmode=disable"`},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sb strings.Builder
			if err := tc.tpl.Execute(&sb, tc.cfg); err != nil {
				t.Fatal(err)
			}
			out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(sb.String()), nil)
			if err != nil {
				t.Fatalf("adapting:\n%s\n%v", sb.String(), err)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %v", warnings)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the config lacks %s:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(string(out), w) {
					t.Errorf("the config has %s:\n%s", w, out)
				}
			}
		})
	}
}
