package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// freePort returns a TCP port on loopback that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startRedis starts a throwaway redis-server that keeps nothing on disk.
func startRedis(tmp string) (*child, string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", fmt.Errorf("starting Redis: redis-server is not installed (apt-get install redis-server)")
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	c, _, err := startChild(childSpec{
		name: "redis",
		argv: []string{bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", tmp},
	}, tmp)
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := redisPing(addr); err == nil {
			return c, "redis://" + addr + "/0", nil
		} else if !c.running() || time.Now().After(deadline) {
			_ = c.stop(time.Second)
			return nil, "", fmt.Errorf("starting Redis: %w: %s", err, c.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// redisPing sends PING in Redis's inline protocol and expects +PONG.
func redisPing(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("redis answered %q to PING", strings.TrimSpace(line))
	}
	return nil
}

// redisScriptCalls returns how many Lua scripts (EVAL, EVALSHA: how
// redis_rate asks for a decision) Redis has run, from INFO commandstats.
func redisScriptCalls(redisURL string) (int, error) {
	info, err := redisInfo(redisURL, "commandstats")
	if err != nil {
		return 0, err
	}
	return parseScriptCalls(info), nil
}

// redisInfo returns a section of Redis's INFO.
func redisInfo(redisURL, section string) (string, error) {
	u, err := url.Parse(redisURL)
	if err != nil {
		return "", fmt.Errorf("parsing the Redis URL: %w", err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		return "", fmt.Errorf("asking Redis for its stats: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("INFO " + section + "\r\n")); err != nil {
		return "", fmt.Errorf("asking Redis for its stats: %w", err)
	}
	br := bufio.NewReader(conn)
	head, err := br.ReadString('\n') // $<length> of the bulk reply
	if err != nil || !strings.HasPrefix(head, "$") {
		return "", fmt.Errorf("asking Redis for its stats: unexpected reply %q", head)
	}
	size, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil {
		return "", fmt.Errorf("asking Redis for its stats: %w", err)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(br, body); err != nil {
		return "", fmt.Errorf("asking Redis for its stats: %w", err)
	}
	return string(body), nil
}

// parseScriptCalls sums the calls of the script commands in INFO
// commandstats lines such as "cmdstat_evalsha:calls=3,usec=…".
func parseScriptCalls(info string) int {
	total := 0
	for line := range strings.SplitSeq(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !slices.Contains([]string{"cmdstat_eval", "cmdstat_evalsha", "cmdstat_eval_ro", "cmdstat_evalsha_ro"}, name) {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(stats, "calls="), ",")
		n, _ := strconv.Atoi(calls)
		total += n
	}
	return total
}

// benchDatabase is a database created for the run on the PostgreSQL server
// at adminURL, dropped at the end.
type benchDatabase struct {
	adminURL string
	name     string
	URL      string
}

// createDatabase creates a fresh, uniquely named database.
func createDatabase(ctx context.Context, adminURL string) (*benchDatabase, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, fmt.Errorf("parsing the PostgreSQL URL: %w", err)
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "llmbench_" + hex.EncodeToString(suffix)

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	u.Path = "/" + name
	return &benchDatabase{adminURL: adminURL, name: name, URL: u.String()}, nil
}

// drop drops the database, closing the sessions still using it.
func (db *benchDatabase) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.adminURL)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping database %s: %w", db.name, err)
	}
	return nil
}

// commits returns the transactions committed in the database so far and
// the rows inserted, updated and deleted, from pg_stat_database (which
// backends update at most once a second: read it after a pause).
func (db *benchDatabase) commits(ctx context.Context) (commits, rows int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.adminURL)
	if err != nil {
		return 0, 0, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(ctx, `SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = $1`, db.name).Scan(&commits, &rows)
	if err != nil {
		return 0, 0, fmt.Errorf("reading the statistics of %s: %w", db.name, err)
	}
	return commits, rows, nil
}
