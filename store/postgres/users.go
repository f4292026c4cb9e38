package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

const userColumns = `id, public_id, issuer, subject, kind, username, email, name, created_at, updated_at`

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	err := row.Scan(&u.ID, &u.PublicID, &u.Issuer, &u.Subject, &u.Kind, &u.Username, &u.Email, &u.Name, &u.CreatedAt, &u.UpdatedAt)
	return u, err
}

// UpsertUser implements store.UserStore. A user who exists and whose details
// did not change is only read: sign-ins are frequent, changes are rare.
func (s *Store) UpsertUser(ctx context.Context, u store.User) (store.User, error) {
	const op = "upserting user"
	if u.Kind != "" && u.Kind != store.UserKindUser && u.Kind != store.UserKindGuest {
		return store.User{}, fmt.Errorf("%s: invalid kind %q", op, u.Kind)
	}
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()

	cur, err := scanUser(s.pool.QueryRow(qctx,
		`SELECT `+userColumns+` FROM users WHERE issuer = $1 AND subject = $2`, u.Issuer, u.Subject))
	switch {
	case err == nil && !userChanges(cur, u):
		return cur, nil
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return store.User{}, s.mapErr(ctx, op, err)
	}

	insertKind := u.Kind
	if insertKind == "" {
		insertKind = store.UserKindUser
	}
	// Concurrent first sign-ins of one identity meet in ON CONFLICT: one
	// inserts, the others update that row.
	got, err := scanUser(s.pool.QueryRow(qctx, `
INSERT INTO users AS u (public_id, issuer, subject, kind, username, email, name)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (issuer, subject) DO UPDATE SET
	kind     = CASE WHEN $8 <> '' THEN $8 ELSE u.kind END,
	username = CASE WHEN $5 <> '' THEN $5 ELSE u.username END,
	email    = CASE WHEN $6 <> '' THEN $6 ELSE u.email END,
	name     = CASE WHEN $7 <> '' THEN $7 ELSE u.name END,
	updated_at = CASE
		WHEN ($8 <> '' AND $8 <> u.kind) OR ($5 <> '' AND $5 <> u.username)
			OR ($6 <> '' AND $6 <> u.email) OR ($7 <> '' AND $7 <> u.name)
		THEN now() ELSE u.updated_at END
RETURNING `+userColumns,
		store.NewPublicID(store.PrefixUser), u.Issuer, u.Subject, insertKind, u.Username, u.Email, u.Name, u.Kind))
	if err != nil {
		return store.User{}, s.mapErr(ctx, op, err)
	}
	return got, nil
}

// userChanges reports whether upserting in would change the stored user.
func userChanges(cur, in store.User) bool {
	differs := func(stored, v string) bool { return v != "" && v != stored }
	return differs(cur.Kind, in.Kind) || differs(cur.Username, in.Username) ||
		differs(cur.Email, in.Email) || differs(cur.Name, in.Name)
}

// GetUser implements store.UserStore.
func (s *Store) GetUser(ctx context.Context, id int64) (store.User, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(qctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return store.User{}, s.mapErr(ctx, "getting user", err)
	}
	return u, nil
}

// GetUserByPublicID implements store.UserStore.
func (s *Store) GetUserByPublicID(ctx context.Context, publicID string) (store.User, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(qctx, `SELECT `+userColumns+` FROM users WHERE public_id = $1`, publicID))
	if err != nil {
		return store.User{}, s.mapErr(ctx, "getting user", err)
	}
	return u, nil
}
