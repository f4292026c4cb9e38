package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

// retentionLockKey is the second key of the advisory lock that lets one
// replica purge at a time (the first is familyLockClass).
const retentionLockKey = 0x7265746e // "retn"

const defaultPurgeBatch = 1000

// Purge implements store.RetentionStore. Each batch is a transaction that
// first takes the retention lock without waiting: a replica that finds it
// taken stops and reports Skipped, so two replicas never purge at once.
func (s *Store) Purge(ctx context.Context, p store.RetentionPolicy) (store.RetentionResult, error) {
	const op = "purging expired data"
	batch := p.BatchSize
	if batch <= 0 {
		batch = defaultPurgeBatch
	}
	var res store.RetentionResult
	rules := []struct {
		since time.Time
		count *int64
		query string
	}{
		{p.TokensExpiredBefore, &res.RefreshTokens, `
DELETE FROM refresh_tokens WHERE id IN (
	SELECT id FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)`},
		// Deleting the user deletes everything it owns (ON DELETE CASCADE).
		{p.GuestsIdleSince, &res.Guests, `
DELETE FROM users WHERE id IN (
	SELECT u.id FROM users u
	WHERE u.kind = 'guest' AND u.created_at < $1
	AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.user_id = u.id AND t.created_at >= $1)
	LIMIT $2)`},
	}
	for _, rule := range rules {
		if rule.since.IsZero() {
			continue
		}
		for {
			n, locked, err := s.purgeBatch(ctx, rule.query, rule.since, batch)
			if err != nil {
				return res, s.mapErr(ctx, op, err)
			}
			if !locked {
				res.Skipped = true
				return res, nil
			}
			*rule.count += n
			if n < int64(batch) {
				break
			}
		}
	}
	return res, nil
}

// purgeBatch runs one delete under the retention lock; locked is false when
// another replica holds it.
func (s *Store) purgeBatch(ctx context.Context, query string, since time.Time, batch int) (n int64, locked bool, err error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	err = pgx.BeginFunc(qctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(qctx, `SELECT pg_try_advisory_xact_lock($1, $2)`, familyLockClass, retentionLockKey).Scan(&locked); err != nil || !locked {
			return err
		}
		tag, err := tx.Exec(qctx, query, since, batch)
		n = tag.RowsAffected()
		return err
	})
	return n, locked, err
}
