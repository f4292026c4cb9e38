package postgres

import (
	"context"
	"encoding/json"
	"fmt"
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
//
// Items are appended in one statement (the reservation and the inserts in
// one round trip and one commit): a chat turn appends twice, and each commit
// waits for the disk.
func (s *Store) AppendItems(ctx context.Context, userID int64, convPublicID string, items []store.Item) ([]store.Item, error) {
	defer s.wrote(userID) // read your writes: see replica
	if len(items) == 0 {
		return s.appendNothing(ctx, userID, convPublicID)
	}
	n := len(items)
	ids, types, roles, statuses, contents := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	index := make(map[string]int, n)
	for i, it := range items {
		ids[i] = store.NewPublicID(store.PrefixMessage)
		index[ids[i]] = i
		types[i], statuses[i] = it.Type, it.Status
		if types[i] == "" {
			types[i] = "message"
		}
		if statuses[i] == "" {
			statuses[i] = store.ItemStatusCompleted
		}
		roles[i] = it.Role
		content := it.Content
		if content == nil {
			content = []store.ContentPart{} // nil would be stored as JSON null
		}
		b, err := json.Marshal(content)
		if err != nil {
			return nil, fmt.Errorf("appending items: encoding content: %w", err)
		}
		contents[i] = string(b)
	}
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	// clock_timestamp(), not now(): an append that waited for the lock
	// must not get an earlier time than the one it waited for.
	rows, err := s.pool.Query(qctx, `
WITH c AS (
	UPDATE conversations SET next_position = next_position + $3, updated_at = clock_timestamp()
	WHERE user_id = $1 AND public_id = $2
	RETURNING id, next_position - $3 AS first, updated_at
)
INSERT INTO conversation_items AS i (public_id, conversation_id, user_id, position, type, role, status, content, created_at)
SELECT x.public_id, c.id, $1, c.first + x.ord - 1, x.type, x.role, x.status, x.content::jsonb, c.updated_at
FROM c, unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY
	AS x(public_id, type, role, status, content, ord)
RETURNING `+itemColumns, userID, convPublicID, n, ids, types, roles, statuses, contents)
	if err != nil {
		return nil, s.mapErr(ctx, "appending items", err)
	}
	got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Item, error) { return scanItem(row) })
	if err != nil {
		return nil, s.mapErr(ctx, "appending items", err)
	}
	if len(got) == 0 { // no such conversation of this user
		return nil, s.mapErr(ctx, "appending items", store.ErrNotFound)
	}
	added := make([]store.Item, n)
	for _, it := range got {
		added[index[it.PublicID]] = it
	}
	return added, nil
}

// appendNothing checks that the conversation is the user's and moves its
// UpdatedAt, as an append does.
func (s *Store) appendNothing(ctx context.Context, userID int64, convPublicID string) ([]store.Item, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var id int64
	err := s.pool.QueryRow(qctx, `
UPDATE conversations SET updated_at = clock_timestamp()
WHERE user_id = $1 AND public_id = $2 RETURNING id`, userID, convPublicID).Scan(&id)
	if err != nil {
		return nil, s.mapErr(ctx, "appending items", err)
	}
	return []store.Item{}, nil
}

// ListItems implements store.ConversationStore. Items are ordered by
// position, the order of their appends.
func (s *Store) ListItems(ctx context.Context, userID int64, convPublicID string, opts store.ListOptions) (store.Page[store.Item], error) {
	db := s.reader(userID) // the replica unless this user just wrote
	const op = "listing items"
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var (
		convID   int64
		position *int64
	)
	err := db.QueryRow(qctx, `
SELECT c.id, COALESCE(i.position, t.sort_key) FROM conversations c
LEFT JOIN conversation_items i ON i.conversation_id = c.id AND i.public_id = $3
LEFT JOIN list_tombstones t ON t.parent_id = c.id AND t.public_id = $3
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
	rows, err := db.Query(qctx, query, args...)
	if err != nil {
		return store.Page[store.Item]{}, s.mapErr(ctx, op, err)
	}
	page, err := collectPage(rows, opts, scanItem, (*store.Item).Size)
	if err != nil {
		return store.Page[store.Item]{}, s.mapErr(ctx, op, err)
	}
	return page, nil
}

// GetItem implements store.ConversationStore.
func (s *Store) GetItem(ctx context.Context, userID int64, convPublicID, itemPublicID string) (store.Item, error) {
	db := s.reader(userID) // the replica unless this user just wrote
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	it, err := scanItem(db.QueryRow(qctx, `
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
	defer s.wrote(userID) // read your writes: see replica
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	// The tombstone keeps the item's place for cursors naming it.
	tag, err := s.pool.Exec(qctx, `
WITH gone AS (
	DELETE FROM conversation_items i USING conversations c
	WHERE c.id = i.conversation_id AND c.user_id = $1 AND c.public_id = $2 AND i.public_id = $3
	RETURNING i.public_id, c.user_id, c.id AS conversation_id, i.created_at, i.position
), pruned AS (
	DELETE FROM list_tombstones WHERE user_id = $1 AND deleted_at < now() - $4::interval
)
INSERT INTO list_tombstones (public_id, user_id, parent_id, created_at, sort_key)
SELECT public_id, user_id, conversation_id, created_at, position FROM gone`,
		userID, convPublicID, itemPublicID, store.TombstoneRetention)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	return s.mapErr(ctx, "deleting item", err)
}
