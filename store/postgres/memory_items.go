package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

const memoryColumns = `id, public_id, user_id, kind, text, project_public_id, conversation_public_id, source, embedding, embedding_model, created_at, updated_at`

// memoryListColumns are memoryColumns without the vector (NULL in its
// place): listings do not show it.
const memoryListColumns = `id, public_id, user_id, kind, text, project_public_id, conversation_public_id, source, NULL::real[], embedding_model, created_at, updated_at`

func scanMemoryItem(row pgx.Row) (store.MemoryItem, error) {
	var it store.MemoryItem
	err := row.Scan(&it.ID, &it.PublicID, &it.UserID, &it.Kind, &it.Text, &it.ProjectPublicID,
		&it.ConversationPublicID, &it.Source, &it.Embedding, &it.EmbeddingModel, &it.CreatedAt, &it.UpdatedAt)
	return it, err
}

// vectorArg is a vector as a query argument: NULL when empty.
func vectorArg(v []float32) any {
	if len(v) == 0 {
		return nil
	}
	return v
}

// CreateMemoryItem implements store.MemoryStore. The user's row is locked
// first, so that concurrent creates of one user count and insert one after
// the other and never pass the cap together.
func (s *Store) CreateMemoryItem(ctx context.Context, it store.MemoryItem, maxPerUser int) (store.MemoryItem, error) {
	defer s.wrote(it.UserID) // read your writes: see replica
	if it.PublicID == "" {
		it.PublicID = store.NewPublicID(store.PrefixMemory)
	}
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var created store.MemoryItem
	err := pgx.BeginFunc(qctx, s.pool, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(qctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, it.UserID).Scan(&one); err != nil {
			return err
		}
		if maxPerUser > 0 {
			var n int
			if err := tx.QueryRow(qctx, `SELECT count(*) FROM memory_items WHERE user_id = $1`, it.UserID).Scan(&n); err != nil {
				return err
			}
			if n >= maxPerUser {
				if it.Kind != store.MemoryKindEpisodic {
					return store.ErrLimitReached
				}
				tag, err := tx.Exec(qctx, `
DELETE FROM memory_items WHERE id = (
	SELECT id FROM memory_items WHERE user_id = $1 AND kind = 'episodic'
	ORDER BY created_at, id LIMIT 1)`, it.UserID)
				if err != nil {
					return err
				}
				if tag.RowsAffected() == 0 {
					return store.ErrLimitReached
				}
			}
		}
		var err error
		created, err = scanMemoryItem(tx.QueryRow(qctx, `
INSERT INTO memory_items (public_id, user_id, kind, text, project_public_id, conversation_public_id, source, embedding, embedding_model)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING `+memoryColumns,
			it.PublicID, it.UserID, it.Kind, it.Text, it.ProjectPublicID, it.ConversationPublicID, it.Source, vectorArg(it.Embedding), it.EmbeddingModel))
		return err
	})
	if err != nil {
		return store.MemoryItem{}, s.mapErr(ctx, "creating memory item", err)
	}
	return created, nil
}

// GetMemoryItem implements store.MemoryStore.
func (s *Store) GetMemoryItem(ctx context.Context, userID int64, publicID string) (store.MemoryItem, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	it, err := scanMemoryItem(s.reader(userID).QueryRow(qctx, `
SELECT `+memoryColumns+` FROM memory_items WHERE user_id = $1 AND public_id = $2`, userID, publicID))
	if err != nil {
		return store.MemoryItem{}, s.mapErr(ctx, "getting memory item", err)
	}
	return it, nil
}

// ListMemoryItems implements store.MemoryStore.
func (s *Store) ListMemoryItems(ctx context.Context, userID int64, f store.MemoryFilter, opts store.ListOptions) (store.Page[store.MemoryItem], error) {
	const op = "listing memory items"
	db := s.reader(userID) // the replica unless this user just wrote
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	after, dir := keyset(opts)
	query := `SELECT ` + memoryListColumns + ` FROM memory_items
WHERE user_id = $1 AND ($3 = '' OR kind = $3) AND ($4 = '' OR project_public_id = $4)`
	args := []any{userID, limitArg(opts), f.Kind, f.ProjectPublicID}
	if opts.After != "" {
		var (
			createdAt time.Time
			id        int64
		)
		err := db.QueryRow(qctx, `SELECT created_at, id FROM memory_items WHERE user_id = $1 AND public_id = $2`,
			userID, opts.After).Scan(&createdAt, &id)
		if errors.Is(err, pgx.ErrNoRows) {
			err = store.ErrInvalidCursor
		}
		if err != nil {
			return store.Page[store.MemoryItem]{}, s.mapErr(ctx, op, err)
		}
		query += ` AND (created_at, id) ` + after + ` ($5, $6)`
		args = append(args, createdAt, id)
	}
	query += ` ORDER BY created_at ` + dir + `, id ` + dir + ` LIMIT $2`
	rows, err := db.Query(qctx, query, args...)
	if err != nil {
		return store.Page[store.MemoryItem]{}, s.mapErr(ctx, op, err)
	}
	page, err := collectPage(rows, opts, scanMemoryItem, (*store.MemoryItem).Size)
	if err != nil {
		return store.Page[store.MemoryItem]{}, s.mapErr(ctx, op, err)
	}
	return page, nil
}

// MemoryVectors implements store.MemoryStore. It reads the primary: the
// stamp that decided to call it was read there too.
func (s *Store) MemoryVectors(ctx context.Context, userID int64, max int) ([]store.MemoryItem, error) {
	const op = "reading memory vectors"
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var limit *int // NULL: no limit
	if max > 0 {
		limit = &max
	}
	rows, err := s.pool.Query(qctx, `
SELECT `+memoryColumns+` FROM (
	SELECT `+memoryColumns+` FROM memory_items WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2
) AS newest ORDER BY created_at, id`, userID, limit)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.MemoryItem, error) { return scanMemoryItem(r) })
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return items, nil
}

// MemoryStamp implements store.MemoryStore, on the primary so that a
// user's own write is seen at once.
func (s *Store) MemoryStamp(ctx context.Context, userID int64) (store.MemoryStamp, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var (
		st      store.MemoryStamp
		updated *time.Time
	)
	err := s.pool.QueryRow(qctx, `SELECT count(*), COALESCE(max(id), 0), max(updated_at) FROM memory_items WHERE user_id = $1`, userID).
		Scan(&st.Count, &st.MaxID, &updated)
	if err != nil {
		return store.MemoryStamp{}, s.mapErr(ctx, "reading memory stamp", err)
	}
	if updated != nil {
		st.UpdatedAt = *updated
	}
	return st, nil
}

// UpdateMemoryItem implements store.MemoryStore.
func (s *Store) UpdateMemoryItem(ctx context.Context, userID int64, publicID string, patch store.MemoryPatch, now time.Time) (store.MemoryItem, error) {
	defer s.wrote(userID) // read your writes: see replica
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	it, err := scanMemoryItem(s.pool.QueryRow(qctx, `
UPDATE memory_items SET
	text            = COALESCE($3, text),
	embedding       = CASE WHEN $3::text IS NOT NULL OR $4::real[] IS NOT NULL THEN $4 ELSE embedding END,
	embedding_model = COALESCE($5, embedding_model),
	updated_at      = GREATEST($6, updated_at + interval '1 microsecond')
WHERE user_id = $1 AND public_id = $2
RETURNING `+memoryColumns,
		userID, publicID, patch.Text, vectorArg(patch.Embedding), patch.EmbeddingModel, now))
	if err != nil {
		return store.MemoryItem{}, s.mapErr(ctx, "updating memory item", err)
	}
	return it, nil
}

// DeleteMemoryItem implements store.MemoryStore.
func (s *Store) DeleteMemoryItem(ctx context.Context, userID int64, publicID string) error {
	defer s.wrote(userID) // read your writes: see replica
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(qctx, `DELETE FROM memory_items WHERE user_id = $1 AND public_id = $2`, userID, publicID)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return s.mapErr(ctx, "deleting memory item", err)
}

// DeleteMemoryItems implements store.MemoryStore.
func (s *Store) DeleteMemoryItems(ctx context.Context, userID int64) (int64, error) {
	defer s.wrote(userID) // read your writes: see replica
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var n int64
	err := pgx.BeginFunc(qctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(qctx, `DELETE FROM memory_items WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		// Turns waiting to be observed would bring back what was forgotten.
		_, err = tx.Exec(qctx, `DELETE FROM memory_pending WHERE user_id = $1`, userID)
		return err
	})
	if err != nil {
		return 0, s.mapErr(ctx, "deleting memory items", err)
	}
	return n, nil
}

// mergeMemoryItems gives the guest's memory items to the user, in
// MergeGuest's transaction: what a guest told the gateway follows it when
// it signs in.
func mergeMemoryItems(ctx context.Context, tx pgx.Tx, guestID, userID int64) error {
	_, err := tx.Exec(ctx, `UPDATE memory_items SET user_id = $2, updated_at = now() WHERE user_id = $1`, guestID, userID)
	return err
}
