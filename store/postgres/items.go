package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

const itemColumns = `i.id, i.public_id, i.conversation_id, i.type, i.role, i.status, i.content, i.created_at`

func scanItem(row pgx.Row) (store.Item, error) {
	var it store.Item
	err := row.Scan(&it.ID, &it.PublicID, &it.ConversationID, &it.Type, &it.Role, &it.Status, &it.Content, &it.CreatedAt)
	if it.Content == nil {
		it.Content = []store.ContentPart{}
	}
	return it, err
}

// insertItems inserts items at positions first, first+1, … in one round
// trip. The caller has reserved those positions.
func insertItems(ctx context.Context, tx pgx.Tx, convID, userID int64, first int64, createdAt time.Time, items []store.Item) ([]store.Item, error) {
	if len(items) == 0 {
		return []store.Item{}, nil
	}
	batch := &pgx.Batch{}
	for i, it := range items {
		if it.Type == "" {
			it.Type = "message"
		}
		if it.Status == "" {
			it.Status = store.ItemStatusCompleted
		}
		if it.Content == nil {
			it.Content = []store.ContentPart{} // nil would be stored as JSON null
		}
		batch.Queue(`
INSERT INTO conversation_items AS i (public_id, conversation_id, user_id, position, type, role, status, content, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING `+itemColumns,
			store.NewPublicID(store.PrefixMessage), convID, userID, first+int64(i), it.Type, it.Role, it.Status, it.Content, createdAt)
	}
	results := tx.SendBatch(ctx, batch)
	out := make([]store.Item, 0, len(items))
	for range items {
		it, err := scanItem(results.QueryRow())
		if err != nil {
			_ = results.Close()
			return nil, err
		}
		out = append(out, it)
	}
	return out, results.Close()
}

// AppendItems implements store.ConversationStore. Reserving positions takes
// the conversation's row lock until commit, so concurrent appends to one
// conversation queue up, and each gets a contiguous run of positions in the
// order they commit. The conversation's UpdatedAt moves to the time of the
// append, which is also the items' CreatedAt.
func (s *Store) AppendItems(ctx context.Context, userID int64, convPublicID string, items []store.Item) ([]store.Item, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var added []store.Item
	err := pgx.BeginFunc(qctx, s.pool, func(tx pgx.Tx) error {
		var (
			convID, first int64
			at            time.Time
		)
		// clock_timestamp(), not now(): an append that waited for the lock
		// must not get an earlier time than the one it waited for.
		err := tx.QueryRow(qctx, `
UPDATE conversations SET next_position = next_position + $3, updated_at = clock_timestamp()
WHERE user_id = $1 AND public_id = $2
RETURNING id, next_position - $3, updated_at`, userID, convPublicID, len(items)).Scan(&convID, &first, &at)
		if err != nil {
			return err
		}
		added, err = insertItems(qctx, tx, convID, userID, first, at, items)
		return err
	})
	if err != nil {
		return nil, s.mapErr(ctx, "appending items", err)
	}
	return added, nil
}

// ListItems implements store.ConversationStore. Items are ordered by
// position, the order of their appends.
func (s *Store) ListItems(ctx context.Context, userID int64, convPublicID string, opts store.ListOptions) (store.Page[store.Item], error) {
	const op = "listing items"
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var (
		convID   int64
		position *int64
	)
	err := s.pool.QueryRow(qctx, `
SELECT c.id, i.position FROM conversations c
LEFT JOIN conversation_items i ON i.conversation_id = c.id AND i.public_id = $3
WHERE c.user_id = $1 AND c.public_id = $2`, userID, convPublicID, opts.After).Scan(&convID, &position)
	if err == nil && opts.After != "" && position == nil {
		err = store.ErrInvalidCursor
	}
	if err != nil {
		return store.Page[store.Item]{}, s.mapErr(ctx, op, err)
	}
	after, dir := keyset(opts)
	query := `SELECT ` + itemColumns + ` FROM conversation_items i WHERE i.conversation_id = $1`
	args := []any{convID, limitArg(opts)}
	if opts.After != "" {
		query += ` AND i.position ` + after + ` $3`
		args = append(args, *position)
	}
	query += ` ORDER BY i.position ` + dir + ` LIMIT $2`
	rows, err := s.pool.Query(qctx, query, args...)
	if err != nil {
		return store.Page[store.Item]{}, s.mapErr(ctx, op, err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Item, error) { return scanItem(row) })
	if err != nil {
		return store.Page[store.Item]{}, s.mapErr(ctx, op, err)
	}
	return toPage(items, opts), nil
}

// GetItem implements store.ConversationStore.
func (s *Store) GetItem(ctx context.Context, userID int64, convPublicID, itemPublicID string) (store.Item, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	it, err := scanItem(s.pool.QueryRow(qctx, `
SELECT `+itemColumns+` FROM conversation_items i
JOIN conversations c ON c.id = i.conversation_id
WHERE c.user_id = $1 AND c.public_id = $2 AND i.public_id = $3`, userID, convPublicID, itemPublicID))
	if err != nil {
		return store.Item{}, s.mapErr(ctx, "getting item", err)
	}
	return it, nil
}

// DeleteItem implements store.ConversationStore.
func (s *Store) DeleteItem(ctx context.Context, userID int64, convPublicID, itemPublicID string) error {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(qctx, `
DELETE FROM conversation_items i USING conversations c
WHERE c.id = i.conversation_id AND c.user_id = $1 AND c.public_id = $2 AND i.public_id = $3`,
		userID, convPublicID, itemPublicID)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	return s.mapErr(ctx, "deleting item", err)
}
