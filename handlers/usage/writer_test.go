package usage

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

// flakyStore fails its writes with ErrUnavailable while down, and refuses
// batches holding a record of model "bad" as a database refuses a value.
type flakyStore struct {
	*memory.Store
	down    atomic.Bool
	mu      sync.Mutex
	batches []int
}

func (f *flakyStore) InsertUsage(ctx context.Context, recs []store.UsageRecord) (int, error) {
	if f.down.Load() {
		return 0, fmt.Errorf("inserting usage: %w", store.ErrUnavailable)
	}
	for _, r := range recs {
		if r.Model == "bad" {
			return 0, fmt.Errorf("inserting usage: %w", store.ErrInvalidValue)
		}
	}
	f.mu.Lock()
	f.batches = append(f.batches, len(recs))
	f.mu.Unlock()
	return f.Store.InsertUsage(ctx, recs)
}

func newUser(t *testing.T, st store.Store) store.User {
	t.Helper()
	u, err := st.UpsertUser(t.Context(), store.User{Issuer: "test", Subject: t.Name(), Kind: store.UserKindUser})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func records(t *testing.T, st store.Store, user int64) []store.UsageRecord {
	t.Helper()
	recs, err := st.ListUsageRecords(t.Context(), user, time.Unix(0, 0), time.Now().Add(time.Hour), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestWriterWritesEveryRecordOnceInBatches(t *testing.T) {
	st := &flakyStore{Store: memory.New()}
	u := newUser(t, st)
	var dropped atomic.Int64
	w := NewWriter(WriterConfig{Store: st, FlushInterval: time.Hour, MaxBatch: 100, OnDrop: func(n int) { dropped.Add(int64(n)) }})
	for i := range 250 {
		if !w.Add(store.UsageRecord{UserID: u.ID, Model: "m", PromptTokens: int64(i)}) {
			t.Fatalf("Add(%d) dropped a record with room in the buffer", i)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs := records(t, st, u.ID)
	if len(recs) != 250 || dropped.Load() != 0 {
		t.Fatalf("wrote %d records, dropped %d; want 250 and 0", len(recs), dropped.Load())
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.ID] {
			t.Fatalf("record %s written twice", r.ID)
		}
		seen[r.ID] = true
	}
	for _, n := range st.batches {
		if n > 100 {
			t.Errorf("a batch of %d records, want at most MaxBatch 100", n)
		}
	}
}

func TestWriterKeepsRecordsThroughAnOutageWithinItsBound(t *testing.T) {
	st := &flakyStore{Store: memory.New()}
	u := newUser(t, st)
	st.down.Store(true)
	var dropped atomic.Int64
	var failed atomic.Int64
	w := NewWriter(WriterConfig{Store: st, FlushInterval: 5 * time.Millisecond, MaxBuffer: 50,
		OnDrop: func(n int) { dropped.Add(int64(n)) },
		OnBatch: func(_ int, _ time.Duration, err error) {
			if err != nil {
				failed.Add(1)
			}
		},
	})
	for range 80 {
		w.Add(store.UsageRecord{UserID: u.ID, Model: "m", PromptTokens: 1})
	}
	for failed.Load() < 3 { // the writer tried, and failed, several times
		time.Sleep(time.Millisecond)
	}
	if got := w.Len(); got != 50 {
		t.Errorf("Len() during the outage = %d, want the bound 50", got)
	}
	if dropped.Load() != 30 {
		t.Errorf("dropped %d records, want 30 past the bound", dropped.Load())
	}
	st.down.Store(false)
	for w.Len() > 0 {
		time.Sleep(time.Millisecond)
	}
	_ = w.Close()
	if n := len(records(t, st, u.ID)); n != 50 {
		t.Errorf("after the outage %d records were written, want the 50 buffered", n)
	}
}

func TestWriterCloseDropsAndCountsWhatItCannotWrite(t *testing.T) {
	st := &flakyStore{Store: memory.New()}
	u := newUser(t, st)
	st.down.Store(true)
	var dropped atomic.Int64
	w := NewWriter(WriterConfig{Store: st, FlushInterval: time.Hour, OnDrop: func(n int) { dropped.Add(int64(n)) }})
	w.Add(store.UsageRecord{UserID: u.ID, Model: "m"})
	w.Add(store.UsageRecord{UserID: u.ID, Model: "m"})
	_ = w.Close()
	if dropped.Load() != 2 || w.Len() != 0 {
		t.Errorf("after Close: dropped %d, buffered %d; want 2 and 0", dropped.Load(), w.Len())
	}
}

// A batch the database refuses loses only its records at fault.
func TestWriterDropsOnlyTheRecordsTheDatabaseRefuses(t *testing.T) {
	st := &flakyStore{Store: memory.New()}
	u := newUser(t, st)
	var dropped atomic.Int64
	w := NewWriter(WriterConfig{Store: st, FlushInterval: time.Hour, OnDrop: func(n int) { dropped.Add(int64(n)) }})
	for _, m := range []string{"m", "bad", "m"} {
		w.Add(store.UsageRecord{UserID: u.ID, Model: m})
	}
	_ = w.Close()
	if n := len(records(t, st, u.ID)); n != 2 || dropped.Load() != 1 {
		t.Errorf("wrote %d, dropped %d; want 2 and 1", n, dropped.Load())
	}
}
