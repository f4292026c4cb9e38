package main

// Redis Sentinel (issue 14, point 4): redis_url redis+sentinel://… finds
// the master through Sentinel and follows it when it fails over.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedisProcess starts a redis-server (or redis-sentinel, with a
// config file) with the arguments and kills it when the test ends.
func startRedisProcess(t testing.TB, port int, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server %v: %v", args, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitTCP(t, fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	return cmd
}

func rateKeys(t testing.TB, c *redis.Client) int {
	t.Helper()
	keys, err := c.Keys(context.Background(), "*llmgw:rl:*").Result()
	if err != nil {
		t.Fatalf("listing keys: %v", err)
	}
	return len(keys)
}

// One master, one replica and one sentinel: the gateway finds the master
// through the sentinel and keeps its limits there (the buckets appear on
// the master, a guest gets exactly its limit). After SENTINEL FAILOVER
// promotes the replica, the gateway follows: new buckets land on the new
// master and the limit holds.
func TestScaleOutRedisSentinelFailover(t *testing.T) {
	const limit = 3
	masterPort, replicaPort, sentinelPort := freePort(t), freePort(t), freePort(t)
	common := []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
	startRedisProcess(t, masterPort, append([]string{"--port", fmt.Sprint(masterPort), "--dir", t.TempDir()}, common...)...)
	startRedisProcess(t, replicaPort, append([]string{"--port", fmt.Sprint(replicaPort), "--dir", t.TempDir(),
		"--replicaof", "127.0.0.1", fmt.Sprint(masterPort)}, common...)...)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
sentinel monitor gwmaster 127.0.0.1 %d 1
sentinel down-after-milliseconds gwmaster 1000
sentinel failover-timeout gwmaster 5000
`, sentinelPort, dir, masterPort)), 0o600); err != nil {
		t.Fatal(err)
	}
	startRedisProcess(t, sentinelPort, conf, "--sentinel")
	master := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", masterPort)})
	replica := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", replicaPort)})
	sentinel := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", sentinelPort)})
	t.Cleanup(func() { master.Close(); replica.Close(); sentinel.Close() })
	ctx := context.Background()
	// The sentinel must know the replica before it can fail over to it.
	known := time.Now().Add(15 * time.Second)
	for {
		reps, err := sentinel.Replicas(ctx, "gwmaster").Result()
		if err == nil && len(reps) == 1 && strings.Contains(fmt.Sprint(reps), "slave") {
			if info, _ := replica.Info(ctx, "replication").Result(); strings.Contains(info, "master_link_status:up") {
				break
			}
		}
		if time.Now().After(known) {
			t.Fatalf("sentinel did not discover the replica within 15s: %v %v", reps, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port:     port,
		LLM:      fmt.Sprintf("redis_url redis+sentinel://127.0.0.1:%d/gwmaster\n\t\tredis_timeout 1s", sentinelPort),
		Routes:   fmt.Sprintf("llm_auth\n\t\tllm_rate_limit /v1/chat/completions {\n\t\t\tguest %d/hour\n\t\t\tfail_open\n\t\t}", limit),
		LogLevel: "info",
	}))
	exhaust := func(who string) {
		t.Helper()
		tok := guestToken(t, g)
		for i := range limit + 2 {
			r := g.do("POST", "/v1/chat/completions", rateChatRequest, "Authorization", "Bearer "+tok)
			if want := http.StatusOK; i >= limit {
				if r.Status != http.StatusTooManyRequests {
					t.Fatalf("%s: chat %d = %d, want 429", who, i+1, r.Status)
				}
			} else if r.Status != want {
				t.Fatalf("%s: chat %d = %d %s", who, i+1, r.Status, r.Body)
			}
		}
	}
	exhaust("before the failover")
	if n := rateKeys(t, master); n != 1 {
		t.Fatalf("buckets on the master = %d, want 1: the gateway did not limit through the sentinel's master", n)
	}

	if err := sentinel.Failover(ctx, "gwmaster").Err(); err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	promoted := time.Now().Add(20 * time.Second)
	for {
		addr, err := sentinel.GetMasterAddrByName(ctx, "gwmaster").Result()
		info, _ := replica.Info(ctx, "replication").Result()
		if err == nil && len(addr) == 2 && addr[1] == fmt.Sprint(replicaPort) && strings.Contains(info, "role:master") {
			break
		}
		if time.Now().After(promoted) {
			t.Fatalf("the replica was not promoted within 20s: %v %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The gateway follows the new master: a new guest's bucket lands there.
	before := rateKeys(t, replica)
	follows := time.Now().Add(15 * time.Second)
	for {
		tok := guestToken(t, g)
		if r := g.do("POST", "/v1/chat/completions", rateChatRequest, "Authorization", "Bearer "+tok); r.Status != http.StatusOK {
			t.Fatalf("probe after the failover = %d %s", r.Status, r.Body)
		}
		if now := rateKeys(t, replica); now > before {
			break
		}
		if time.Now().After(follows) {
			t.Fatalf("the gateway did not limit through the new master within 15s")
		}
		time.Sleep(300 * time.Millisecond)
	}
	before = rateKeys(t, replica)
	exhaust("after the failover")
	if n := rateKeys(t, replica); n != before+1 {
		t.Fatalf("buckets on the new master = %d, want %d", n, before+1)
	}
}
