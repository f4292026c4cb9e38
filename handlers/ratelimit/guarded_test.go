package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// stubLimiter answers every decision with its result and error.
type stubLimiter struct {
	result Result
	err    error
}

func (s stubLimiter) Allow(context.Context, string, Limit) (Result, error) { return s.result, s.err }

var errRedisDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func TestGuarded(t *testing.T) {
	lim := Limit{Name: "user", Rate: 60, Period: time.Minute}
	refused := Result{Limit: 60, Period: time.Minute, RetryAfter: time.Second}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name        string
		policy      FailurePolicy
		limiter     stubLimiter
		ctx         context.Context
		wantAllowed bool
		wantDegrade bool
		wantErr     error
		wantErrors  int // OnError calls
	}{
		{"a decision passes through", FailClosed, stubLimiter{result: refused}, context.Background(), false, false, nil, 0},
		{"fail open decides in process", FailOpen, stubLimiter{err: errRedisDown}, context.Background(), true, true, nil, 1},
		{"fail closed refuses", FailClosed, stubLimiter{err: errRedisDown}, context.Background(), false, true, ErrUnavailable, 1},
		{"a canceled request is not counted", FailOpen, stubLimiter{err: context.Canceled}, canceled, true, true, nil, 0},
		{"a canceled request under fail closed", FailClosed, stubLimiter{err: context.Canceled}, canceled, false, true, ErrUnavailable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errorsSeen := 0
			g := &Guarded{Limiter: tt.limiter, Policy: tt.policy, OnError: func() { errorsSeen++ }}
			r, err := g.Allow(tt.ctx, "user:1", lim)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && tt.limiter.err != nil && !errors.Is(err, tt.limiter.err) {
				t.Errorf("error %v does not wrap the cause %v", err, tt.limiter.err)
			}
			if r.Allowed != tt.wantAllowed || r.Degraded != tt.wantDegrade {
				t.Errorf("result %+v: want Allowed %v, Degraded %v", r, tt.wantAllowed, tt.wantDegrade)
			}
			if r.Degraded && (r.Limit != 60 || r.Period != time.Minute) {
				t.Errorf("degraded result %+v does not describe the limit", r)
			}
			if r.Degraded && r.Allowed && r.Remaining != 59 {
				t.Errorf("fail-open result %+v: want the in-process bucket's count (59 left)", r)
			}
			if errorsSeen != tt.wantErrors {
				t.Errorf("OnError called %d times, want %d", errorsSeen, tt.wantErrors)
			}
		})
	}
}

// Fail open is the in-process limiter with the same limit, never "allow
// everything": a client gets the limit and no more while the limiter is
// down, and another client has a bucket of its own.
func TestGuardedFailOpenKeepsTheLimit(t *testing.T) {
	lim := Limit{Name: "guest", Rate: 10, Period: time.Minute}
	g := &Guarded{Limiter: stubLimiter{err: errRedisDown}, Policy: FailOpen}
	for i := range 30 {
		r, err := g.Allow(context.Background(), "user:1", lim)
		if err != nil || !r.Degraded {
			t.Fatalf("request %d: %+v, %v; want a degraded decision", i+1, r, err)
		}
		if want := i < 10; r.Allowed != want {
			t.Fatalf("request %d of a limit of 10 with the limiter down: allowed %v, want %v", i+1, r.Allowed, want)
		}
		if !r.Allowed && r.RetryAfter <= 0 {
			t.Fatalf("request %d refused without Retry-After: %+v", i+1, r)
		}
	}
	if r, _ := g.Allow(context.Background(), "user:2", lim); !r.Allowed || r.Remaining != 9 {
		t.Fatalf("another client: %+v; want allowed with 9 left", r)
	}
}

func TestGuardedLogsAtMostOncePerInterval(t *testing.T) {
	lim := Limit{Name: "guest", Rate: 10, Period: time.Minute}
	core, logs := observer.New(zap.WarnLevel)
	g := &Guarded{Limiter: stubLimiter{err: errRedisDown}, Logger: zap.New(core), LogInterval: time.Hour}
	for range 100 {
		if _, err := g.Allow(context.Background(), "user:1", lim); err != nil {
			t.Fatal(err)
		}
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("100 failures within the interval logged %d times, want 1", n)
	}
	entry := logs.All()[0]
	if got := entry.ContextMap()["tier"]; got != "guest" {
		t.Errorf("logged tier %v, want guest", got)
	}
	if got := entry.ContextMap()["policy"]; got != "fail_open" {
		t.Errorf("logged policy %v, want fail_open", got)
	}

	// Once the interval has passed the next failure is logged, with the
	// number of failures left out meanwhile.
	g.LogInterval = time.Millisecond
	time.Sleep(2 * time.Millisecond)
	if _, err := g.Allow(context.Background(), "user:1", lim); err != nil {
		t.Fatal(err)
	}
	if n := logs.Len(); n != 2 {
		t.Fatalf("a failure after the interval: %d logs in all, want 2", n)
	}
	if got := logs.All()[1].ContextMap()["failures_not_logged"]; got != int64(99) {
		t.Errorf("failures_not_logged = %v, want 99", got)
	}
}
