package loadgen

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// HeldStreams is a set of streams kept open at once, to see what many
// concurrent streams cost a server.
type HeldStreams struct {
	// Open counts the streams that delivered their first content event;
	// Failed those that did not (refused, error, ended early).
	Open, Failed int
	// FirstFailure describes the first failed stream.
	FirstFailure string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// HoldStreams opens n streams of t's request at once and returns when
// each has delivered its first content event or failed. The streams stay
// open, read as they go, until Close. The client must allow n connections
// per host.
func HoldStreams(ctx context.Context, client *http.Client, t Target, n int) *HeldStreams {
	ctx, cancel := context.WithCancel(ctx)
	h := &HeldStreams{cancel: cancel}
	var (
		ready   sync.WaitGroup
		open    atomic.Int64
		mu      sync.Mutex
		failed  int
		failure string
	)
	fail := func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		failed++
		if failure == "" {
			failure = msg
		}
	}
	ready.Add(n)
	for i := range n {
		w := newWorker(t, i)
		h.wg.Go(func() {
			signalled := false
			signal := func() {
				if !signalled {
					signalled = true
					ready.Done()
				}
			}
			defer signal()
			req, err := w.request(ctx)
			if err != nil {
				fail(err.Error())
				return
			}
			resp, err := client.Do(req)
			if err != nil {
				fail(err.Error())
				return
			}
			defer resp.Body.Close()
			if !isSuccess(resp.StatusCode) {
				fail(statusError(resp))
				return
			}
			var sr StreamReader
			stats, err := sr.ReadFirstContent(resp.Body)
			if err != nil || stats.Content == 0 {
				fail("the stream ended before its first content chunk")
				return
			}
			open.Add(1)
			signal()
			// Keep reading, as a client would, until the stream ends or
			// Close cancels it.
			_, _ = io.Copy(io.Discard, resp.Body)
		})
	}
	ready.Wait()
	h.Open = int(open.Load())
	mu.Lock()
	h.Failed, h.FirstFailure = failed, failure
	mu.Unlock()
	return h
}

// Close cancels every stream still open and waits until their goroutines
// have returned.
func (h *HeldStreams) Close() {
	h.cancel()
	h.wg.Wait()
}
