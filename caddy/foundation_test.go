package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store/storetest"
)

// The default Caddyfile must adapt and validate on a machine with no
// environment at all.
func TestDefaultCaddyfileAdaptsAndValidates(t *testing.T) {
	cfgJSON := adapt(t, defaultCaddyfile(t))
	var cfg caddy.Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatalf("decoding adapted config: %v", err)
	}
	if err := caddy.Validate(&cfg); err != nil {
		t.Fatalf("validating the default Caddyfile: %v", err)
	}
	for _, want := range []string{`"llm"`, `"handler":"llm_api"`, `"handler":"llm_error"`} {
		if !strings.Contains(string(cfgJSON), want) {
			t.Errorf("adapted config lacks %s", want)
		}
	}
}

// The binary's own `validate` and `adapt` commands accept the default
// Caddyfile, and `list-modules` lists the gateway's modules.
func TestBinaryCommands(t *testing.T) {
	bin := caddyBinary(t)
	for _, args := range [][]string{
		{"validate", "--config", "../Caddyfile", "--adapter", "caddyfile"},
		{"adapt", "--config", "../Caddyfile", "--adapter", "caddyfile", "--validate"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"HOME=" + t.TempDir()}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("caddy %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := exec.Command(bin, "list-modules").CombinedOutput()
	if err != nil {
		t.Fatalf("caddy list-modules: %v\n%s", err, out)
	}
	for _, id := range []string{"llm", "http.handlers.llm_api", "http.handlers.llm_error", "caddy.logging.encoders.text"} {
		if !containsLine(string(out), id) {
			t.Errorf("list-modules does not list %s", id)
		}
	}
}

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

// The default Caddyfile, run with no environment, serves health, readiness
// and version on both listeners and the /llm/v1 aliases.
func TestDefaultCaddyfileServesHealth(t *testing.T) {
	gw, svc := freePort(t), freePort(t)
	g := startGateway(t, gw, withPorts(defaultCaddyfile(t), gw, svc))

	for _, base := range []string{g.base, fmt.Sprintf("http://127.0.0.1:%d", svc)} {
		g.base = base
		for _, path := range []string{"/v1/healthz", "/llm/v1/healthz"} {
			r := g.do("GET", path, nil)
			if r.Status != http.StatusOK || r.JSON(t)["status"] != "ok" {
				t.Fatalf("GET %s%s = %d %s", base, path, r.Status, r.Body)
			}
		}
		r := g.do("GET", "/v1/readyz", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("readyz = %d %s", r.Status, r.Body)
		}
		checks, _ := r.JSON(t)["checks"].(map[string]any)
		if checks["database"] != "up" {
			t.Fatalf("readyz checks = %v, want database up", checks)
		}
		if _, ok := checks["redis"]; ok {
			t.Fatalf("readyz reports redis although none is configured: %v", checks)
		}
		v := g.do("GET", "/v1/version", nil).JSON(t)
		for _, f := range []string{"version", "commit", "build_time", "go_version", "caddy_version"} {
			if s, _ := v[f].(string); s == "" {
				t.Errorf("version.%s is empty: %v", f, v)
			}
		}
	}
}

// Errors on the API's routes are JSON in the spec's shape, also the ones
// that no handler of ours wrote itself.
func TestErrorsAreJSON(t *testing.T) {
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{Port: port, MaxBody: "1KB"}))

	wantError(t, g.do("GET", "/v1/no-such-route", nil), http.StatusNotFound, "route_not_found")
	r := g.do("DELETE", "/v1/healthz", nil)
	wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	if r.Header.Get("Allow") != "GET" {
		t.Errorf("Allow = %q, want GET", r.Header.Get("Allow"))
	}
}

// With PostgreSQL and Redis configured, readiness reports both. A stopped
// Redis makes it "degraded" (200) while the rate limits fail open, since
// the gateway still serves; with a fail_closed limit it is a 503 that names
// Redis.
func TestReadyzReportsDatabaseAndRedis(t *testing.T) {
	dsn := storetest.NewPostgresDatabase(t)
	rs := startRedis(t, 0)
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM:  fmt.Sprintf("database_url %s\n\t\tredis_url %s", dsn, rs.url()),
	}))

	r := g.do("GET", "/v1/readyz", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("readyz = %d %s", r.Status, r.Body)
	}
	checks, _ := r.JSON(t)["checks"].(map[string]any)
	if checks["database"] != "up" || checks["redis"] != "up" {
		t.Fatalf("checks = %v, want database and redis up", checks)
	}

	rs.stop()
	// Readiness is computed at most once a second.
	r = waitFor(t, 5*time.Second, func() (response, bool) {
		r := g.do("GET", "/v1/readyz", nil)
		return r, !strings.Contains(string(r.Body), `"redis":"up"`)
	})
	body := r.JSON(t)
	checks, _ = body["checks"].(map[string]any)
	if r.Status != http.StatusOK || body["status"] != "degraded" || checks["redis"] != "down" || checks["database"] != "up" {
		t.Fatalf("readyz with Redis down and no fail_closed limit = %d %s; want 200, degraded, redis down", r.Status, r.Body)
	}

	// A fail_closed limit refuses requests without Redis: Redis is then
	// required.
	loadConfig(t, testCaddyfile(t, siteOptions{
		Port:   port,
		LLM:    fmt.Sprintf("database_url %s\n\t\tredis_url %s", dsn, rs.url()),
		Routes: "llm_auth\n\t\tllm_rate_limit {\n\t\t\tguest 10/min\n\t\t\tfail_closed\n\t\t}",
	}))
	r = waitFor(t, 5*time.Second, func() (response, bool) {
		r := g.do("GET", "/v1/readyz", nil)
		return r, r.Status == http.StatusServiceUnavailable
	})
	e := wantError(t, r, http.StatusServiceUnavailable, "not_ready")
	msg, _ := e["message"].(string)
	if !strings.Contains(msg, "redis") || strings.Contains(msg, "database") {
		t.Fatalf("readyz message %q should name redis and only redis", msg)
	}
	// Liveness does not depend on Redis.
	if r := g.do("GET", "/v1/healthz", nil); r.Status != http.StatusOK {
		t.Fatalf("healthz with Redis down = %d", r.Status)
	}
}

// Two gateways starting at once on an empty database apply every migration
// exactly once.
func TestMigrationsAppliedOnceByTwoReplicas(t *testing.T) {
	dsn := storetest.NewPostgresDatabase(t)
	ports := []int{freePort(t), freePort(t)}
	for _, port := range ports {
		startProcess(t, testCaddyfile(t, siteOptions{Port: port, LLM: "database_url " + dsn}))
	}
	for _, port := range ports {
		waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/v1/healthz", port), 60*time.Second)
		r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/readyz", port))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			t.Fatalf("replica on %d: readyz = %d", port, r.StatusCode)
		}
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT version_id, count(*) FROM goose_db_version WHERE version_id > 0 GROUP BY version_id`)
	if err != nil {
		t.Fatalf("reading goose_db_version: %v", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var version, count int64
		if err := rows.Scan(&version, &count); err != nil {
			t.Fatal(err)
		}
		if count != 1 {
			t.Errorf("migration %d applied %d times", version, count)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no migration recorded")
	}
}
