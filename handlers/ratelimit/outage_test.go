package ratelimit

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// redisServer is a redis-server process of the test's own, on a free port,
// that the test can kill, stop and start again.
type redisServer struct {
	t    *testing.T
	addr string
	port string
	dir  string
	cmd  *exec.Cmd
}

func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	s := &redisServer{t: t, addr: addr, port: port, dir: t.TempDir()}
	s.start()
	t.Cleanup(s.kill)
	return s
}

// start starts redis-server and waits until it answers.
func (s *redisServer) start() {
	s.t.Helper()
	logFile, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command("redis-server", "--port", s.port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server (it must be installed for this test): %v", err)
	}
	s.cmd = cmd

	client := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			s.t.Fatalf("redis-server on %s did not answer: %v\n%s", s.addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill kills redis-server at once, as a crash would.
func (s *redisServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func (s *redisServer) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("sending %v to redis-server: %v", sig, err)
	}
}

// outageEnv is a limiter on a redis-server of the test's own, under both
// failure policies.
type outageEnv struct {
	server   *redisServer
	limiter  *RedisLimiter
	open     *Guarded
	closed   *Guarded
	logs     *observer.ObservedLogs
	failures atomic.Int64 // decisions the fail-open limiter could not make
	clients  int          // clients requireDegraded used
}

func newOutageEnv(t *testing.T, timeout, cooldown time.Duration) *outageEnv {
	env := &outageEnv{server: startRedisServer(t)}
	client := redis.NewClient(TuneRedisOptions(&redis.Options{Addr: env.server.addr}, timeout))
	t.Cleanup(func() { _ = client.Close() })
	core, logs := observer.New(zap.InfoLevel)
	env.logs = logs
	env.limiter = NewRedis(client, RedisOptions{Timeout: timeout, BreakerCooldown: cooldown, Logger: zap.New(core)})
	env.open = &Guarded{Limiter: env.limiter, Policy: FailOpen, Logger: zap.New(core), OnError: func() { env.failures.Add(1) }}
	env.closed = &Guarded{Limiter: env.limiter, Policy: FailClosed}
	return env
}

// expectEnforced checks that the limit applies to key: its capacity passes,
// decided by Redis, and the next request is refused.
func expectEnforced(t *testing.T, g *Guarded, key string, lim Limit) {
	t.Helper()
	for i := range lim.Capacity() + 1 {
		r, err := g.Allow(context.Background(), key, lim)
		if err != nil || r.Degraded {
			t.Fatalf("request %d: %+v, %v; want a decision from redis", i+1, r, err)
		}
		if want := i < lim.Capacity(); r.Allowed != want {
			t.Fatalf("request %d of a limit of %d: allowed %v, want %v", i+1, lim.Capacity(), r.Allowed, want)
		}
	}
}

// waitForRedis waits until decisions come from Redis again.
func waitForRedis(t *testing.T, g *Guarded, key string, lim Limit) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		// A client of its own each time: a refusal by the in-process copy
		// is not degraded either, but does not ask Redis.
		r, err := g.Allow(context.Background(), key+":"+strconv.Itoa(i), lim)
		if err == nil && !r.Degraded {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis is back but decisions are still degraded: %+v, %v", r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requireDegraded checks n decisions while Redis cannot answer, each for a
// client of its own (a refusal the in-process copy can make does not ask
// Redis): fail-open decides in process, which lets a new client's first
// request through, and fail-closed refuses each with ErrUnavailable. It
// returns how long each decision took, of both policies.
func requireDegraded(t *testing.T, env *outageEnv, n int, lim Limit) []time.Duration {
	t.Helper()
	ctx := context.Background()
	var took []time.Duration
	for i := range n {
		key := "user:during:" + strconv.Itoa(env.clients)
		env.clients++
		begin := time.Now()
		r, err := env.open.Allow(ctx, key, lim)
		took = append(took, time.Since(begin))
		if err != nil || !r.Allowed || !r.Degraded || r.Remaining != lim.Capacity()-1 {
			t.Fatalf("fail open, request %d: %+v, %v; want allowed in process and degraded", i+1, r, err)
		}

		begin = time.Now()
		r, err = env.closed.Allow(ctx, key+":closed", lim)
		took = append(took, time.Since(begin))
		if !errors.Is(err, ErrUnavailable) || r.Allowed {
			t.Fatalf("fail closed, request %d: %+v, %v; want refused with ErrUnavailable", i+1, r, err)
		}
	}
	return took
}

// requireLocalLimit checks that fail-open keeps the limit with Redis down:
// one client gets the limit's capacity and is then refused.
func requireLocalLimit(t *testing.T, env *outageEnv, key string, lim Limit) {
	t.Helper()
	for i := range lim.Capacity() + 5 {
		r, err := env.open.Allow(context.Background(), key, lim)
		if err != nil {
			t.Fatalf("fail open, request %d: %v", i+1, err)
		}
		if want := i < lim.Capacity(); r.Allowed != want {
			t.Fatalf("fail open with redis down, request %d of a limit of %d: allowed %v, want %v", i+1, lim.Capacity(), r.Allowed, want)
		}
	}
}

func TestRedisKilledAndRestarted(t *testing.T) {
	env := newOutageEnv(t, 50*time.Millisecond, 200*time.Millisecond)
	lim := Limit{Name: "user", Rate: 3, Period: time.Minute}
	expectEnforced(t, env.open, "user:before", lim)

	env.server.kill()
	const during = 50
	// The limit is 3, so that without Redis the fail-open limiter lets
	// through what Redis would have refused.
	for i, took := range requireDegraded(t, env, during, lim) {
		if took >= 50*time.Millisecond {
			t.Errorf("decision %d without redis took %v, want under 50ms", i+1, took)
		}
	}
	if got := env.failures.Load(); got != during {
		t.Errorf("OnError counted %d failures, want %d", got, during)
	}
	if !env.limiter.BreakerOpen() {
		t.Error("the circuit breaker did not open while redis was down")
	}
	requireLocalLimit(t, env, "user:during", lim)
	// "user:before" used its bucket through Redis before the outage; the
	// in-process copy carries on from there instead of starting afresh.
	if r, err := env.open.Allow(context.Background(), "user:before", lim); err != nil || r.Allowed {
		t.Errorf("a client that used its limit before redis went down: %+v, %v; want refused", r, err)
	}
	if got := env.logs.FilterMessageSnippet("rate limiter unavailable").Len(); got != 1 {
		t.Errorf("%d failures logged %d warnings, want 1", during, got)
	}

	env.server.start() // same port, no data
	waitForRedis(t, env.open, "user:probe", lim)
	expectEnforced(t, env.open, "user:after", lim)
	expectEnforced(t, env.closed, "user:after-closed", lim)
	if env.limiter.BreakerOpen() {
		t.Error("the circuit breaker is still open with redis back")
	}
	if got := env.logs.FilterMessageSnippet("circuit breaker opened").Len(); got != 1 {
		t.Errorf("the breaker opening was logged %d times, want once", got)
	}
	if got := env.logs.FilterMessageSnippet("circuit breaker closed").Len(); got != 1 {
		t.Errorf("redis coming back was logged %d times, want once", got)
	}
}

func TestRedisHungAndResumed(t *testing.T) {
	// A stopped redis-server accepts connections (the kernel does) but
	// never answers: each decision costs the timeout until the breaker
	// opens, and nothing after.
	const timeout = 20 * time.Millisecond
	env := newOutageEnv(t, timeout, time.Second)
	lim := Limit{Name: "user", Rate: 3, Period: time.Minute}
	expectEnforced(t, env.open, "user:before", lim)

	env.server.signal(syscall.SIGSTOP)
	// Bounded by the timeout (the margin is for a busy test machine), not
	// by go-redis's default read timeout of seconds.
	for i, took := range requireDegraded(t, env, DefaultBreakerThreshold, lim) {
		if took >= timeout+100*time.Millisecond {
			t.Errorf("decision %d with redis hung took %v, want about the timeout of %v", i+1, took, timeout)
		}
	}
	if !env.limiter.BreakerOpen() {
		t.Fatalf("the circuit breaker did not open after %d timeouts", DefaultBreakerThreshold)
	}
	// With the breaker open, Redis is not asked: 40 decisions together
	// take less than one timeout.
	var total time.Duration
	for _, took := range requireDegraded(t, env, 20, lim) {
		total += took
	}
	if total >= timeout {
		t.Errorf("40 decisions with the breaker open took %v, want less than one timeout (%v)", total, timeout)
	}

	env.server.signal(syscall.SIGCONT)
	waitForRedis(t, env.open, "user:probe", lim)
	expectEnforced(t, env.open, "user:after", lim)
}

func TestRedisLimiterWithoutTunedClientStillBoundsDecisions(t *testing.T) {
	// With go-redis's defaults (retries, slow dial retries) a dead Redis
	// must still cost a decision no more than the limiter's timeout.
	env := &outageEnv{server: startRedisServer(t)}
	client := redis.NewClient(&redis.Options{Addr: env.server.addr})
	t.Cleanup(func() { _ = client.Close() })
	const timeout = 20 * time.Millisecond
	limiter := NewRedis(client, RedisOptions{Timeout: timeout, BreakerThreshold: 1000})
	env.server.kill()
	for i := range 10 {
		begin := time.Now()
		if _, err := limiter.Allow(context.Background(), "user:"+strconv.Itoa(i), PerMinute(60)); err == nil {
			t.Fatal("a decision without redis did not fail")
		}
		// go-redis's own retries (three, backing off up to 512 ms) would
		// take most of a second; the margin is for a loaded machine.
		if elapsed := time.Since(begin); elapsed > timeout+150*time.Millisecond {
			t.Errorf("request %d: failed after %v, want about %v", i+1, elapsed, timeout)
		}
	}
}
