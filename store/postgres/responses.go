package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

// responseColumns reads a response r with its conversation's public id,
// only while that conversation is the response owner's (a guest merge moves
// conversations, not responses).
const responseColumns = `r.id, r.public_id, r.user_id, r.previous_response_id,
	COALESCE((SELECT c.public_id FROM conversations c WHERE c.id = r.conversation_id AND c.user_id = r.user_id), ''),
	r.conversation_item_ids, r.model, r.status, r.body::text, r.input::text, r.created_at`

func scanResponse(row pgx.Row) (store.Response, error) {
	var (
		r           store.Response
		body, input string
	)
	err := row.Scan(&r.ID, &r.PublicID, &r.UserID, &r.PreviousResponseID, &r.ConversationID,
		&r.ConversationItemIDs, &r.Model, &r.Status, &body, &input, &r.CreatedAt)
	r.Body, r.Input = []byte(body), []byte(input)
	if r.ConversationItemIDs == nil {
		r.ConversationItemIDs = []string{}
	}
	return r, err
}

// CreateResponse implements store.ResponseStore.
func (s *Store) CreateResponse(ctx context.Context, r store.Response) (store.Response, error) {
	defer s.wrote(r.UserID) // read your writes: see replica
	if r.PublicID == "" {
		r.PublicID = store.NewPublicID(store.PrefixResponse)
	}
	if r.ConversationItemIDs == nil {
		r.ConversationItemIDs = []string{}
	}
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	out, err := scanResponse(s.pool.QueryRow(qctx, `
INSERT INTO responses AS r (public_id, user_id, previous_response_id, conversation_id, conversation_item_ids, model, status, body, input)
VALUES ($1, $2, $3, (SELECT id FROM conversations WHERE user_id = $2 AND public_id = $4), $5, $6, $7, $8::json, $9::json)
RETURNING `+responseColumns,
		r.PublicID, r.UserID, r.PreviousResponseID, r.ConversationID, r.ConversationItemIDs,
		r.Model, r.Status, string(r.Body), string(r.Input)))
	if err != nil {
		return store.Response{}, s.mapErr(ctx, "creating response", err)
	}
	return out, nil
}

// GetResponse implements store.ResponseStore.
func (s *Store) GetResponse(ctx context.Context, userID int64, publicID string) (store.Response, error) {
	db := s.reader(userID) // the replica unless this user just wrote
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	r, err := scanResponse(db.QueryRow(qctx, `
SELECT `+responseColumns+` FROM responses r WHERE r.user_id = $1 AND r.public_id = $2`, userID, publicID))
	if err != nil {
		return store.Response{}, s.mapErr(ctx, "getting response", err)
	}
	return r, nil
}

// ResponseChain implements store.ResponseStore: one recursive query walks
// previous_response_id back from the response, within the user's rows,
// adding up the sizes of what it passes so that only the rows returned are
// read out.
func (s *Store) ResponseChain(ctx context.Context, userID int64, publicID string, max, maxBytes int) ([]store.Response, error) {
	const op = "reading a response chain"
	db := s.reader(userID)
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := db.Query(qctx, `
WITH RECURSIVE chain (id, prev, depth, total) AS (
	SELECT id, previous_response_id, 1, octet_length(body::text)::bigint + octet_length(input::text)
	FROM responses WHERE user_id = $1 AND public_id = $2
	UNION ALL
	SELECT p.id, p.previous_response_id, chain.depth + 1,
		chain.total + octet_length(p.body::text) + octet_length(p.input::text)
	FROM chain JOIN responses p ON p.user_id = $1 AND p.public_id = chain.prev
	WHERE chain.prev <> '' AND chain.depth < $3 AND chain.total <= $4
)
SELECT `+responseColumns+` FROM chain JOIN responses r ON r.id = chain.id
WHERE chain.depth = 1 OR chain.total <= $4
ORDER BY chain.depth DESC`,
		userID, publicID, max, maxBytes)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	chain, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Response, error) { return scanResponse(row) })
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	if len(chain) == 0 {
		return nil, s.mapErr(ctx, op, pgx.ErrNoRows)
	}
	return chain, nil
}

// DeleteResponse implements store.ResponseStore.
func (s *Store) DeleteResponse(ctx context.Context, userID int64, publicID string) error {
	defer s.wrote(userID)
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(qctx, `DELETE FROM responses WHERE user_id = $1 AND public_id = $2`, userID, publicID)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return s.mapErr(ctx, "deleting response", err)
}

// PurgeResponses implements store.ResponseStore, in batches under the
// retention lock (see Purge): a replica that finds it taken stops.
func (s *Store) PurgeResponses(ctx context.Context, createdBefore time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = defaultPurgeBatch
	}
	var total int64
	for {
		n, locked, err := s.purgeBatch(ctx, `
DELETE FROM responses WHERE id IN (
	SELECT id FROM responses WHERE created_at < $1 LIMIT $2)`, createdBefore, batch)
		if err != nil {
			return total, s.mapErr(ctx, "purging responses", err)
		}
		total += n
		if !locked || n < int64(batch) {
			return total, nil
		}
	}
}
