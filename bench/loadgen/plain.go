package loadgen

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// PlainResult is what a run of plain (non-streamed) requests measured.
type PlainResult struct {
	// Latencies of the successful requests, from sending the request to
	// reading the last byte of the body, sorted.
	Latencies []time.Duration
	// OK counts 2xx answers read to the end; Non2xx other answers;
	// Errors requests that failed (connect, read, timeout).
	OK, Non2xx, Errors int
	// Elapsed is the run's wall time, from the first request to the end
	// of the last.
	Elapsed time.Duration
	// FirstFailure describes the first non-2xx answer or error.
	FirstFailure string
}

// Throughput returns the successful requests per second.
func (r PlainResult) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// RunPlain sends t's request from cfg.Concurrency closed-loop workers
// until cfg's bounds, reading every body to the end.
func RunPlain(ctx context.Context, client *http.Client, t Target, cfg Config) PlainResult {
	n := max(cfg.Concurrency, 1)
	b := newBudget(cfg)
	results := make([]PlainResult, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() { results[i] = plainWorker(ctx, client, newWorker(t, i), b) })
	}
	wg.Wait()

	total := PlainResult{Elapsed: time.Since(start)}
	for _, r := range results {
		total.Latencies = append(total.Latencies, r.Latencies...)
		total.OK += r.OK
		total.Non2xx += r.Non2xx
		total.Errors += r.Errors
		if total.FirstFailure == "" {
			total.FirstFailure = r.FirstFailure
		}
	}
	sortDurations(total.Latencies)
	return total
}

func plainWorker(ctx context.Context, client *http.Client, w *worker, b *budget) PlainResult {
	var r PlainResult
	r.Latencies = make([]time.Duration, 0, 1024)
	for b.take(ctx) {
		req, err := w.request(ctx)
		if err != nil {
			r.fail(err.Error())
			return r
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			r.Errors++
			r.failOnce(err.Error())
			continue
		}
		if !isSuccess(resp.StatusCode) {
			r.Non2xx++
			r.failOnce(statusError(resp))
			_ = resp.Body.Close()
			continue
		}
		_, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			r.Errors++
			r.failOnce("reading the body: " + err.Error())
			continue
		}
		r.Latencies = append(r.Latencies, time.Since(start))
		r.OK++
	}
	return r
}

func (r *PlainResult) fail(msg string) {
	r.Errors++
	r.failOnce(msg)
}

func (r *PlainResult) failOnce(msg string) {
	if r.FirstFailure == "" {
		r.FirstFailure = msg
	}
}
