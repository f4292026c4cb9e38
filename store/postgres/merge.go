package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

// MergeGuest implements store.UserStore in one transaction. Both user rows
// are locked first (in id order, so two merges never deadlock), which also
// serialises a second merge of the same guest behind the first.
func (s *Store) MergeGuest(ctx context.Context, guestID, userID int64, now time.Time) (store.GuestMerge, error) {
	const op = "merging guest"
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var res store.GuestMerge
	err := pgx.BeginFunc(qctx, s.pool, func(tx pgx.Tx) error {
		res = store.GuestMerge{}
		rows, err := tx.Query(qctx, `SELECT id, kind FROM users WHERE id = ANY($1) ORDER BY id FOR UPDATE`, []int64{guestID, userID})
		if err != nil {
			return err
		}
		kinds := map[int64]string{}
		for rows.Next() {
			var (
				id   int64
				kind string
			)
			if err := rows.Scan(&id, &kind); err != nil {
				rows.Close()
				return err
			}
			kinds[id] = kind
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		gk, gok := kinds[guestID]
		uk, uok := kinds[userID]
		switch {
		case !gok || !uok:
			return store.ErrNotFound
		case gk != store.UserKindGuest || uk != store.UserKindUser:
			return store.ErrConflict
		}

		// Projects: the guest's names that the user already has (among
		// projects that are not deleted) are renamed first.
		taken := map[string]bool{}
		rows, err = tx.Query(qctx, `SELECT lower(name) FROM projects WHERE user_id = $1 AND deleted_at IS NULL`, userID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return err
			}
			taken[name] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		type rename struct {
			id   int64
			name string
		}
		var renames []rename
		rows, err = tx.Query(qctx, `SELECT id, name FROM projects WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`, guestID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				id   int64
				name string
			)
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return err
			}
			if taken[strings.ToLower(name)] {
				for n := 1; ; n++ {
					if cand := store.GuestProjectName(name, n); !taken[strings.ToLower(cand)] {
						name = cand
						break
					}
				}
				renames = append(renames, rename{id, name})
			}
			taken[strings.ToLower(name)] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range renames {
			if _, err := tx.Exec(qctx, `UPDATE projects SET name = $2, updated_at = now() WHERE id = $1`, r.id, r.name); err != nil {
				return err
			}
		}
		res.RenamedProjects = len(renames)
		tag, err := tx.Exec(qctx, `UPDATE projects SET user_id = $2 WHERE user_id = $1`, guestID, userID)
		if err != nil {
			return err
		}
		res.Projects = int(tag.RowsAffected())

		tag, err = tx.Exec(qctx, `UPDATE conversations SET user_id = $2 WHERE user_id = $1`, guestID, userID)
		if err != nil {
			return err
		}
		res.Conversations = int(tag.RowsAffected())
		if _, err := tx.Exec(qctx, `UPDATE conversation_items SET user_id = $2 WHERE user_id = $1`, guestID, userID); err != nil {
			return err
		}
		// Stored responses of the Responses API go with them.
		if _, err := tx.Exec(qctx, `UPDATE responses SET user_id = $2 WHERE user_id = $1`, guestID, userID); err != nil {
			return err
		}

		// Settings: the user's own win.
		tag, err = tx.Exec(qctx, `
UPDATE user_settings SET user_id = $2, updated_at = now()
WHERE user_id = $1 AND NOT EXISTS (SELECT 1 FROM user_settings WHERE user_id = $2)`, guestID, userID)
		if err != nil {
			return err
		}
		res.Settings = tag.RowsAffected() > 0
		if _, err := tx.Exec(qctx, `DELETE FROM user_settings WHERE user_id = $1`, guestID); err != nil {
			return err
		}

		if _, err := tx.Exec(qctx, `UPDATE list_tombstones SET user_id = $2 WHERE user_id = $1`, guestID, userID); err != nil {
			return err
		}
		if err := mergeMemoryItems(qctx, tx, guestID, userID); err != nil { // memory_items.go
			return err
		}

		// The guest's sessions end.
		_, err = tx.Exec(qctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, guestID, now)
		return err
	})
	if err != nil {
		return store.GuestMerge{}, s.mapErr(ctx, op, err)
	}
	return res, nil
}
