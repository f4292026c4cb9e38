package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store/storetest"
)

// Reloading the config while requests run against PostgreSQL fails no
// request and leaks neither database connections nor goroutines, whether the
// reload keeps the database settings (the pool is shared) or changes them (a
// new pool replaces the old one once its requests are done).
func TestReloadUnderLoadKeepsRequestsAndBoundsResources(t *testing.T) {
	dsn := storetest.NewPostgresDatabase(t)
	port := freePort(t)
	config := func(maxConns int) string {
		return testCaddyfile(t, siteOptions{
			Port: port,
			LLM:  fmt.Sprintf("database_url %s\n\t\tdatabase_max_conns %d", dsn, maxConns),
		})
	}
	g := startGateway(t, port, config(4))
	baseGoroutines := settleGoroutines(0)

	var failures, total, retried atomic.Int64
	var firstFailure atomic.Value
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for ctx.Err() == nil {
				resp, err := getRetryingConnErrors(client, g.base+"/v1/readyz", &retried)
				total.Add(1)
				if err != nil {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("status %d", resp.StatusCode))
				}
			}
		}()
	}

	for i := 0; i < 20; i++ {
		// Even reloads keep the settings; odd ones change the pool size,
		// which replaces the database pool.
		maxConns := 4
		if i%2 == 1 {
			maxConns = 5 + i%3
		}
		loadConfig(t, config(maxConns))
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	stop()
	wg.Wait()

	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed during reloads; first: %v", n, total.Load(), firstFailure.Load())
	}
	if total.Load() < 100 {
		t.Fatalf("only %d requests ran during the reloads", total.Load())
	}

	// Connections: only the current pool's remain (at most its size), once
	// replaced pools have closed.
	conns := waitFor(t, 5*time.Second, func() (int, bool) {
		n := countConnections(t, dsn)
		return n, n <= 7
	})
	t.Logf("%d requests over 20 reloads (%d connection errors retried); %d database connections open afterwards",
		total.Load(), retried.Load(), conns)

	// Goroutines return to about where they were: no pool, no background
	// loop of a replaced config lives on.
	after := settleGoroutines(baseGoroutines + 10)
	if after > baseGoroutines+10 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutines: %d before the reloads, %d after\n%s", baseGoroutines, after, buf[:n])
	}
}

// settleGoroutines waits up to a few seconds for the goroutine count to drop
// to at most want (0: just let it settle) and returns it.
func settleGoroutines(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	n := runtime.NumGoroutine()
	for time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
		m := runtime.NumGoroutine()
		if want > 0 && m <= want {
			return m
		}
		if want == 0 && m == n {
			return m
		}
		n = m
	}
	return n
}

// countConnections counts the connections to the test database other than
// the one counting.
func countConnections(t testing.TB, dsn string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls check until it reports true or the timeout passes, and
// returns the last value.
func waitFor[T any](t testing.TB, timeout time.Duration, check func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, ok := check()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s (last value %v)", timeout, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// getRetryingConnErrors GETs url, retrying up to twice when the connection
// fails before any response arrived, as the OpenAI SDKs do by default.
//
// A reload cannot avoid that entirely: Go's http.Server drops a connection
// whose request it reads after its Shutdown began (net/http checks
// shuttingDown() right after reading a request), and Caddy shuts the old
// server down on reload. Such a client sees a connection error with no
// response; the request never reached a handler, so retrying is safe even for
// POST. See README, "Reloads".
func getRetryingConnErrors(client *http.Client, url string, retried *atomic.Int64) (*http.Response, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		resp, err := client.Get(url)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		retried.Add(1)
		time.Sleep(10 * time.Millisecond)
	}
	return nil, lastErr
}
