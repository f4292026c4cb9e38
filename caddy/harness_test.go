package main

// The integration tests of this package run the gateway as users run it: a
// real Caddy with the gateway's modules, loaded from a Caddyfile, in front of
// real PostgreSQL and Redis, and (for the multi-process drills) the built
// binary itself. Caddy is a process singleton, so tests here do not run in
// parallel.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// adapt turns a Caddyfile into Caddy's JSON config.
func adapt(t testing.TB, caddyfile string) []byte {
	t.Helper()
	adapter := caddyconfig.GetAdapter("caddyfile")
	cfg, warnings, err := adapter.Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting Caddyfile: %v\n%s", err, caddyfile)
	}
	for _, w := range warnings {
		if strings.Contains(w.Message, "not formatted") {
			continue // test Caddyfiles are rendered from templates
		}
		t.Logf("Caddyfile warning: %s", w.String())
	}
	return cfg
}

// gateway is a Caddy config running in this process.
type gateway struct {
	t      testing.TB
	base   string // http://127.0.0.1:port of the site under test
	client *http.Client
}

// loadConfig (re)loads Caddy in process with the Caddyfile, exactly as the
// admin API's /load (and so `caddy reload`) does.
func loadConfig(t testing.TB, caddyfile string) {
	t.Helper()
	if err := caddy.Load(adapt(t, caddyfile), true); err != nil {
		t.Fatalf("loading config: %v", err)
	}
}

// startGateway loads the Caddyfile, whose site listens on port, and waits
// until it answers. Caddy is stopped when the test ends.
func startGateway(t testing.TB, port int, caddyfile string) *gateway {
	t.Helper()
	loadConfig(t, caddyfile)
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Logf("stopping caddy: %v", err)
		}
	})
	g := &gateway{
		t:      t,
		base:   fmt.Sprintf("http://127.0.0.1:%d", port),
		client: &http.Client{Timeout: 30 * time.Second},
	}
	g.waitReady()
	return g
}

func (g *gateway) waitReady() {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := g.client.Get(g.base + "/v1/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.t.Fatalf("gateway at %s did not become healthy", g.base)
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// do sends a request; body may be nil, a string, []byte or a value to encode
// as JSON. headers are pairs of name, value.
func (g *gateway) do(method, path string, body any, headers ...string) response {
	g.t.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rdr = strings.NewReader(b)
	case []byte:
		rdr = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			g.t.Fatalf("encoding request body: %v", err)
		}
		rdr = bytes.NewReader(enc)
	}
	if rdr != nil {
		raw, _ := io.ReadAll(rdr)
		rememberSecretsIn(raw)
		rdr = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, g.base+path, rdr)
	if err != nil {
		g.t.Fatalf("building request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		g.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	rememberSecretsIn(data)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// wantError asserts that r is an error in the spec's shape with the status
// and code.
func wantError(t testing.TB, r response, status int, code string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json; body: %s", ct, r.Body)
	}
	m := r.JSON(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.Body)
	}
	for _, f := range []string{"message", "type", "code"} {
		if s, _ := e[f].(string); s == "" {
			t.Fatalf("error.%s missing in %s", f, r.Body)
		}
	}
	if code != "" && e["code"] != code {
		t.Fatalf("error.code = %v, want %s; body: %s", e["code"], code, r.Body)
	}
	return e
}

// ---- processes ---------------------------------------------------------------

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// caddyBinary returns the gateway binary built from this tree: bin/caddy when
// the test command built it, else one built now into a temporary folder.
func caddyBinary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		root, err := filepath.Abs("..")
		if err != nil {
			binaryErr = err
			return
		}
		if p := filepath.Join(root, "bin", "caddy"); os.Getenv("LLMGW_USE_BIN") != "" {
			binaryPath = p
			return
		}
		dir, err := os.MkdirTemp("", "llmgw-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "caddy")
		cmd := exec.Command("go", "build", "-o", binaryPath, "./caddy")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("building caddy: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// process is a gateway binary running in its own process.
type process struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProcess runs `caddy run --config <file>` with the Caddyfile and extra
// environment, and stops it when the test ends.
func startProcess(t testing.TB, caddyfile string, env ...string) *process {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(caddyBinary(t), "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	cmd.Env = append(cmd.Env, env...)
	p := &process{cmd: cmd, logs: &lockedBuffer{}}
	cmd.Stdout = p.logs
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting caddy: %v", err)
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *process) stop(t testing.TB) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	appendToLog(p.logs.String())
	if t.Failed() {
		t.Logf("caddy process logs:\n%s", p.logs.String())
	}
}

// waitHTTP waits until url answers with any status.
func waitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within %s", url, timeout)
}

// redisServer is a redis-server process of the test's own, for drills that
// stop and restart Redis.
type redisServer struct {
	port int
	cmd  *exec.Cmd
}

func startRedis(t testing.TB, port int) *redisServer {
	t.Helper()
	if port == 0 {
		port = freePort(t)
	}
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	r := &redisServer{port: port, cmd: cmd}
	t.Cleanup(r.stop)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("redis-server on port %d did not start", port)
	return nil
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) stop() {
	if r.cmd.ProcessState != nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}
