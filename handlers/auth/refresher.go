package auth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errRefreshLimited means a key set was not reloaded because the last reload
// is too recent.
var errRefreshLimited = errors.New("key set reload rate-limited")

// refresher reloads a key set for many concurrent callers: one run at a time,
// shared by everyone who asks while it runs, and at most one run per
// interval, so that tokens with made-up key ids cannot hammer the store or
// the OIDC provider. No lock is held while a run does its I/O.
type refresher struct {
	interval time.Duration
	// coldInterval, when set, replaces interval until a run has succeeded
	// once: while there is no key set at all, every token fails, so the
	// fetch is retried soon after its source comes back rather than a full
	// interval later.
	coldInterval time.Duration
	timeout      time.Duration
	run          func(context.Context) error

	mu      sync.Mutex
	warm    bool          // a run has succeeded
	running chan struct{} // closed when the current run ends; nil when idle
	started time.Time     // start of the latest run (monotonic clock)
	err     error         // result of the latest finished run
}

// refresh reloads the key set.
//
// With wait set, it returns once a run that started at or after since has
// finished, sleeping out the interval when needed: a token signed with a key
// created after the last reload must find it, even if that reload was a
// moment ago. Without wait, it joins a run in progress or starts one, and
// returns errRefreshLimited when the interval has not passed yet.
//
// A run is not cancelled with ctx, since other callers may share it; it is
// bounded by the refresher's timeout instead.
func (r *refresher) refresh(ctx context.Context, since time.Time, wait bool) error {
	for {
		r.mu.Lock()
		if r.running == nil && !r.started.IsZero() && !r.started.Before(since) {
			err := r.err
			r.mu.Unlock()
			return err
		}
		if ch := r.running; ch != nil {
			r.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
			if !wait {
				r.mu.Lock()
				err := r.err
				r.mu.Unlock()
				return err
			}
			continue
		}
		interval := r.interval
		if !r.warm && r.coldInterval > 0 {
			interval = min(interval, r.coldInterval)
		}
		if d := interval - time.Since(r.started); !r.started.IsZero() && d > 0 {
			r.mu.Unlock()
			if !wait {
				return errRefreshLimited
			}
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
			continue
		}
		ch := make(chan struct{})
		r.running = ch
		r.started = time.Now()
		r.mu.Unlock()

		runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
		err := r.run(runCtx)
		cancel()

		r.mu.Lock()
		r.err = err
		r.warm = r.warm || err == nil
		r.running = nil
		r.mu.Unlock()
		close(ch)
		return err
	}
}

// succeeded reports whether a run has ever succeeded.
func (r *refresher) succeeded() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.warm
}
