package main

// Scale-out on PostgreSQL (issue 14, point 4): list and get reads served by
// a streaming replica the test creates with pg_basebackup -R, writes and
// the writer's own reads on the primary, the primary taking the reads when
// the replica stops.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgBinDir returns the folder of the PostgreSQL server binaries.
func pgBinDir(t testing.TB) string {
	t.Helper()
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := string(out[:len(out)-1])
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		t.Fatal("PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) not found")
	}
	return filepath.Dir(matches[len(matches)-1])
}

// pgCluster is a PostgreSQL server of the test's own, in a temp dir.
type pgCluster struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	uid  *user.User // the OS user the server runs as; nil: this one
}

// pgCommand runs a PostgreSQL binary, as the postgres OS user when the test
// runs as root (initdb and postgres refuse root).
func (c *pgCluster) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if c.uid != nil {
		return exec.Command("runuser", append([]string{"-u", c.uid.Username, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (c *pgCluster) run(name string, args ...string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := c.command(name, args...)
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// newPGDir makes a temp dir the server's OS user owns.
func newPGDir(t testing.TB, u *user.User) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "llmgw-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if u != nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// start starts the server in c.dir/data on c.port, stopped when the test
// ends.
func (c *pgCluster) start() {
	c.t.Helper()
	c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-w", "-t", "30", "-l", filepath.Join(c.dir, "log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.port, c.dir), "start")
	c.t.Cleanup(c.stop)
}

// stop stops the server at once (it may be stopped already).
func (c *pgCluster) stop() {
	cmd := c.command("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	_ = cmd.Run()
}

func (c *pgCluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// startPrimaryAndReplica creates a primary with initdb and a streaming
// replica of it with pg_basebackup -R, each on a free port.
func startPrimaryAndReplica(t testing.TB) (primary, replica *pgCluster) {
	t.Helper()
	var u *user.User
	if os.Geteuid() == 0 {
		var err error
		if u, err = user.Lookup("postgres"); err != nil {
			t.Fatalf("running as root needs a postgres OS user for initdb: %v", err)
		}
	}
	bin := pgBinDir(t)
	primary = &pgCluster{t: t, bin: bin, dir: newPGDir(t, u), port: freePort(t), uid: u}
	data := filepath.Join(primary.dir, "data")
	primary.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
	conf := "\nwal_level = replica\nmax_wal_senders = 5\nhot_standby = on\n"
	hba := "\nhost replication all 127.0.0.1/32 trust\n"
	for file, text := range map[string]string{"postgresql.conf": conf, "pg_hba.conf": hba} {
		f, err := os.OpenFile(filepath.Join(data, file), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString(text)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	primary.start()

	replica = &pgCluster{t: t, bin: bin, dir: newPGDir(t, u), port: freePort(t), uid: u}
	replica.run("pg_basebackup", "-D", filepath.Join(replica.dir, "data"), "-R", "-X", "stream",
		"-h", "127.0.0.1", "-p", strconv.Itoa(primary.port), "-U", "postgres")
	replica.start()
	return primary, replica
}

func pgExec(t testing.TB, url, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// conversationTitles lists a user's conversation titles.
func conversationTitles(t testing.TB, g *gateway, token string) []string {
	t.Helper()
	r := g.do("GET", "/v1/conversations", nil, "Authorization", "Bearer "+token)
	if r.Status != http.StatusOK {
		t.Fatalf("listing conversations = %d %s", r.Status, r.Body)
	}
	var titles []string
	data, _ := r.JSON(t)["data"].([]any)
	for _, d := range data {
		if m, ok := d.(map[string]any); ok {
			title, _ := m["title"].(string)
			titles = append(titles, title)
		}
	}
	return titles
}

// A gateway with database_url on a primary and database_read_url on its
// streaming replica. With the replica's replay paused, a user who just
// created a conversation sees it at once (reads on the primary for the
// read-your-writes window), and once the window is over the list is
// served by the replica's older state, without it: proof that the list
// runs on the replica. Replay resumed, the replica catches up. Replica
// stopped: readiness says degraded (database_replica down) and lists are
// served by the primary.
func TestScaleOutPostgresReadReplica(t *testing.T) {
	const window = 2 * time.Second
	primary, replica := startPrimaryAndReplica(t)
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf("database_url %s\n\t\tdatabase_read_url %s\n\t\tdatabase_read_your_writes_window %s",
			primary.url(), replica.url(), window),
		Routes:   "llm_auth",
		LogLevel: "info",
	}))
	token := guestToken(t, g)
	auth := []string{"Authorization", "Bearer " + token}
	if r := g.do("GET", "/v1/readyz", nil); r.Status != http.StatusOK || r.JSON(t)["status"] != "ready" ||
		r.JSON(t)["checks"].(map[string]any)["database_replica"] != "up" {
		t.Fatalf("readyz with primary and replica up = %d %s", r.Status, r.Body)
	}

	pgExec(t, replica.url(), "SELECT pg_wal_replay_pause()")
	r := g.do("POST", "/v1/conversations", map[string]any{"title": "fresh"}, auth...)
	if r.Status != http.StatusOK {
		t.Fatalf("creating a conversation = %d %s", r.Status, r.Body)
	}
	id, _ := r.JSON(t)["id"].(string)
	if got := conversationTitles(t, g, token); len(got) != 1 || got[0] != "fresh" {
		t.Fatalf("the writer's list right after its write = %q, want [fresh] (read your writes)", got)
	}
	if r := g.do("GET", "/v1/conversations/"+id, nil, auth...); r.Status != http.StatusOK {
		t.Fatalf("the writer's get right after its write = %d %s", r.Status, r.Body)
	}

	time.Sleep(window + 500*time.Millisecond)
	if got := conversationTitles(t, g, token); len(got) != 0 {
		t.Fatalf("list after the window with replay paused = %q, want the replica's state without the new conversation", got)
	}
	if r := g.do("GET", "/v1/conversations/"+id, nil, auth...); r.Status != http.StatusNotFound {
		t.Fatalf("get after the window with replay paused = %d %s, want 404 from the replica", r.Status, r.Body)
	}

	pgExec(t, replica.url(), "SELECT pg_wal_replay_resume()")
	caughtUp := time.Now().Add(10 * time.Second)
	for got := conversationTitles(t, g, token); len(got) != 1; got = conversationTitles(t, g, token) {
		if time.Now().After(caughtUp) {
			t.Fatalf("the replica did not catch up within 10s after resuming replay: %q", got)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The replica stops: reads go to the primary, readiness is degraded.
	replica.stop()
	degraded := time.Now().Add(10 * time.Second)
	for {
		r := g.do("GET", "/v1/readyz", nil)
		body := r.JSON(t)
		checks, _ := body["checks"].(map[string]any)
		if r.Status == http.StatusOK && body["status"] == "degraded" && checks["database_replica"] == "down" {
			break
		}
		if time.Now().After(degraded) {
			t.Fatalf("readyz with the replica stopped = %d %s, want 200 degraded naming database_replica", r.Status, r.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for range 3 {
		if got := conversationTitles(t, g, token); len(got) != 1 || got[0] != "fresh" {
			t.Fatalf("list with the replica stopped = %q, want [fresh] from the primary", got)
		}
		if r := g.do("GET", "/v1/conversations/"+id, nil, auth...); r.Status != http.StatusOK {
			t.Fatalf("get with the replica stopped = %d %s", r.Status, r.Body)
		}
	}
}
