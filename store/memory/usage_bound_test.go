package memory

import (
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// TestUsageRecordsBounded checks that the embedded store keeps at most
// MaxUsageRecords records, dropping the oldest, while the hourly totals the
// usage API reads still count every request.
func TestUsageRecordsBounded(t *testing.T) {
	s := New()
	u, err := s.UpsertUser(t.Context(), store.User{Issuer: "test", Subject: "bound", Kind: store.UserKindUser})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Truncate(time.Hour)
	const extra = 5
	batch := make([]store.UsageRecord, 0, 1000)
	for i := range MaxUsageRecords + extra {
		batch = append(batch, store.UsageRecord{
			ID: store.NewPublicID("use"), UserID: u.ID, Model: "m", PromptTokens: 1, CompletionTokens: 2,
			CreatedAt: start.Add(time.Duration(i) * time.Millisecond),
		})
		if len(batch) == cap(batch) || i == MaxUsageRecords+extra-1 {
			if _, err := s.InsertUsage(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	recs, err := s.ListUsageRecords(t.Context(), u.ID, start, start.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != MaxUsageRecords {
		t.Fatalf("kept %d records, want MaxUsageRecords %d", len(recs), MaxUsageRecords)
	}
	if want := start.Add(extra * time.Millisecond); !recs[0].CreatedAt.Equal(want) {
		t.Errorf("oldest kept record at %v, want %v: the oldest go first", recs[0].CreatedAt, want)
	}
	rows, err := s.QueryUsage(t.Context(), store.UsageQuery{UserID: u.ID, Start: start, End: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Requests != MaxUsageRecords+extra || rows[0].CompletionTokens != 2*(MaxUsageRecords+extra) {
		t.Errorf("hourly totals %+v, want every one of %d requests counted", rows, MaxUsageRecords+extra)
	}
}
