package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestTTLCache(t *testing.T) {
	now := time.Now()
	c := newTTLCache[int, string](16)
	c.put(1, "one", now.Add(time.Minute), now)
	c.put(2, "two", now.Add(time.Second), now)

	tests := []struct {
		name string
		key  int
		at   time.Time
		want string
		ok   bool
	}{
		{"present", 1, now, "one", true},
		{"absent", 3, now, "", false},
		{"just before expiry", 2, now.Add(time.Second - time.Nanosecond), "two", true},
		{"at expiry", 2, now.Add(time.Second), "", false},
		{"long after", 1, now.Add(time.Hour), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := c.get(tt.key, tt.at)
			if got != tt.want || ok != tt.ok {
				t.Errorf("get(%d) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.ok)
			}
		})
	}

	c.delete(1)
	if _, ok := c.get(1, now); ok {
		t.Error("deleted entry still present")
	}
	c.put(5, "five", now.Add(time.Minute), now)
	c.put(6, "six", now.Add(time.Minute), now)
	c.deleteFunc(func(k int, _ string) bool { return k == 5 })
	if _, ok := c.get(5, now); ok {
		t.Error("deleteFunc kept the entry")
	}
	if _, ok := c.get(6, now); !ok {
		t.Error("deleteFunc dropped another entry")
	}
}

func TestTTLCacheStaysBounded(t *testing.T) {
	now := time.Now()
	c := newTTLCache[int, int](64)
	for i := range 10_000 {
		c.put(i, i, now.Add(time.Minute), now)
		if n := c.len(); n > 64 {
			t.Fatalf("cache holds %d entries, limit 64", n)
		}
	}
	// Expired entries go first when room is needed.
	c = newTTLCache[int, int](4)
	c.put(1, 1, now.Add(time.Second), now)
	c.put(2, 2, now.Add(time.Hour), now)
	c.put(3, 3, now.Add(time.Hour), now)
	c.put(4, 4, now.Add(time.Hour), now)
	later := now.Add(time.Minute)
	c.put(5, 5, later.Add(time.Hour), later)
	for _, k := range []int{2, 3, 4, 5} {
		if _, ok := c.get(k, later); !ok {
			t.Errorf("live entry %d was evicted while an expired one could go", k)
		}
	}
}

// The refresher tests run on synctest's fake clock: waits are exact and
// take no real time.
func TestRefresherSharesOneRun(t *testing.T) {
	synctest.Test(t, testRefresherSharesOneRun)
}

func testRefresherSharesOneRun(t *testing.T) {
	var runs atomic.Int32
	release := make(chan struct{})
	r := &refresher{interval: time.Hour, timeout: time.Second, run: func(context.Context) error {
		runs.Add(1)
		<-release
		return nil
	}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.refresh(context.Background(), time.Time{}, false); err != nil {
				t.Errorf("refresh: %v", err)
			}
		}()
	}
	synctest.Wait() // all 8 callers are in, waiting for the one run
	close(release)
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Fatalf("8 concurrent callers caused %d runs, want 1", n)
	}
	// Within the interval, a later caller that does not wait is refused.
	time.Sleep(time.Minute)
	if err := r.refresh(context.Background(), time.Now(), false); !errors.Is(err, errRefreshLimited) {
		t.Fatalf("refresh within the interval: %v, want errRefreshLimited", err)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
}

func TestRefresherWaitsForANewerRun(t *testing.T) {
	synctest.Test(t, testRefresherWaitsForANewerRun)
}

func testRefresherWaitsForANewerRun(t *testing.T) {
	var runs atomic.Int32
	r := &refresher{interval: 100 * time.Millisecond, timeout: time.Second, run: func(context.Context) error {
		runs.Add(1)
		return nil
	}}
	ctx := context.Background()
	if err := r.refresh(ctx, time.Now(), true); err != nil {
		t.Fatal(err)
	}
	// A run newer than "since" is needed; the last one is older, so the
	// caller waits out the rest of the interval and runs again.
	time.Sleep(10 * time.Millisecond)
	since := time.Now()
	if err := r.refresh(ctx, since, true); err != nil {
		t.Fatal(err)
	}
	if waited, want := time.Since(since), r.interval-10*time.Millisecond; waited != want {
		t.Errorf("waited %v for the next run, want the rest of the interval, %v", waited, want)
	}
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
	// A run that started after "since" satisfies the caller at once.
	if err := r.refresh(ctx, since, true); err != nil || runs.Load() != 2 {
		t.Fatalf("refresh: %v, %d runs; want no new run", err, runs.Load())
	}
	// A cancelled caller stops waiting.
	time.Sleep(time.Millisecond)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.refresh(cctx, time.Now(), true); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

func TestRefresherReportsRunErrors(t *testing.T) {
	boom := errors.New("boom")
	r := &refresher{interval: time.Hour, timeout: time.Second, run: func(context.Context) error { return boom }}
	if err := r.refresh(context.Background(), time.Now(), false); !errors.Is(err, boom) {
		t.Fatalf("refresh: %v, want the run's error", err)
	}
}
