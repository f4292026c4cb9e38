package storetest

import (
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// testUsage checks usage records and their hourly aggregates: totals, the
// splits by model, key and user, idempotent batches, isolation, retention
// and deletion with the user.
func testUsage(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := newUser(t, s), newUser(t, s)
	key, err := s.CreateAPIKey(ctx, store.APIKey{UserID: alice.ID, Name: "ci", Hash: hash("usage-key")}, 0)
	must(t, "CreateAPIKey", err)

	hour := now().Truncate(time.Hour)
	at := func(h int, m int) time.Time {
		return hour.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	rec := func(id string, user store.User, keyID int64, model string, prompt, completion, cost int64, created time.Time) store.UsageRecord {
		return store.UsageRecord{
			ID: RandomName(id), RequestID: "req-" + id, UserID: user.ID, APIKeyID: keyID, Model: model, Provider: "up",
			PromptTokens: prompt, CompletionTokens: completion, CostNanos: cost, Status: 200, Stream: true,
			TimeToFirstToken: 15 * time.Millisecond, Duration: 250 * time.Millisecond, CreatedAt: created,
		}
	}
	batch := []store.UsageRecord{
		rec("a1", alice, 0, "m1", 10, 5, 100, at(-2, 1)),
		rec("a2", alice, key.ID, "m1", 20, 7, 200, at(-2, 30)),
		rec("a3", alice, key.ID, "m2", 3, 4, 50, at(-1, 5)),
		rec("b1", bob, 0, "m1", 1000, 1000, 9999, at(-1, 6)),
	}
	batch[2].Estimated, batch[2].Incomplete, batch[2].ErrorCode = true, true, "client_closed_request"
	n, err := s.InsertUsage(ctx, batch)
	must(t, "InsertUsage", err)
	if n != len(batch) {
		t.Errorf("InsertUsage = %d, want %d", n, len(batch))
	}
	// The same batch again (a retry whose first commit went through) and a
	// record of a user that does not exist: nothing new.
	ghost := rec("ghost", store.User{ID: 1 << 40}, 0, "m1", 1, 1, 1, at(-1, 0))
	n, err = s.InsertUsage(ctx, append(batch[:2:2], ghost))
	must(t, "InsertUsage(again)", err)
	if n != 0 {
		t.Errorf("InsertUsage(retried batch) = %d, want 0", n)
	}

	q := store.UsageQuery{UserID: alice.ID, Start: at(-3, 0), End: at(1, 0)}
	rows, err := s.QueryUsage(ctx, q)
	must(t, "QueryUsage", err)
	want := []store.UsageRow{
		{Hour: at(-2, 0), PromptTokens: 30, CompletionTokens: 12, Requests: 2, CostNanos: 300},
		{Hour: at(-1, 0), PromptTokens: 3, CompletionTokens: 4, Requests: 1, CostNanos: 50},
	}
	checkUsageRows(t, "QueryUsage(alice)", rows, want)

	q.ByModel, q.ByAPIKey = true, true
	rows, err = s.QueryUsage(ctx, q)
	must(t, "QueryUsage(by model and key)", err)
	checkUsageRows(t, "QueryUsage(alice, by model and key)", rows, []store.UsageRow{
		{Hour: at(-2, 0), Model: "m1", PromptTokens: 10, CompletionTokens: 5, Requests: 1, CostNanos: 100},
		{Hour: at(-2, 0), Model: "m1", APIKeyPublicID: key.PublicID, PromptTokens: 20, CompletionTokens: 7, Requests: 1, CostNanos: 200},
		{Hour: at(-1, 0), Model: "m2", APIKeyPublicID: key.PublicID, PromptTokens: 3, CompletionTokens: 4, Requests: 1, CostNanos: 50},
	})

	// The period is half-open: the first hour is out.
	rows, err = s.QueryUsage(ctx, store.UsageQuery{UserID: alice.ID, Start: at(-1, 0), End: at(0, 0)})
	must(t, "QueryUsage(last hour)", err)
	checkUsageRows(t, "QueryUsage(alice, one hour)", rows, want[1:])

	// Every user's, split by user.
	rows, err = s.QueryUsage(ctx, store.UsageQuery{Start: at(-1, 0), End: at(0, 0), ByUser: true})
	must(t, "QueryUsage(all users)", err)
	checkUsageRows(t, "QueryUsage(all, by user)", rows, sortUsageRows([]store.UsageRow{
		{Hour: at(-1, 0), UserPublicID: alice.PublicID, PromptTokens: 3, CompletionTokens: 4, Requests: 1, CostNanos: 50},
		{Hour: at(-1, 0), UserPublicID: bob.PublicID, PromptTokens: 1000, CompletionTokens: 1000, Requests: 1, CostNanos: 9999},
	}))

	recs, err := s.ListUsageRecords(ctx, alice.ID, at(-3, 0), at(1, 0), 10)
	must(t, "ListUsageRecords", err)
	if len(recs) != 3 {
		t.Fatalf("ListUsageRecords = %d records, want 3", len(recs))
	}
	got, exp := recs[2], batch[2]
	if got.ID != exp.ID || got.RequestID != exp.RequestID || got.APIKeyID != key.ID || got.Model != "m2" ||
		got.PromptTokens != 3 || got.CompletionTokens != 4 || got.CostNanos != 50 || !got.Estimated || !got.Incomplete ||
		!got.Stream || got.Status != 200 || got.ErrorCode != exp.ErrorCode || got.TimeToFirstToken != exp.TimeToFirstToken ||
		got.Duration != exp.Duration || !got.CreatedAt.Equal(exp.CreatedAt) {
		t.Errorf("ListUsageRecords[2] = %+v, want %+v", got, exp)
	}
	recs, err = s.ListUsageRecords(ctx, bob.ID, at(-3, 0), at(1, 0), 10)
	must(t, "ListUsageRecords(bob)", err)
	if len(recs) != 1 || recs[0].UserID != bob.ID {
		t.Errorf("ListUsageRecords(bob) = %+v, want bob's one record", recs)
	}

	// Retention: records before the last hour go, aggregates stay; then
	// aggregates before it go too.
	deleted, skipped, err := s.PurgeUsage(ctx, at(-1, 0), time.Time{}, 1)
	must(t, "PurgeUsage(records)", err)
	if skipped || deleted != 2 {
		t.Errorf("PurgeUsage(records) = %d, skipped %v; want 2 deleted", deleted, skipped)
	}
	recs, err = s.ListUsageRecords(ctx, alice.ID, at(-3, 0), at(1, 0), 10)
	must(t, "ListUsageRecords(after purge)", err)
	if len(recs) != 1 || recs[0].ID != batch[2].ID {
		t.Errorf("records after purge = %+v, want only the last hour's", recs)
	}
	rows, err = s.QueryUsage(ctx, store.UsageQuery{UserID: alice.ID, Start: at(-3, 0), End: at(1, 0)})
	must(t, "QueryUsage(after purging records)", err)
	checkUsageRows(t, "aggregates after purging records", rows, want)
	_, _, err = s.PurgeUsage(ctx, time.Time{}, at(-1, 0), 1)
	must(t, "PurgeUsage(aggregates)", err)
	rows, err = s.QueryUsage(ctx, store.UsageQuery{UserID: alice.ID, Start: at(-3, 0), End: at(1, 0)})
	must(t, "QueryUsage(after purging aggregates)", err)
	checkUsageRows(t, "aggregates after purging them", rows, want[1:])

	// A deleted user's usage goes with it.
	guest, err := s.UpsertUser(ctx, store.User{Issuer: "gateway", Subject: RandomName("guest-"), Kind: store.UserKindGuest})
	must(t, "UpsertUser(guest)", err)
	_, err = s.InsertUsage(ctx, []store.UsageRecord{rec("g1", guest, 0, "m1", 1, 1, 1, at(0, 0))})
	must(t, "InsertUsage(guest)", err)
	_, err = s.Purge(ctx, store.RetentionPolicy{GuestsIdleSince: now().Add(time.Hour)})
	must(t, "Purge", err)
	rows, err = s.QueryUsage(ctx, store.UsageQuery{UserID: guest.ID, Start: at(-1, 0), End: at(2, 0)})
	must(t, "QueryUsage(deleted guest)", err)
	recs, err = s.ListUsageRecords(ctx, guest.ID, at(-1, 0), at(2, 0), 10)
	must(t, "ListUsageRecords(deleted guest)", err)
	if len(rows) != 0 || len(recs) != 0 {
		t.Errorf("a deleted guest's usage is still there: %d rows, %d records", len(rows), len(recs))
	}
}

func sortUsageRows(rows []store.UsageRow) []store.UsageRow {
	if len(rows) == 2 && rows[0].UserPublicID > rows[1].UserPublicID {
		rows[0], rows[1] = rows[1], rows[0]
	}
	return rows
}

func checkUsageRows(t *testing.T, what string, got, want []store.UsageRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Hour.Equal(w.Hour) || g.Model != w.Model || g.APIKeyPublicID != w.APIKeyPublicID || g.UserPublicID != w.UserPublicID ||
			g.PromptTokens != w.PromptTokens || g.CompletionTokens != w.CompletionTokens || g.Requests != w.Requests || g.CostNanos != w.CostNanos {
			t.Errorf("%s[%d] = %+v, want %+v", what, i, g, w)
		}
	}
}
