package postgres

import (
	"context"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// insertUsageSQL inserts a batch of records (as arrays, one round trip) and
// adds the new ones to their hourly aggregates in the same statement. A
// record of a user deleted meanwhile is left out (its aggregates would go
// with the user anyway), and a key that is gone becomes NULL. The aggregates
// are upserted in key order, so that two replicas' batches lock shared rows
// in the same order and cannot deadlock.
const insertUsageSQL = `
WITH r AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[],
		$7::bigint[], $8::bigint[], $9::bigint[], $10::bool[], $11::bool[], $12::bool[], $13::int[],
		$14::text[], $15::bigint[], $16::bigint[], $17::timestamptz[])
	AS r(id, request_id, user_id, api_key_id, model, provider, prompt_tokens, completion_tokens,
		cost_nanos, estimated, stream, incomplete, status, error_code, ttft_us, duration_us, created_at)
), ins AS (
	INSERT INTO usage_records (id, request_id, user_id, api_key_id, model, provider, prompt_tokens,
		completion_tokens, cost_nanos, estimated, stream, incomplete, status, error_code, ttft_us,
		duration_us, created_at)
	SELECT r.id, r.request_id, r.user_id, k.id, r.model, r.provider, r.prompt_tokens,
		r.completion_tokens, r.cost_nanos, r.estimated, r.stream, r.incomplete, r.status, r.error_code,
		r.ttft_us, r.duration_us, r.created_at
	FROM r JOIN users u ON u.id = r.user_id LEFT JOIN api_keys k ON k.id = r.api_key_id AND k.user_id = r.user_id
	ON CONFLICT (id) DO NOTHING
	RETURNING user_id, api_key_id, model, created_at, prompt_tokens, completion_tokens, cost_nanos
), agg AS (
	INSERT INTO usage_hourly AS h (user_id, api_key_id, model, hour, prompt_tokens, completion_tokens, requests, cost_nanos)
	SELECT user_id, coalesce(api_key_id, 0), model, date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
		sum(prompt_tokens), sum(completion_tokens), count(*), sum(cost_nanos)
	FROM ins GROUP BY 1, 2, 3, 4 ORDER BY 1, 4, 2, 3
	ON CONFLICT (user_id, hour, api_key_id, model) DO UPDATE SET
		prompt_tokens = h.prompt_tokens + EXCLUDED.prompt_tokens,
		completion_tokens = h.completion_tokens + EXCLUDED.completion_tokens,
		requests = h.requests + EXCLUDED.requests,
		cost_nanos = h.cost_nanos + EXCLUDED.cost_nanos
	RETURNING 1
)
SELECT count(*) FROM ins`

// InsertUsage implements store.UsageStore.
func (s *Store) InsertUsage(ctx context.Context, records []store.UsageRecord) (int, error) {
	const op = "inserting usage"
	if len(records) == 0 {
		return 0, nil
	}
	n := len(records)
	var (
		ids, requestIDs, models, providers, errorCodes       = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		userIDs, keyIDs, prompt, completion, cost, ttft, dur = make([]int64, n), make([]*int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		estimated, stream, incomplete                        = make([]bool, n), make([]bool, n), make([]bool, n)
		status                                               = make([]int32, n)
		created                                              = make([]time.Time, n)
	)
	now := time.Now()
	for i, r := range records {
		ids[i], requestIDs[i], models[i], providers[i], errorCodes[i] = r.ID, r.RequestID, r.Model, r.Provider, r.ErrorCode
		userIDs[i], prompt[i], completion[i], cost[i] = r.UserID, r.PromptTokens, r.CompletionTokens, r.CostNanos
		if r.APIKeyID != 0 {
			keyIDs[i] = &records[i].APIKeyID
		}
		ttft[i], dur[i] = r.TimeToFirstToken.Microseconds(), r.Duration.Microseconds()
		estimated[i], stream[i], incomplete[i] = r.Estimated, r.Stream, r.Incomplete
		status[i] = int32(r.Status)
		created[i] = r.CreatedAt
		if created[i].IsZero() {
			created[i] = now
		}
	}
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var inserted int
	err := s.pool.QueryRow(qctx, insertUsageSQL, ids, requestIDs, userIDs, keyIDs, models, providers,
		prompt, completion, cost, estimated, stream, incomplete, status, errorCodes, ttft, dur, created).Scan(&inserted)
	if err != nil {
		return 0, s.mapErr(ctx, op, err)
	}
	return inserted, nil
}

// QueryUsage implements store.UsageStore.
func (s *Store) QueryUsage(ctx context.Context, q store.UsageQuery) ([]store.UsageRow, error) {
	const op = "querying usage"
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(qctx, `
SELECT h.hour,
	CASE WHEN $4 THEN h.model ELSE '' END,
	CASE WHEN $5 THEN coalesce(k.public_id, '') ELSE '' END,
	CASE WHEN $6 THEN u.public_id ELSE '' END,
	sum(h.prompt_tokens)::bigint, sum(h.completion_tokens)::bigint, sum(h.requests)::bigint, sum(h.cost_nanos)::bigint
FROM usage_hourly h
JOIN users u ON u.id = h.user_id
LEFT JOIN api_keys k ON k.id = h.api_key_id
WHERE ($1 = 0 OR h.user_id = $1) AND h.hour >= $2 AND h.hour < $3
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`, q.UserID, q.Start, q.End, q.ByModel, q.ByAPIKey, q.ByUser)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	defer rows.Close()
	var out []store.UsageRow
	for rows.Next() {
		var r store.UsageRow
		if err := rows.Scan(&r.Hour, &r.Model, &r.APIKeyPublicID, &r.UserPublicID,
			&r.PromptTokens, &r.CompletionTokens, &r.Requests, &r.CostNanos); err != nil {
			return nil, s.mapErr(ctx, op, err)
		}
		r.Hour = r.Hour.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return out, nil
}

// ListUsageRecords implements store.UsageStore.
func (s *Store) ListUsageRecords(ctx context.Context, userID int64, start, end time.Time, limit int) ([]store.UsageRecord, error) {
	const op = "listing usage records"
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(qctx, `
SELECT id, request_id, user_id, coalesce(api_key_id, 0), model, provider, prompt_tokens, completion_tokens,
	cost_nanos, estimated, stream, incomplete, status, error_code, ttft_us, duration_us, created_at
FROM usage_records WHERE user_id = $1 AND created_at >= $2 AND created_at < $3
ORDER BY created_at, id LIMIT $4`, userID, start, end, limit)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	defer rows.Close()
	var out []store.UsageRecord
	for rows.Next() {
		var r store.UsageRecord
		var status int32
		var ttft, dur int64
		if err := rows.Scan(&r.ID, &r.RequestID, &r.UserID, &r.APIKeyID, &r.Model, &r.Provider, &r.PromptTokens,
			&r.CompletionTokens, &r.CostNanos, &r.Estimated, &r.Stream, &r.Incomplete, &status, &r.ErrorCode,
			&ttft, &dur, &r.CreatedAt); err != nil {
			return nil, s.mapErr(ctx, op, err)
		}
		r.Status, r.TimeToFirstToken, r.Duration = int(status), time.Duration(ttft)*time.Microsecond, time.Duration(dur)*time.Microsecond
		r.CreatedAt = r.CreatedAt.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return out, nil
}

// PurgeUsage implements store.UsageStore, in batches under the retention
// lock that Purge takes (see purgeBatch).
func (s *Store) PurgeUsage(ctx context.Context, recordsBefore, aggregatesBefore time.Time, batch int) (int64, bool, error) {
	const op = "purging usage"
	if batch <= 0 {
		batch = defaultPurgeBatch
	}
	rules := []struct {
		before time.Time
		query  string
	}{
		{recordsBefore, `DELETE FROM usage_records WHERE id IN (
	SELECT id FROM usage_records WHERE created_at < $1 LIMIT $2)`},
		{aggregatesBefore, `DELETE FROM usage_hourly WHERE ctid IN (
	SELECT ctid FROM usage_hourly WHERE hour < $1 LIMIT $2)`},
	}
	var total int64
	for _, rule := range rules {
		if rule.before.IsZero() {
			continue
		}
		for {
			n, locked, err := s.purgeBatch(ctx, rule.query, rule.before, batch)
			if err != nil {
				return total, false, s.mapErr(ctx, op, err)
			}
			if !locked {
				return total, true, nil
			}
			total += n
			if n < int64(batch) {
				break
			}
		}
	}
	return total, false, nil
}
