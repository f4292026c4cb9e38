package loadgen

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// StreamResult is what a run of streamed requests measured.
type StreamResult struct {
	// TTFT holds, per complete stream, the time from sending the request
	// to the first content event; sorted.
	TTFT []time.Duration
	// Gaps holds the times between consecutive content events of a
	// stream, over all complete streams; sorted.
	Gaps []time.Duration
	// Total holds, per complete stream, the time from sending the request
	// to reading the end of the stream; sorted.
	Total []time.Duration
	// Complete counts streams that answered 2xx and ended with [DONE]
	// and no error event; Incomplete the other 2xx streams; Non2xx and
	// Errors as in PlainResult.
	Complete, Incomplete, Non2xx, Errors int
	// WrongCount counts complete streams whose number of content events
	// was not the expected one; Coalesced complete streams in which some
	// read carried two content events or more.
	WrongCount, Coalesced int
	// Chunks and ContentReads sum StreamStats.Content and
	// StreamStats.ContentReads over the complete streams: Chunks -
	// ContentReads chunks arrived in a read with another.
	Chunks, ContentReads int
	// Elapsed is the run's wall time.
	Elapsed time.Duration
	// FirstFailure describes the first failure of any kind.
	FirstFailure string
}

// StreamConfig is Config plus what a stream must contain.
type StreamConfig struct {
	Config
	// Chunks is the number of content events every stream must carry
	// (0: any).
	Chunks int
}

// RunStream sends t's request, which must ask for a stream, from
// closed-loop workers until cfg's bounds, timing every event.
func RunStream(ctx context.Context, client *http.Client, t Target, cfg StreamConfig) StreamResult {
	n := max(cfg.Concurrency, 1)
	b := newBudget(cfg.Config)
	results := make([]StreamResult, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() { results[i] = streamWorker(ctx, client, newWorker(t, i), b, cfg.Chunks) })
	}
	wg.Wait()

	total := StreamResult{Elapsed: time.Since(start)}
	for _, r := range results {
		total.TTFT = append(total.TTFT, r.TTFT...)
		total.Gaps = append(total.Gaps, r.Gaps...)
		total.Total = append(total.Total, r.Total...)
		total.Complete += r.Complete
		total.Incomplete += r.Incomplete
		total.Non2xx += r.Non2xx
		total.Errors += r.Errors
		total.WrongCount += r.WrongCount
		total.Coalesced += r.Coalesced
		total.Chunks += r.Chunks
		total.ContentReads += r.ContentReads
		if total.FirstFailure == "" {
			total.FirstFailure = r.FirstFailure
		}
	}
	sortDurations(total.TTFT)
	sortDurations(total.Gaps)
	sortDurations(total.Total)
	return total
}

func streamWorker(ctx context.Context, client *http.Client, w *worker, b *budget, chunks int) StreamResult {
	var r StreamResult
	var sr StreamReader
	for b.take(ctx) {
		req, err := w.request(ctx)
		if err != nil {
			r.Errors++
			r.failOnce(err.Error())
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
		mark := len(r.Gaps)
		stats, gaps, err := sr.Read(resp.Body, r.Gaps)
		end := time.Now()
		_ = resp.Body.Close()
		switch {
		case err != nil:
			r.Errors++
			r.failOnce(err.Error())
		case !stats.Done || stats.ErrorEvent || stats.Content == 0:
			r.Incomplete++
			r.failOnce("a stream ended without [DONE] or with an error event")
		default:
			r.Complete++
			r.TTFT = append(r.TTFT, stats.FirstContent.Sub(start))
			r.Total = append(r.Total, end.Sub(start))
			r.Gaps = gaps
			r.Chunks += stats.Content
			r.ContentReads += stats.ContentReads
			if chunks > 0 && stats.Content != chunks {
				r.WrongCount++
				r.failOnce("a stream carried an unexpected number of content chunks")
			}
			if !stats.Separate() {
				r.Coalesced++
			}
			continue
		}
		r.Gaps = r.Gaps[:mark] // only complete streams count
	}
	return r
}

func (r *StreamResult) failOnce(msg string) {
	if r.FirstFailure == "" {
		r.FirstFailure = msg
	}
}
