package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// postgresServer is a PostgreSQL instance of the test's own, for drills
// that stop and restart the database.
type postgresServer struct {
	t    testing.TB
	dir  string
	port int
}

// startPostgres initialises and starts a throwaway PostgreSQL on a free port.
func startPostgres(t testing.TB) *postgresServer {
	t.Helper()
	p := initPostgres(t)
	p.start()
	return p
}

// initPostgres initialises a throwaway PostgreSQL on a free port without
// starting it; it is stopped when the test ends if it was started.
func initPostgres(t testing.TB) *postgresServer {
	t.Helper()
	initdb := postgresBinary(t, "initdb")
	dir, err := os.MkdirTemp("", "llmgw-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	chownToPostgresUser(t, data)
	p := &postgresServer{t: t, dir: data, port: freePort(t)}
	p.run(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
	t.Cleanup(p.stop)
	return p
}

func (p *postgresServer) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

func (p *postgresServer) start() {
	p.t.Helper()
	p.run(postgresBinary(p.t, "pg_ctl"), "-D", p.dir, "-w", "-l", filepath.Join(p.dir, "log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir), "start")
}

func (p *postgresServer) stop() {
	_ = p.runErr(postgresBinary(p.t, "pg_ctl"), "-D", p.dir, "-m", "fast", "-w", "stop")
}

func (p *postgresServer) run(name string, args ...string) {
	p.t.Helper()
	if err := p.runErr(name, args...); err != nil {
		p.t.Fatal(err)
	}
}

func (p *postgresServer) runErr(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	if os.Geteuid() == 0 { // initdb and postgres refuse to run as root
		uid, gid := postgresUser(p.t)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return nil
}

func postgresBinary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) == 0 {
		t.Fatalf("%s not found: install PostgreSQL's server package", name)
	}
	return matches[len(matches)-1]
}

func postgresUser(t testing.TB) (uint32, uint32) {
	for _, name := range []string{"postgres", "nobody"} {
		if u, err := user.Lookup(name); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			return uint32(uid), uint32(gid)
		}
	}
	t.Fatal("no postgres or nobody user to run PostgreSQL as")
	return 0, 0
}

func chownToPostgresUser(t testing.TB, path string) {
	if os.Geteuid() != 0 {
		return
	}
	uid, gid := postgresUser(t)
	if err := os.Chown(path, int(uid), int(gid)); err != nil {
		t.Fatal(err)
	}
}

// With PostgreSQL stopped, chat with a token keeps working, the routes that
// need the database answer 503 in the spec's shape, and readiness is 503;
// when it comes back, everything recovers without restarting the gateway.
func TestPostgresOutageDrill(t *testing.T) {
	pg := startPostgres(t)
	port, adminPort := freePort(t), freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port:   port,
		Admin:  fmt.Sprintf("localhost:%d", adminPort),
		Global: "metrics",
		LLM:    fmt.Sprintf("database_url %s\n\t\tdatabase_connect_timeout 1s\n\t\tdatabase_query_timeout 2s", pg.url()),
		Routes: "llm_auth",
	}))
	scrape := func() string {
		resp, err := http.Get(fmt.Sprintf("http://localhost:%d/metrics", adminPort))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	const dbErrors = `llm_gateway_backend_errors_total{backend="database"}`
	auth := []string{"Authorization", "Bearer " + guestToken(t, g)}
	chat := map[string]any{"model": "jan-v1-4b", "max_tokens": 4, "messages": []map[string]any{{"role": "user", "content": "hi"}}}
	if r := g.do("POST", "/v1/conversations", map[string]any{"title": "before the outage"}, auth...); r.Status != http.StatusOK {
		t.Fatalf("creating a conversation = %d %s", r.Status, r.Body)
	}

	pg.stop()
	if r := g.do("POST", "/v1/chat/completions", chat, auth...); r.Status != http.StatusOK {
		t.Fatalf("chat during the outage = %d %s", r.Status, r.Body)
	}
	start := time.Now()
	wantError(t, g.do("GET", "/v1/conversations", nil, auth...), http.StatusServiceUnavailable, "database_unavailable")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the conversation route took %s to fail", d)
	}
	e := wantError(t, g.do("GET", "/v1/readyz", nil), http.StatusServiceUnavailable, "not_ready")
	if !strings.Contains(fmt.Sprint(e["message"]), "database") {
		t.Fatalf("readyz does not name the database: %v", e)
	}
	if n := metricValue(t, scrape(), dbErrors); n < 1 {
		t.Fatalf("%s = %v after a database outage", dbErrors, n)
	}

	pg.start()
	waitFor(t, 15*time.Second, func() (int, bool) {
		r := g.do("GET", "/v1/conversations", nil, auth...)
		return r.Status, r.Status == http.StatusOK
	})
	list := g.do("GET", "/v1/conversations", nil, auth...).JSON(t)
	if list["total"] != float64(1) {
		t.Fatalf("after recovery the list is %v", list)
	}
	// Readiness is computed at most once a second.
	waitFor(t, 5*time.Second, func() (int, bool) {
		r := g.do("GET", "/v1/readyz", nil)
		return r.Status, r.Status == http.StatusOK
	})
}

// SIGTERM lets an open stream finish within the grace period.
func TestSIGTERMDrainsStreams(t *testing.T) {
	port := freePort(t)
	p := startProcess(t, testCaddyfile(t, siteOptions{
		Port:   port,
		LLM:    "provider slow mock {\n\t\t\ttoken_delay 50ms\n\t\t}",
		Routes: "llm_auth",
	}))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, base+"/v1/healthz", 60*time.Second)
	g := &gateway{t: t, base: base, client: &http.Client{Timeout: 30 * time.Second}}
	token := guestToken(t, g)

	req, _ := http.NewRequest("POST", base+"/v1/chat/completions",
		strings.NewReader(`{"model":"jan-v1-4b","stream":true,"max_tokens":30,"messages":[{"role":"user","content":"`+strings.Repeat("tell me everything ", 10)+`"}]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() {
		t.Fatal("no first event")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	words, done := 0, false
	for sc.Scan() {
		line := sc.Text()
		if line == "data: [DONE]" {
			done = true
		} else if strings.Contains(line, `"content":"`) {
			words++
		}
	}
	if !done || words < 20 {
		t.Fatalf("the stream ended after %d words without [DONE] (%v) once SIGTERM was sent", words, sc.Err())
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not exit after its last stream")
	}
}
