package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

// StartTurn implements store.TurnStore: one batch, so one round trip and one
// (implicit) transaction, hence one commit, where a turn took up to five
// queries, each its own commit: the append, the title and the touch of the
// conversation are one statement, and the reads of the conversation, its
// project's instruction and the user's settings follow it in the same
// batch, seeing its writes. The commit does not wait for the disk (see
// below), so a persisted turn waits for one WAL flush, its reply's.
func (s *Store) StartTurn(ctx context.Context, userID int64, convPublicID string, t store.TurnStart) (store.TurnContext, error) {
	const op = "starting a turn"
	var tc store.TurnContext
	write := t.Write && (t.User != nil || t.Title != "")
	db := s.reader(userID) // the replica unless this user just wrote
	batch := &pgx.Batch{}
	if write {
		// This commit need not wait for the disk: the turn's reply is
		// committed the usual way a moment later, and makes this one
		// durable with it (the WAL is flushed in order). A crash of
		// PostgreSQL in between can lose the user message of a turn
		// that has no reply stored either; a turn whose upstream fails
		// has its message flushed within wal_writer_delay. The setting
		// ends with the batch's transaction.
		batch.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
	}
	switch {
	case write && t.User != nil:
		defer s.wrote(userID) // read your writes: see replica
		db = s.pool
		it := *t.User
		if it.Type == "" {
			it.Type = "message"
		}
		if it.Status == "" {
			it.Status = store.ItemStatusCompleted
		}
		if it.Content == nil {
			it.Content = []store.ContentPart{} // nil would be stored as JSON null
		}
		content, err := json.Marshal(it.Content)
		if err != nil {
			return tc, fmt.Errorf("%s: encoding content: %w", op, err)
		}
		// As AppendItems, with the title of SetConversationTitleIfEmpty.
		// The insert runs although the query does not read it.
		batch.Queue(`
WITH c AS (
	UPDATE conversations AS c SET
		next_position = c.next_position + 1,
		title = CASE WHEN c.title = '' THEN $3 ELSE c.title END,
		updated_at = clock_timestamp()
	WHERE c.user_id = $1 AND c.public_id = $2
	RETURNING c.*
), i AS (
	INSERT INTO conversation_items (public_id, conversation_id, user_id, position, type, role, status, content, created_at)
	SELECT $4, c.id, $1, c.next_position - 1, $5, $6, $7, $8::jsonb, c.updated_at FROM c
)
SELECT `+conversationColumns+` FROM c`,
			userID, convPublicID, t.Title, store.NewPublicID(store.PrefixMessage), it.Type, it.Role, it.Status, string(content)).
			QueryRow(func(row pgx.Row) error { return scanInto(row, &tc.Conversation) })
	case write:
		defer s.wrote(userID)
		db = s.pool
		batch.Queue(`
UPDATE conversations AS c SET
	title      = CASE WHEN c.title = '' THEN $3 ELSE c.title END,
	updated_at = CASE WHEN c.title = '' THEN now() ELSE c.updated_at END
WHERE c.user_id = $1 AND c.public_id = $2
RETURNING `+conversationColumns, userID, convPublicID, t.Title).
			QueryRow(func(row pgx.Row) error { return scanInto(row, &tc.Conversation) })
	default:
		batch.Queue(`
SELECT `+conversationColumns+` FROM conversations c
WHERE c.user_id = $1 AND c.public_id = $2`, userID, convPublicID).
			QueryRow(func(row pgx.Row) error { return scanInto(row, &tc.Conversation) })
	}
	batch.Queue(`
SELECT p.instruction FROM conversations c JOIN projects p ON p.id = c.project_id AND p.deleted_at IS NULL
WHERE c.user_id = $1 AND c.public_id = $2`, userID, convPublicID).
		QueryRow(func(row pgx.Row) error {
			err := row.Scan(&tc.Instruction)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // no project, or a deleted one: no instruction
			}
			return err
		})
	batch.Queue(`SELECT `+settingsColumns+` FROM user_settings WHERE user_id = $1`, userID).
		QueryRow(func(row pgx.Row) error {
			us, err := scanSettings(row)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			tc.Settings, tc.HasSettings = us, err == nil
			return err
		})

	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if err := db.SendBatch(qctx, batch).Close(); err != nil {
		return store.TurnContext{}, s.mapErr(ctx, op, err)
	}
	if tc.Conversation.Metadata == nil {
		tc.Conversation.Metadata = map[string]string{}
	}
	return tc, nil
}

// scanInto scans a row of conversationColumns into c.
func scanInto(row pgx.Row, c *store.Conversation) error {
	var err error
	*c, err = scanConversation(row)
	return err
}
