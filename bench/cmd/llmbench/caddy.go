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

// Model ids the benchmark asks for. The fake upstream serves all three
// (they differ in the shape of their streams), the gateways discover them
// from its /v1/models, and bare Caddy passes the body on as it is.
const (
	fastModel  = "bench-model" // paced streams: -chunks chunks -chunk-delay apart
	burstModel = "bench-burst" // unpaced streams: -burst-chunks chunks at once
	slowModel  = "bench-slow"  // streams held open: a chunk every -slow-chunk-delay
)

// caddyConfig is what the generated Caddyfiles need.
type caddyConfig struct {
	AdminPort int
	Port      int // the measured site
	Upstream  string
	IdleConns int // bare Caddy's keep-alive pool per upstream host (0: Caddy's default)

	RedisURL string
	JWKSURL  string
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
`))

// minimalCaddyfile is scenario (m), the benchmark's own lean gateway:
// API-key authentication, one Redis rate limit per principal too high to
// trigger, the chat API proxying to the fake upstream, log level ERROR.
var minimalCaddyfile = template.Must(template.New("minimal").Parse(`{
	admin 127.0.0.1:{{.AdminPort}}
	persist_config off
	log {
		level ERROR
	}
	llm {
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
			discover_models
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

// renderCaddyfile writes tpl with cfg to dir/Caddyfile.
func renderCaddyfile(dir string, tpl *template.Template, cfg caddyConfig) (string, error) {
	var sb strings.Builder
	if err := tpl.Execute(&sb, cfg); err != nil {
		return "", fmt.Errorf("writing the Caddyfile of %s: %w", dir, err)
	}
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(sb.String()), 0o600); err != nil {
		return "", fmt.Errorf("writing the Caddyfile of %s: %w", dir, err)
	}
	return file, nil
}

// caddyServer is a running Caddy process.
type caddyServer struct {
	proc  *child
	base  string // the measured site
	admin string
}

// caddyRun is how to start one Caddy: its config file, the environment it
// adds, where it serves and where its admin endpoint listens.
type caddyRun struct {
	name      string
	dir       string // its data and config state, and its log
	file      string
	env       []string
	drop      []string // environment variables removed from the one inherited
	port      int
	adminPort int
	readyPath string
}

// startCaddy runs bin/caddy with the Caddyfile of run and waits until
// readyPath answers 200 on the measured site.
func startCaddy(ctx context.Context, bin, tmp string, run caddyRun) (*caddyServer, error) {
	env := append([]string{
		// Caddy keeps its data and config state under these; keep them in
		// the run's temporary folder.
		"XDG_DATA_HOME=" + run.dir, "XDG_CONFIG_HOME=" + run.dir, "HOME=" + run.dir,
	}, run.env...)
	proc, _, err := startChild(childSpec{
		name: run.name,
		argv: []string{bin, "run", "--config", run.file, "--adapter", "caddyfile"},
		env:  env,
		drop: run.drop,
	}, tmp)
	if err != nil {
		return nil, err
	}
	s := &caddyServer{
		proc:  proc,
		base:  "http://127.0.0.1:" + strconv.Itoa(run.port),
		admin: "http://127.0.0.1:" + strconv.Itoa(run.adminPort),
	}
	if err := waitHTTP(ctx, proc, s.base+run.readyPath, 30*time.Second); err != nil {
		_ = proc.stop(5 * time.Second)
		return nil, fmt.Errorf("starting %s: %w", run.name, err)
	}
	return s, nil
}

// startGenerated starts a Caddy with a generated Caddyfile on free ports.
func startGenerated(ctx context.Context, bin, tmp, name string, tpl *template.Template, cfg caddyConfig, readyPath string) (*caddyServer, error) {
	var err error
	if cfg.Port, err = freePort(); err != nil {
		return nil, err
	}
	if cfg.AdminPort, err = freePort(); err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	file, err := renderCaddyfile(dir, tpl, cfg)
	if err != nil {
		return nil, err
	}
	return startCaddy(ctx, bin, tmp, caddyRun{
		name: name, dir: dir, file: file, port: cfg.Port, adminPort: cfg.AdminPort, readyPath: readyPath,
	})
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
