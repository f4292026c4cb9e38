package loadgen

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/bench/fakeupstream"
)

func upstream(t *testing.T, opts fakeupstream.Options) string {
	t.Helper()
	s, err := fakeupstream.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return "http://" + s.Addr
}

func chatTarget(base string, stream bool) Target {
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]`
	if stream {
		body += `,"stream":true,"stream_options":{"include_usage":true}`
	}
	body += "}"
	return Target{URL: base + "/v1/chat/completions", Body: func(int) []byte { return []byte(body) }}
}

// a run bound by a request count, long before its duration ends.
var counted = Config{Concurrency: 4, Duration: time.Minute, Requests: 40}

func TestRunPlain(t *testing.T) {
	base := upstream(t, fakeupstream.Options{})
	client := NewClient(4)
	r := RunPlain(context.Background(), client, chatTarget(base, false), counted)
	if r.OK != 40 || r.Errors != 0 || r.Non2xx != 0 || len(r.Latencies) != 40 || r.FirstFailure != "" {
		t.Fatalf("result: ok %d, errors %d, non-2xx %d, %d latencies, %q", r.OK, r.Errors, r.Non2xx, len(r.Latencies), r.FirstFailure)
	}
	for i := 1; i < len(r.Latencies); i++ {
		if r.Latencies[i] < r.Latencies[i-1] || r.Latencies[i] <= 0 {
			t.Fatalf("latencies not sorted and positive: %v", r.Latencies)
		}
	}
	if r.Throughput() <= 0 {
		t.Errorf("throughput = %v", r.Throughput())
	}
}

func TestRunPlainFailures(t *testing.T) {
	base := upstream(t, fakeupstream.Options{})
	client := NewClient(2)
	cfg := Config{Concurrency: 2, Duration: time.Minute, Requests: 6}

	wrong := Target{URL: base + "/v1/nothing"}
	r := RunPlain(context.Background(), client, wrong, cfg)
	if r.OK != 0 || r.Non2xx != 6 || !strings.Contains(r.FirstFailure, "status 404") {
		t.Errorf("a 404 target: ok %d, non-2xx %d, %q", r.OK, r.Non2xx, r.FirstFailure)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	_ = ln.Close()
	r = RunPlain(context.Background(), client, chatTarget(closed, false), cfg)
	if r.OK != 0 || r.Errors != 6 || r.FirstFailure == "" {
		t.Errorf("a closed port: ok %d, errors %d, %q", r.OK, r.Errors, r.FirstFailure)
	}
}

// Duration bounds a run too, and a cancelled context ends it.
func TestRunBounds(t *testing.T) {
	base := upstream(t, fakeupstream.Options{})
	client := NewClient(2)
	start := time.Now()
	r := RunPlain(context.Background(), client, chatTarget(base, false), Config{Concurrency: 2, Duration: 50 * time.Millisecond})
	if r.OK == 0 || time.Since(start) > 30*time.Second {
		t.Errorf("a 50ms run: ok %d after %v", r.OK, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := RunPlain(ctx, client, chatTarget(base, false), Config{Concurrency: 2, Duration: time.Hour}); r.OK+r.Errors != 0 {
		t.Errorf("a cancelled run sent %d requests", r.OK+r.Errors)
	}
}

func TestRunStream(t *testing.T) {
	const chunks = 5
	base := upstream(t, fakeupstream.Options{Chunks: chunks, ChunkDelay: time.Millisecond})
	client := NewClient(4)
	r := RunStream(context.Background(), client, chatTarget(base, true), StreamConfig{Config: counted, Chunks: chunks})
	if r.Complete != 40 || r.Incomplete+r.Errors+r.Non2xx+r.WrongCount != 0 || r.FirstFailure != "" {
		t.Fatalf("result: %+v", r)
	}
	if len(r.TTFT) != 40 || len(r.Gaps) != 40*(chunks-1) || r.Chunks != 40*chunks || len(r.Total) != 40 {
		t.Fatalf("%d TTFTs, %d gaps, %d chunks, %d totals", len(r.TTFT), len(r.Gaps), r.Chunks, len(r.Total))
	}
	// A stream lasts at least its chunks' pauses, and ends after its first
	// content chunk.
	if r.Total[0] < (chunks-1)*time.Millisecond || r.Total[0] < r.TTFT[0] {
		t.Errorf("shortest stream %v, shortest TTFT %v", r.Total[0], r.TTFT[0])
	}
	if r.ContentReads > r.Chunks || r.ContentReads < r.Complete {
		t.Fatalf("%d chunks in %d reads", r.Chunks, r.ContentReads)
	}

	// A stream with the wrong chunk count is told apart.
	r = RunStream(context.Background(), client, chatTarget(base, true), StreamConfig{Config: Config{Concurrency: 1, Duration: time.Minute, Requests: 2}, Chunks: chunks + 1})
	if r.Complete != 2 || r.WrongCount != 2 || r.FirstFailure == "" {
		t.Errorf("wrong count: %+v", r)
	}
}

func TestHoldStreams(t *testing.T) {
	base := upstream(t, fakeupstream.Options{Chunks: 1000, ChunkDelay: 50 * time.Millisecond})
	client := NewClient(20)
	h := HoldStreams(context.Background(), client, chatTarget(base, true), 20)
	if h.Open != 20 || h.Failed != 0 {
		t.Fatalf("open %d, failed %d: %s", h.Open, h.Failed, h.FirstFailure)
	}
	done := make(chan struct{})
	go func() {
		h.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not end streams of 50 seconds")
	}

	failing := HoldStreams(context.Background(), client, Target{URL: base + "/v1/nothing"}, 3)
	defer failing.Close()
	if failing.Open != 0 || failing.Failed != 3 || !strings.Contains(failing.FirstFailure, "404") {
		t.Errorf("open %d, failed %d: %s", failing.Open, failing.Failed, failing.FirstFailure)
	}
}

func TestNewClientKeepsConnections(t *testing.T) {
	tr := NewClient(128).Transport.(*http.Transport)
	if tr.MaxConnsPerHost != 128 || tr.MaxIdleConnsPerHost != 128 || tr.Proxy != nil {
		t.Errorf("transport: max conns %d, idle %d", tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost)
	}
}
