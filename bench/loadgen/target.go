package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Target is the request a run sends over and over.
type Target struct {
	// URL is the request's URL.
	URL string
	// Header is sent with every request (credentials, content type). It
	// is only read.
	Header http.Header
	// Body returns the body of the requests of worker w (0 ≤ w <
	// concurrency); it is called once per worker, before the run. Nil
	// sends GET requests without a body.
	Body func(worker int) []byte
}

// Config bounds a run.
type Config struct {
	// Concurrency is the number of workers, each with one request in
	// flight at a time (a closed loop).
	Concurrency int
	// Duration is how long workers start new requests.
	Duration time.Duration
	// Requests, when positive, stops the run after that many requests in
	// total, even before Duration.
	Requests int
}

// worker holds what one worker reuses from one request to the next.
type worker struct {
	target Target
	method string
	header http.Header
	body   []byte
}

func newWorker(t Target, i int) *worker {
	w := &worker{target: t, method: http.MethodGet, header: t.Header.Clone()}
	if w.header == nil {
		w.header = http.Header{}
	}
	if t.Body != nil {
		w.method = http.MethodPost
		w.body = t.Body(i)
		if w.header.Get("Content-Type") == "" {
			w.header.Set("Content-Type", "application/json")
		}
	}
	return w
}

func (w *worker) request(ctx context.Context) (*http.Request, error) {
	var body io.Reader
	if w.body != nil {
		body = bytes.NewReader(w.body)
	}
	req, err := http.NewRequestWithContext(ctx, w.method, w.target.URL, body)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header = w.header
	return req, nil
}

// budget hands out the run's requests: false once the run is over.
type budget struct {
	deadline time.Time
	bounded  bool
	left     atomic.Int64
}

func newBudget(cfg Config) *budget {
	b := &budget{deadline: time.Now().Add(cfg.Duration), bounded: cfg.Requests > 0}
	b.left.Store(int64(cfg.Requests))
	return b
}

func (b *budget) take(ctx context.Context) bool {
	if ctx.Err() != nil || !time.Now().Before(b.deadline) {
		return false
	}
	return !b.bounded || b.left.Add(-1) >= 0
}

// statusError describes a non-2xx answer with the start of its body, which
// is a JSON error from the servers under test (never a secret).
func statusError(resp *http.Response) string {
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	return fmt.Sprintf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(head)))
}

func isSuccess(code int) bool { return code >= 200 && code < 300 }
