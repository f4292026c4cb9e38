package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

// conversationColumns reads a conversation c with its project's public id.
// Soft-deleting a project detaches its conversations, so a linked project is
// never a deleted one.
const conversationColumns = `c.id, c.public_id, c.user_id,
	COALESCE((SELECT p.public_id FROM projects p WHERE p.id = c.project_id), ''),
	c.title, c.archived, c.metadata, c.created_at, c.updated_at`

func scanConversation(row pgx.Row) (store.Conversation, error) {
	var c store.Conversation
	err := row.Scan(&c.ID, &c.PublicID, &c.UserID, &c.ProjectPublicID, &c.Title, &c.Archived, &c.Metadata, &c.CreatedAt, &c.UpdatedAt)
	if c.Metadata == nil {
		c.Metadata = map[string]string{}
	}
	return c, err
}

// lockProject returns the internal id of the user's live project and holds a
// share lock on it until the transaction ends, so that it cannot be deleted
// (and its conversations detached) before the new link is committed.
func lockProject(ctx context.Context, tx pgx.Tx, userID int64, publicID string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `
SELECT id FROM projects WHERE user_id = $1 AND public_id = $2 AND deleted_at IS NULL
FOR SHARE`, userID, publicID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("project: %w", store.ErrNotFound)
	}
	return id, err
}

// CreateConversation implements store.ConversationStore.
func (s *Store) CreateConversation(ctx context.Context, c store.Conversation, items []store.Item) (store.Conversation, []store.Item, error) {
	defer s.wrote(c.UserID) // read your writes: see replica
	if c.PublicID == "" {
		c.PublicID = store.NewPublicID(store.PrefixConversation)
	}
	if c.Metadata == nil {
		c.Metadata = map[string]string{} // nil would be stored as JSON null
	}
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var (
		created store.Conversation
		added   []store.Item
	)
	err := pgx.BeginFunc(qctx, s.pool, func(tx pgx.Tx) error {
		var projectID *int64
		if c.ProjectPublicID != "" {
			id, err := lockProject(qctx, tx, c.UserID, c.ProjectPublicID)
			if err != nil {
				return err
			}
			projectID = &id
		}
		var err error
		created, err = scanConversation(tx.QueryRow(qctx, `
INSERT INTO conversations AS c (public_id, user_id, project_id, title, archived, metadata, next_position)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING `+conversationColumns,
			c.PublicID, c.UserID, projectID, c.Title, c.Archived, c.Metadata, len(items)))
		if err != nil {
			return err
		}
		added, err = insertItems(qctx, tx, created.ID, c.UserID, 0, created.CreatedAt, items)
		return err
	})
	if err != nil {
		return store.Conversation{}, nil, s.mapErr(ctx, "creating conversation", err)
	}
	return created, added, nil
}

// GetConversation implements store.ConversationStore.
func (s *Store) GetConversation(ctx context.Context, userID int64, publicID string) (store.Conversation, error) {
	db := s.reader(userID) // the replica unless this user just wrote
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	c, err := scanConversation(db.QueryRow(qctx, `
SELECT `+conversationColumns+` FROM conversations c
WHERE c.user_id = $1 AND c.public_id = $2`, userID, publicID))
	if err != nil {
		return store.Conversation{}, s.mapErr(ctx, "getting conversation", err)
	}
	return c, nil
}

// ListConversations implements store.ConversationStore.
func (s *Store) ListConversations(ctx context.Context, userID int64, opts store.ListOptions) (store.Page[store.Conversation], int, error) {
	db := s.reader(userID) // the replica unless this user just wrote
	const op = "listing conversations"
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	after, dir := keyset(opts)
	query := `SELECT ` + conversationColumns + ` FROM conversations c WHERE c.user_id = $1`
	args := []any{userID, limitArg(opts)}
	if opts.After != "" {
		var (
			createdAt time.Time
			id        int64
		)
		// A conversation deleted since still marks its place.
		err := db.QueryRow(qctx, `
SELECT created_at, id FROM conversations WHERE user_id = $1 AND public_id = $2
UNION ALL
SELECT created_at, sort_key FROM list_tombstones WHERE user_id = $1 AND public_id = $2 AND parent_id IS NULL
LIMIT 1`, userID, opts.After).Scan(&createdAt, &id)
		if errors.Is(err, pgx.ErrNoRows) {
			err = store.ErrInvalidCursor
		}
		if err != nil {
			return store.Page[store.Conversation]{}, 0, s.mapErr(ctx, op, err)
		}
		query += ` AND (c.created_at, c.id) ` + after + ` ($3, $4)`
		args = append(args, createdAt, id)
	}
	query += ` ORDER BY c.created_at ` + dir + `, c.id ` + dir + ` LIMIT $2`
	rows, err := db.Query(qctx, query, args...)
	if err != nil {
		return store.Page[store.Conversation]{}, 0, s.mapErr(ctx, op, err)
	}
	page, err := collectPage(rows, opts, scanConversation, (*store.Conversation).Size)
	if err != nil {
		return store.Page[store.Conversation]{}, 0, s.mapErr(ctx, op, err)
	}
	var total int
	if err := db.QueryRow(qctx, `SELECT count(*) FROM conversations WHERE user_id = $1`, userID).Scan(&total); err != nil {
		return store.Page[store.Conversation]{}, 0, s.mapErr(ctx, op, err)
	}
	return page, total, nil
}

// UpdateConversation implements store.ConversationStore.
func (s *Store) UpdateConversation(ctx context.Context, userID int64, publicID string, patch store.ConversationPatch, now time.Time) (store.Conversation, error) {
	defer s.wrote(userID) // read your writes: see replica
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var metadata any // NULL keeps the stored metadata
	if patch.Metadata != nil {
		metadata = patch.Metadata
	}
	var updated store.Conversation
	err := pgx.BeginFunc(qctx, s.pool, func(tx pgx.Tx) error {
		var (
			setProject bool
			projectID  *int64
		)
		if patch.ProjectPublicID != nil {
			setProject = true
			if *patch.ProjectPublicID != "" {
				id, err := lockProject(qctx, tx, userID, *patch.ProjectPublicID)
				if err != nil {
					return err
				}
				projectID = &id
			}
		}
		var err error
		updated, err = scanConversation(tx.QueryRow(qctx, `
UPDATE conversations AS c SET
	title      = COALESCE($3, c.title),
	archived   = COALESCE($4, c.archived),
	metadata   = COALESCE($5, c.metadata),
	project_id = CASE WHEN $6 THEN $7 ELSE c.project_id END,
	updated_at = $8
WHERE c.user_id = $1 AND c.public_id = $2
RETURNING `+conversationColumns,
			userID, publicID, patch.Title, patch.Archived, metadata, setProject, projectID, now))
		return err
	})
	if err != nil {
		return store.Conversation{}, s.mapErr(ctx, "updating conversation", err)
	}
	return updated, nil
}

// DeleteConversation implements store.ConversationStore. Its items go with
// it (ON DELETE CASCADE).
func (s *Store) DeleteConversation(ctx context.Context, userID int64, publicID string) error {
	defer s.wrote(userID) // read your writes: see replica
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	// The tombstone keeps the conversation's place for cursors naming it.
	tag, err := s.pool.Exec(qctx, `
WITH gone AS (
	DELETE FROM conversations WHERE user_id = $1 AND public_id = $2
	RETURNING public_id, user_id, created_at, id
), pruned AS (
	DELETE FROM list_tombstones WHERE user_id = $1 AND deleted_at < now() - $3::interval
)
INSERT INTO list_tombstones (public_id, user_id, created_at, sort_key)
SELECT public_id, user_id, created_at, id FROM gone`, userID, publicID, store.TombstoneRetention)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	return s.mapErr(ctx, "deleting conversation", err)
}

// SetConversationTitleIfEmpty implements store.ConversationStore.
func (s *Store) SetConversationTitleIfEmpty(ctx context.Context, userID int64, publicID string, title string) (store.Conversation, error) {
	defer s.wrote(userID) // read your writes: see replica
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	c, err := scanConversation(s.pool.QueryRow(qctx, `
UPDATE conversations AS c SET
	title      = CASE WHEN c.title = '' THEN $3 ELSE c.title END,
	updated_at = CASE WHEN c.title = '' AND $3 <> '' THEN now() ELSE c.updated_at END
WHERE c.user_id = $1 AND c.public_id = $2
RETURNING `+conversationColumns, userID, publicID, title))
	if err != nil {
		return store.Conversation{}, s.mapErr(ctx, "setting conversation title", err)
	}
	return c, nil
}
