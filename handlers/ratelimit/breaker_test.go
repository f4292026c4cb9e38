package ratelimit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newTestBreaker returns a breaker on a clock that moves by advance.
func newTestBreaker(threshold int, cooldown time.Duration) (*breaker, func(time.Duration)) {
	b := newBreaker(threshold, cooldown)
	var now atomic.Int64
	now.Store(1)
	b.clock = func() time.Duration { return time.Duration(now.Load()) }
	return b, func(d time.Duration) { now.Add(int64(d)) }
}

func TestBreaker(t *testing.T) {
	const cooldown = time.Second
	// Each step is one call: "allow" reports whether a call may go to
	// Redis, "fail" and "ok" report a call's outcome (want: whether the
	// breaker opened, respectively closed), "wait" moves the clock.
	type step struct {
		op   string
		wait time.Duration
		want bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"stays closed below the threshold", []step{
			{op: "fail"}, {op: "fail"}, {op: "allow", want: true},
		}},
		{"opens at the threshold", []step{
			{op: "fail"}, {op: "fail"}, {op: "fail", want: true}, {op: "allow", want: false},
		}},
		{"a success resets the count", []step{
			{op: "fail"}, {op: "fail"}, {op: "ok"}, {op: "fail"}, {op: "fail"}, {op: "allow", want: true},
		}},
		{"stays open for the cooldown", []step{
			{op: "fail"}, {op: "fail"}, {op: "fail", want: true},
			{op: "wait", wait: cooldown - time.Nanosecond}, {op: "allow", want: false},
		}},
		{"lets one probe through after the cooldown", []step{
			{op: "fail"}, {op: "fail"}, {op: "fail", want: true},
			{op: "wait", wait: cooldown}, {op: "allow", want: true}, {op: "allow", want: false},
		}},
		{"a successful probe closes it", []step{
			{op: "fail"}, {op: "fail"}, {op: "fail", want: true},
			{op: "wait", wait: cooldown}, {op: "allow", want: true}, {op: "ok", want: true},
			{op: "allow", want: true}, {op: "allow", want: true},
		}},
		{"a failed probe keeps it open for another cooldown", []step{
			{op: "fail"}, {op: "fail"}, {op: "fail", want: true},
			{op: "wait", wait: cooldown}, {op: "allow", want: true}, {op: "fail", want: false},
			{op: "wait", wait: cooldown - time.Nanosecond}, {op: "allow", want: false},
			{op: "wait", wait: time.Nanosecond}, {op: "allow", want: true},
		}},
		{"a probe that never reports back costs one cooldown", []step{
			{op: "fail"}, {op: "fail"}, {op: "fail", want: true},
			{op: "wait", wait: cooldown}, {op: "allow", want: true},
			{op: "wait", wait: cooldown}, {op: "allow", want: true},
		}},
		{"after closing it counts failures from zero", []step{
			{op: "fail"}, {op: "fail"}, {op: "fail", want: true},
			{op: "wait", wait: cooldown}, {op: "allow", want: true}, {op: "ok", want: true},
			{op: "fail"}, {op: "fail"}, {op: "allow", want: true}, {op: "fail", want: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, advance := newTestBreaker(3, cooldown)
			for i, s := range tt.steps {
				var got bool
				switch s.op {
				case "allow":
					got = b.allow()
				case "fail":
					got = b.failure()
				case "ok":
					got = b.success()
				case "wait":
					advance(s.wait)
					continue
				}
				if got != s.want {
					t.Fatalf("step %d (%s): got %v, want %v", i+1, s.op, got, s.want)
				}
			}
		})
	}
}

func TestBreakerStateChangesAreSeenOnce(t *testing.T) {
	const callers = 50
	b, advance := newTestBreaker(5, time.Second)
	count := func(f func() bool) int {
		var n atomic.Int32
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				if f() {
					n.Add(1)
				}
			})
		}
		wg.Wait()
		return int(n.Load())
	}
	if n := count(b.failure); n != 1 {
		t.Fatalf("%d concurrent failures: %d callers saw the breaker open, want 1", callers, n)
	}
	advance(time.Second)
	if n := count(b.allow); n != 1 {
		t.Fatalf("after the cooldown: %d of %d concurrent callers were let through, want 1 probe", n, callers)
	}
	if n := count(b.success); n != 1 {
		t.Fatalf("%d concurrent successes: %d callers saw the breaker close, want 1", callers, n)
	}
}
