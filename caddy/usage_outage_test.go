package main

import (
	"fmt"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

// PostgreSQL stopped under load (a private server of the test's own; the
// shared one is never touched): chat goes on, the records wait in the
// writer's buffer and are all written once the database is back.
func TestUsageRecordsWaitOutAPostgresOutage(t *testing.T) {
	var u *user.User
	if os.Geteuid() == 0 {
		var err error
		if u, err = user.Lookup("postgres"); err != nil {
			t.Fatalf("running as root needs a postgres OS user for initdb: %v", err)
		}
	}
	pg := &pgCluster{t: t, bin: pgBinDir(t), dir: newPGDir(t, u), port: freePort(t), uid: u}
	pg.run("initdb", "-D", filepath.Join(pg.dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8")
	pg.start()

	up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "one two three"})
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`database_url %s
		database_query_timeout 1s
		database_connect_timeout 1s
		provider up openai {
			base_url %s/v1
		}
		model m {
			deployment up
		}
		usage {
			flush_interval 100ms
		}`, pg.url(), up.URL),
		Routes: "llm_auth",
	}))
	token := guestToken(t, g)
	userID := me(t, g, token)
	chat := func() int {
		return g.do("POST", "/v1/chat/completions", map[string]any{
			"model": "m", "messages": []map[string]any{{"role": "user", "content": "hi"}},
		}, bearerHeader(token)...).Status
	}
	for range 5 {
		if s := chat(); s != http.StatusOK {
			t.Fatalf("before the outage: %d", s)
		}
	}
	st := usageStore(t, pg.url())
	waitRecords(t, st, userID, 5)

	pg.stop()
	deadline := time.Now().Add(3 * time.Second)
	sent := 0
	for time.Now().Before(deadline) || sent < 20 {
		if s := chat(); s != http.StatusOK {
			t.Fatalf("chat during the outage: %d", s)
		}
		sent++
		time.Sleep(50 * time.Millisecond)
	}
	pg.start()
	waitRecords(t, st, userID, 5+sent)
}
