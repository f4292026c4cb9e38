package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// usageState holds usage records by user and their hourly aggregates. The
// store's mu guards it.
type usageState struct {
	// order holds the user of each record in insertion order, for dropping
	// the oldest records beyond MaxUsageRecords.
	order   []int64
	ids     map[string]struct{}
	byUser  map[int64][]store.UsageRecord // in insertion order
	hourly  map[usageHourKey]*usageTotals
	perUser map[int64]map[usageHourKey]struct{} // hourly keys of each user, for deletion
	limits  map[usageLimitKey]store.UsageLimits // usage_limits.go
}

type usageHourKey struct {
	userID   int64
	apiKeyID int64
	model    string
	hour     int64 // Unix seconds
}

type usageTotals struct {
	prompt, completion, requests, cost int64
}

func (u *usageState) init() {
	if u.ids == nil {
		u.ids = make(map[string]struct{})
		u.byUser = make(map[int64][]store.UsageRecord)
		u.hourly = make(map[usageHourKey]*usageTotals)
		u.perUser = make(map[int64]map[usageHourKey]struct{})
	}
}

// MaxUsageRecords bounds the usage records an in-memory store keeps: past
// it, the oldest go (their hourly aggregates, which the usage API reads,
// stay). The embedded store is for a single node without a database; this
// keeps metering's memory bounded there whatever the traffic.
const MaxUsageRecords = 100_000

// trim drops the oldest records beyond MaxUsageRecords. Callers hold mu for
// writing.
func (u *usageState) trim() {
	for len(u.order) > MaxUsageRecords {
		id := u.order[0]
		u.order = u.order[1:]
		if recs := u.byUser[id]; len(recs) > 0 {
			delete(u.ids, recs[0].ID)
			if len(recs) == 1 {
				delete(u.byUser, id)
			} else {
				u.byUser[id] = recs[1:]
			}
		}
	}
	if len(u.order) == 0 {
		u.order = nil
	}
}

// reorder rebuilds order from the records left. Callers hold mu for
// writing.
func (u *usageState) reorder() {
	type entry struct {
		user int64
		at   time.Time
	}
	var all []entry
	for id, recs := range u.byUser {
		for _, r := range recs {
			all = append(all, entry{id, r.CreatedAt})
		}
	}
	slices.SortStableFunc(all, func(a, b entry) int { return a.at.Compare(b.at) })
	u.order = u.order[:0]
	for _, e := range all {
		u.order = append(u.order, e.user)
	}
}

// deleteUser drops a user's usage, as ON DELETE CASCADE does. Callers hold
// mu for writing.
func (u *usageState) deleteUser(id int64) {
	for _, r := range u.byUser[id] {
		delete(u.ids, r.ID)
	}
	delete(u.byUser, id)
	u.order = slices.DeleteFunc(u.order, func(o int64) bool { return o == id })
	for k := range u.perUser[id] {
		delete(u.hourly, k)
	}
	delete(u.perUser, id)
	for k := range u.limits {
		if k.userID == id {
			delete(u.limits, k)
		}
	}
}

// InsertUsage implements store.UsageStore.
func (s *Store) InsertUsage(ctx context.Context, records []store.UsageRecord) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("inserting usage: %w", store.ErrUnavailable)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, fmt.Errorf("inserting usage: %w", store.ErrUnavailable)
	}
	u := &s.usage
	u.init()
	n := 0
	for _, r := range records {
		if _, dup := u.ids[r.ID]; dup {
			continue
		}
		if _, ok := s.users[r.UserID]; !ok {
			continue // the user is gone (a foreign key would refuse the row)
		}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = s.now()
		}
		r.CreatedAt = normTime(r.CreatedAt)
		u.ids[r.ID] = struct{}{}
		u.byUser[r.UserID] = append(u.byUser[r.UserID], r)
		u.order = append(u.order, r.UserID)
		k := usageHourKey{r.UserID, r.APIKeyID, r.Model, r.CreatedAt.Truncate(time.Hour).Unix()}
		t := u.hourly[k]
		if t == nil {
			t = new(usageTotals)
			u.hourly[k] = t
			if u.perUser[r.UserID] == nil {
				u.perUser[r.UserID] = make(map[usageHourKey]struct{})
			}
			u.perUser[r.UserID][k] = struct{}{}
		}
		t.prompt += r.PromptTokens
		t.completion += r.CompletionTokens
		t.requests++
		t.cost += r.CostNanos
		n++
	}
	u.trim()
	return n, nil
}

// QueryUsage implements store.UsageStore.
func (s *Store) QueryUsage(_ context.Context, q store.UsageQuery) ([]store.UsageRow, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	type rowKey struct {
		hour               int64
		model, key, userID string
	}
	rows := make(map[rowKey]*store.UsageRow)
	start, end := q.Start.Unix(), q.End.Unix()
	for k, t := range s.usage.hourly {
		if (q.UserID != 0 && k.userID != q.UserID) || k.hour < start || k.hour >= end {
			continue
		}
		rk := rowKey{hour: k.hour}
		if q.ByModel {
			rk.model = k.model
		}
		if q.ByAPIKey {
			if key := s.apiKeys[k.apiKeyID]; key != nil {
				rk.key = key.PublicID
			}
		}
		if q.ByUser {
			if user := s.users[k.userID]; user != nil {
				rk.userID = user.PublicID
			}
		}
		row := rows[rk]
		if row == nil {
			row = &store.UsageRow{Hour: time.Unix(k.hour, 0).UTC(), Model: rk.model, APIKeyPublicID: rk.key, UserPublicID: rk.userID}
			rows[rk] = row
		}
		row.PromptTokens += t.prompt
		row.CompletionTokens += t.completion
		row.Requests += t.requests
		row.CostNanos += t.cost
	}
	out := make([]store.UsageRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b store.UsageRow) int {
		return cmp.Or(a.Hour.Compare(b.Hour), cmp.Compare(a.Model, b.Model),
			cmp.Compare(a.APIKeyPublicID, b.APIKeyPublicID), cmp.Compare(a.UserPublicID, b.UserPublicID))
	})
	return out, nil
}

// ListUsageRecords implements store.UsageStore.
func (s *Store) ListUsageRecords(_ context.Context, userID int64, start, end time.Time, limit int) ([]store.UsageRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []store.UsageRecord
	for _, r := range s.usage.byUser[userID] {
		if !r.CreatedAt.Before(start) && r.CreatedAt.Before(end) {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b store.UsageRecord) int { return a.CreatedAt.Compare(b.CreatedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// PurgeUsage implements store.UsageStore. One process holds the store, so
// the store's lock is all the exclusion it needs.
func (s *Store) PurgeUsage(_ context.Context, recordsBefore, aggregatesBefore time.Time, _ int) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := &s.usage
	u.init()
	var n int64
	if !recordsBefore.IsZero() {
		for id, recs := range u.byUser {
			kept := slices.DeleteFunc(recs, func(r store.UsageRecord) bool {
				if r.CreatedAt.Before(recordsBefore) {
					delete(u.ids, r.ID)
					n++
					return true
				}
				return false
			})
			if len(kept) == 0 {
				delete(u.byUser, id)
			} else {
				u.byUser[id] = kept
			}
		}
	}
	if n > 0 {
		u.reorder()
	}
	if !aggregatesBefore.IsZero() {
		cut := aggregatesBefore.Unix()
		for k := range u.hourly {
			if k.hour < cut {
				delete(u.hourly, k)
				delete(u.perUser[k.userID], k)
				n++
			}
		}
	}
	return n, false, nil
}
