package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Model ids the gateway serves in the benchmark: the fast upstream's and
// the slow one's (for the many-open-streams measurement).
const (
	fastModel = "bench-model"
	slowModel = "bench-slow"
)

// caddyConfig is what the Caddyfile templates need.
type caddyConfig struct {
	AdminPort    int
	Port         int // the measured site
	SlowPort     int // bare Caddy only: a second site proxying to the slow upstream
	Upstream     string
	SlowUpstream string
	IdleConns    int // bare Caddy's keep-alive pool per upstream host (0: Caddy's default)

	RedisURL    string
	DatabaseURL string // empty: the embedded in-memory store
	JWKSURL     string
}

// bareCaddyfile is scenario (b): Caddy's reverse_proxy and nothing else,
// flushing every write at once as a streaming proxy must.
var bareCaddyfile = template.Must(template.New("bare").Parse(`{
	admin 127.0.0.1:{{.AdminPort}}
	persist_config off
	log {
		level ERROR
	}
}

http://127.0.0.1:{{.Port}} {
	reverse_proxy {{.Upstream}} {
		flush_interval -1
{{- if .IdleConns}}
		transport http {
			keepalive_idle_conns_per_host {{.IdleConns}}
		}
{{- end}}
	}
}

http://127.0.0.1:{{.SlowPort}} {
	reverse_proxy {{.SlowUpstream}} {
		flush_interval -1
	}
}
`))

// gatewayCaddyfile is scenarios (c) and (d): API-key authentication, Redis
// rate limits too high to trigger, and the chat API proxying to the fake
// upstream; (d) adds PostgreSQL.
var gatewayCaddyfile = template.Must(template.New("gateway").Parse(`{
	admin 127.0.0.1:{{.AdminPort}}
	persist_config off
	log {
		level ERROR
	}
	llm {
{{- if .DatabaseURL}}
		database_url {{.DatabaseURL}}
{{- end}}
		redis_url {{.RedisURL}}
		auth {
			oidc {
				jwks_url {{.JWKSURL}}
				issuer ` + oidcIssuer + `
				audience ` + oidcAudience + `
			}
		}
		provider up openai {
			base_url http://{{.Upstream}}/v1
		}
		provider slow openai {
			base_url http://{{.SlowUpstream}}/v1
		}
		model ` + fastModel + ` {
			deployment up ` + fastModel + `
		}
		model ` + slowModel + ` {
			deployment slow ` + fastModel + `
		}
	}
}

http://127.0.0.1:{{.Port}} {
	route {
		llm_auth
		llm_rate_limit {
			by principal
			user 100000000/min
			api_key 100000000/min
			guest 100000000/min
		}
		llm_api
	}
}
`))

// caddyServer is a running Caddy process.
type caddyServer struct {
	proc  *child
	base  string // the measured site
	slow  string // where the slow upstream is reached (bare Caddy's second site)
	admin string
}

// startCaddy writes the Caddyfile for name, runs bin/caddy with it and
// waits until readyPath answers 200 on the measured site.
func startCaddy(ctx context.Context, bin, tmp, name string, tpl *template.Template, cfg caddyConfig, readyPath string) (*caddyServer, error) {
	var err error
	if cfg.Port, err = freePort(); err != nil {
		return nil, err
	}
	if cfg.SlowPort, err = freePort(); err != nil {
		return nil, err
	}
	if cfg.AdminPort, err = freePort(); err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	var sb strings.Builder
	if err := tpl.Execute(&sb, cfg); err != nil {
		return nil, fmt.Errorf("writing the Caddyfile of %s: %w", name, err)
	}
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(sb.String()), 0o600); err != nil {
		return nil, fmt.Errorf("writing the Caddyfile of %s: %w", name, err)
	}
	proc, _, err := startChild(childSpec{
		name: name,
		argv: []string{bin, "run", "--config", file, "--adapter", "caddyfile"},
		// Caddy keeps its data and config state under these; keep them in
		// the run's temporary folder.
		env: []string{"XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "HOME=" + dir},
	}, tmp)
	if err != nil {
		return nil, err
	}
	s := &caddyServer{
		proc:  proc,
		base:  "http://127.0.0.1:" + strconv.Itoa(cfg.Port),
		slow:  "http://127.0.0.1:" + strconv.Itoa(cfg.SlowPort),
		admin: "http://127.0.0.1:" + strconv.Itoa(cfg.AdminPort),
	}
	if err := waitHTTP(ctx, proc, s.base+readyPath, 30*time.Second); err != nil {
		_ = proc.stop(5 * time.Second)
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return s, nil
}

// waitHTTP polls url until it answers 200, the process exits or the
// timeout passes.
func waitHTTP(ctx context.Context, proc *child, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if !proc.running() {
			return fmt.Errorf("it exited: %s", proc.logTail())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s did not answer 200 (%s): %s", url, last, proc.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// goroutines reads the goroutine count from Caddy's admin pprof endpoint.
func goroutines(ctx context.Context, admin string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, admin+"/debug/pprof/goroutine?debug=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading goroutines: %w", err)
	}
	defer resp.Body.Close()
	head := make([]byte, 128)
	n, _ := io.ReadFull(resp.Body, head)
	_, _ = io.Copy(io.Discard, resp.Body)
	return parseGoroutineTotal(string(head[:n]))
}

// parseGoroutineTotal reads "goroutine profile: total N" from the first
// line of a debug=1 goroutine profile.
func parseGoroutineTotal(s string) (int, error) {
	line, _, _ := strings.Cut(s, "\n")
	rest, ok := strings.CutPrefix(line, "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("reading goroutines: unexpected first line %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(rest))
	if err != nil {
		return 0, fmt.Errorf("reading goroutines: %w", err)
	}
	return n, nil
}

// fetchProfile saves the admin endpoint's pprof profile at path (for
// example "profile?seconds=5" or "allocs?seconds=5") to file.
func fetchProfile(ctx context.Context, admin, path, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, admin+"/debug/pprof/"+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetching profile %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("fetching profile %s: status %d: %s", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("saving profile %s: %w", path, err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("saving profile %s: %w", path, err)
	}
	return f.Close()
}
