package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

const pendingColumns = `id, user_id, conversation_public_id, project_public_id, user_text, assistant_text, attempts, created_at`

func scanPending(row pgx.Row) (store.PendingObservation, error) {
	var p store.PendingObservation
	err := row.Scan(&p.ID, &p.UserID, &p.ConversationPublicID, &p.ProjectPublicID, &p.UserText, &p.AssistantText, &p.Attempts, &p.CreatedAt)
	return p, err
}

// AddPendingObservation implements store.MemoryStore.
// The count and the insert are one statement; replicas recording turns of
// one user at the same instant may overshoot the bound by a row or two.
func (s *Store) AddPendingObservation(ctx context.Context, p store.PendingObservation, maxPerUser int) (store.PendingObservation, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	got, err := scanPending(s.pool.QueryRow(qctx, `
INSERT INTO memory_pending (user_id, conversation_public_id, project_public_id, user_text, assistant_text)
SELECT $1, $2, $3, $4, $5
WHERE $6 <= 0 OR (SELECT count(*) FROM (SELECT 1 FROM memory_pending WHERE user_id = $1 LIMIT $6) AS waiting) < $6
RETURNING `+pendingColumns, p.UserID, p.ConversationPublicID, p.ProjectPublicID, p.UserText, p.AssistantText, maxPerUser))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.PendingObservation{}, fmt.Errorf("adding pending observation: %w", store.ErrLimitReached)
	}
	if err != nil {
		return store.PendingObservation{}, s.mapErr(ctx, "adding pending observation", err)
	}
	return got, nil
}

// ClaimPendingObservation implements store.MemoryStore.
func (s *Store) ClaimPendingObservation(ctx context.Context, id int64, now, until time.Time) (bool, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(qctx, `
UPDATE memory_pending SET claimed_until = $3, attempts = attempts + 1
WHERE id = $1 AND (claimed_until IS NULL OR claimed_until < $2)`, id, now, until)
	if err != nil {
		return false, s.mapErr(ctx, "claiming pending observation", err)
	}
	return tag.RowsAffected() == 1, nil
}

// ClaimPendingObservations implements store.MemoryStore. SKIP LOCKED keeps
// replicas that claim at once from waiting for, or taking, each other's
// rows.
func (s *Store) ClaimPendingObservations(ctx context.Context, now, until time.Time, n int) ([]store.PendingObservation, error) {
	const op = "claiming pending observations"
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(qctx, `
UPDATE memory_pending SET claimed_until = $2, attempts = attempts + 1
WHERE id IN (
	SELECT id FROM memory_pending
	WHERE claimed_until IS NULL OR claimed_until < $1
	ORDER BY id LIMIT $3
	FOR UPDATE SKIP LOCKED)
RETURNING `+pendingColumns, now, until, n)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.PendingObservation, error) { return scanPending(r) })
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	if out == nil {
		out = []store.PendingObservation{}
	}
	return out, nil
}

// DeletePendingObservation implements store.MemoryStore.
func (s *Store) DeletePendingObservation(ctx context.Context, id int64) error {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	_, err := s.pool.Exec(qctx, `DELETE FROM memory_pending WHERE id = $1`, id)
	return s.mapErr(ctx, "deleting pending observation", err)
}

// PurgePendingObservations implements store.MemoryStore.
func (s *Store) PurgePendingObservations(ctx context.Context, before time.Time) (int64, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(qctx, `DELETE FROM memory_pending WHERE created_at < $1`, before)
	if err != nil {
		return 0, s.mapErr(ctx, "purging pending observations", err)
	}
	return tag.RowsAffected(), nil
}
