package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-llm/gateway/modules/all"
)

// The generated Caddyfiles adapt with the gateway's directives as they are
// now: a change of their syntax fails here, not in the middle of a run.
func TestCaddyfilesAdapt(t *testing.T) {
	cfg := caddyConfig{
		AdminPort: 2999, Port: 3000, Upstream: "127.0.0.1:3002", IdleConns: 512,
		RedisURL: "redis://127.0.0.1:3004/0", JWKSURL: "http://127.0.0.1:3005/jwks",
	}
	for _, tc := range []struct {
		name    string
		tpl     *template.Template
		want    []string
		notWant []string
	}{
		{"bare Caddy", bareCaddyfile,
			[]string{`"handler":"reverse_proxy"`, `"flush_interval":-1`, `"max_idle_conns_per_host":512`, `"listen":"127.0.0.1:2999"`},
			[]string{"llm"}},
		{"minimal gateway", minimalCaddyfile,
			[]string{`"handler":"llm_auth"`, `"handler":"llm_rate_limit"`, `"handler":"llm_api"`, `"redis_url":"redis://127.0.0.1:3004/0"`,
				`"base_url":"http://127.0.0.1:3002/v1"`, `"discover_models":true`, `"jwks_url":"http://127.0.0.1:3005/jwks"`},
			[]string{"database_url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sb strings.Builder
			if err := tc.tpl.Execute(&sb, cfg); err != nil {
				t.Fatal(err)
			}
			out := adapt(t, sb.String())
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("the config lacks %s:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("the config has %s:\n%s", w, out)
				}
			}
		})
	}
}

func adapt(t *testing.T, caddyfile string) string {
	t.Helper()
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatalf("adapting:\n%s\n%v", caddyfile, err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
	return string(out)
}

// The repository's Caddyfile, with the environment the benchmark gives it
// and nothing else, listens where the benchmark measures, asks the fake
// upstream for its models, limits in Redis at rates that never refuse,
// trusts the benchmark's OIDC issuer and keeps the default log level.
func TestShippedCaddyfileEnvironment(t *testing.T) {
	dir := t.TempDir()
	g := gatewayConfig{upstreamAddr: "127.0.0.1:3002", redisURL: "redis://127.0.0.1:3004/0",
		issuer: &oidcIssuerServer{JWKSURL: "http://127.0.0.1:3005/jwks"}}
	run, err := shippedRun("../../../Caddyfile", dir, g, "postgres://postgres@127.0.0.1:5432/llmbench_x?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"SITE_ADDRESS", "HTTP_PORT", "REDIS_URL", "LOG_LEVEL", "OPENAI_API_KEY", "DATABASE_URL", "RATE_LIMIT_PER_IP"} {
		if !slices.Contains(run.drop, name) {
			t.Errorf("%s, read by the Caddyfile, is not removed from the inherited environment", name)
		}
	}
	// Caddyfile environment placeholders ({$X}) are expanded when the file
	// is adapted, from this process's environment.
	for _, name := range run.drop {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	for _, kv := range run.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	src, err := os.ReadFile(run.file)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		fmt.Sprintf(`"listen":[":%d"]`, run.port),
		fmt.Sprintf(`"listen":"127.0.0.1:%d"`, run.adminPort),
		`"base_url":"{env.INFERENCE_BASE_URL}"`,
		`"limit":"` + neverRefuse + `"`, `"api_key":"` + neverRefuse + `"`,
		`"jwks_url":"http://127.0.0.1:3005/jwks"`,
		`"level":"info"`,
	} {
		if !strings.Contains(string(out), w) {
			t.Errorf("the config lacks %s:\n%s", w, out)
		}
	}
	for _, w := range []string{"100/min", "1000/hour"} {
		if strings.Contains(string(out), w) {
			t.Errorf("the config keeps a default limit %s:\n%s", w, out)
		}
	}
}

func TestMeteringOffRunChangesOnlyTheUsageBlock(t *testing.T) {
	dir := t.TempDir()
	g := gatewayConfig{upstreamAddr: "127.0.0.1:3002", redisURL: "redis://127.0.0.1:3004/0",
		issuer: &oidcIssuerServer{JWKSURL: "http://127.0.0.1:3005/jwks"}}
	run, err := meteringOffRun("../../../Caddyfile", dir, g)
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile("../../../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	changed, err := os.ReadFile(run.file)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(string(shipped), "\t\tusage {\n", "\t\tusage {\n\t\t\toff\n", 1); string(changed) != want || want == string(shipped) {
		t.Fatalf("the metering-off copy differs from the shipped Caddyfile by more than `off` in its usage block")
	}
}
