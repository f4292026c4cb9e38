package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

const refreshTokenColumns = `id, user_id, family_id, hash, created_at, expires_at, used_at, revoked_at`

// familyLockClass is the first key of the transaction-level advisory locks
// that serialise rotation and revocation within one token family (the
// second key is a hash of the family id). Without it a revocation could miss
// the token a concurrent rotation is about to insert.
const familyLockClass = 0x6c6c6d // "llm"

func scanRefreshToken(row pgx.Row) (store.RefreshToken, error) {
	var t store.RefreshToken
	err := row.Scan(&t.ID, &t.UserID, &t.FamilyID, &t.Hash, &t.CreatedAt, &t.ExpiresAt, &t.UsedAt, &t.RevokedAt)
	return t, err
}

// nullTime is NULL for the zero time, so that a column default applies.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// CreateRefreshToken implements store.TokenStore. An empty FamilyID starts a
// new family.
func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) (store.RefreshToken, error) {
	if t.FamilyID == "" {
		t.FamilyID = store.NewPublicID("fam")
	}
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	got, err := insertRefreshToken(qctx, s.pool, t, nil)
	if err != nil {
		return store.RefreshToken{}, s.mapErr(ctx, "creating refresh token", err)
	}
	return got, nil
}

// insertRefreshToken inserts t; its CreatedAt, else createdAt, else the
// transaction's time, is the creation time.
func insertRefreshToken(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, t store.RefreshToken, createdAt any) (store.RefreshToken, error) {
	return scanRefreshToken(q.QueryRow(ctx, `
INSERT INTO refresh_tokens (user_id, family_id, hash, created_at, expires_at)
VALUES ($1, $2, $3, COALESCE($4, $5, now()), $6)
RETURNING `+refreshTokenColumns,
		t.UserID, t.FamilyID, t.Hash, nullTime(t.CreatedAt), createdAt, t.ExpiresAt))
}

// lockFamily finds the family of the token with hash and takes its advisory
// lock for the rest of the transaction.
func lockFamily(ctx context.Context, tx pgx.Tx, hash []byte) (string, error) {
	var family string
	if err := tx.QueryRow(ctx, `SELECT family_id FROM refresh_tokens WHERE hash = $1`, hash).Scan(&family); err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, familyLockClass, family); err != nil {
		return "", err
	}
	return family, nil
}

// RotateRefreshToken implements store.TokenStore.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken, now time.Time) (store.RefreshToken, error) {
	const op = "rotating refresh token"
	now = now.Truncate(time.Microsecond) // as stored, so the expiry check matches the memory store's
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var (
		rotated store.RefreshToken
		reused  bool
	)
	err := pgx.BeginFunc(qctx, s.pool, func(tx pgx.Tx) error {
		family, err := lockFamily(qctx, tx, oldHash)
		if err != nil {
			return err
		}
		old, err := scanRefreshToken(tx.QueryRow(qctx,
			`SELECT `+refreshTokenColumns+` FROM refresh_tokens WHERE hash = $1 FOR UPDATE`, oldHash))
		if err != nil {
			return err
		}
		if old.UsedAt != nil || old.RevokedAt != nil {
			// Someone holds a token that was already exchanged: either it
			// was stolen or the legitimate client lost the race. Revoke
			// the whole family, and commit that.
			reused = true
			_, err := tx.Exec(qctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`, family, now)
			return err
		}
		if !now.Before(old.ExpiresAt) {
			return store.ErrExpired
		}
		if _, err := tx.Exec(qctx, `UPDATE refresh_tokens SET used_at = $2 WHERE id = $1`, old.ID, now); err != nil {
			return err
		}
		next.UserID, next.FamilyID = old.UserID, old.FamilyID
		rotated, err = insertRefreshToken(qctx, tx, next, now)
		return err
	})
	switch {
	case err != nil:
		return store.RefreshToken{}, s.mapErr(ctx, op, err)
	case reused:
		return store.RefreshToken{}, fmt.Errorf("%s: %w", op, store.ErrTokenReused)
	}
	return rotated, nil
}

// RevokeRefreshFamily implements store.TokenStore.
func (s *Store) RevokeRefreshFamily(ctx context.Context, hash []byte, now time.Time) error {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	err := pgx.BeginFunc(qctx, s.pool, func(tx pgx.Tx) error {
		family, err := lockFamily(qctx, tx, hash)
		if err != nil {
			return err
		}
		_, err = tx.Exec(qctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`, family, now)
		return err
	})
	return s.mapErr(ctx, "revoking refresh token family", err)
}

// ListSigningKeys implements store.TokenStore.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(qctx,
		`SELECT kid, algorithm, private_key, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid DESC`)
	if err != nil {
		return nil, s.mapErr(ctx, "listing signing keys", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.SigningKey, error) {
		var k store.SigningKey
		err := row.Scan(&k.KID, &k.Algorithm, &k.PrivateKey, &k.CreatedAt, &k.RetiredAt)
		return k, err
	})
	if err != nil {
		return nil, s.mapErr(ctx, "listing signing keys", err)
	}
	return keys, nil
}

// CreateSigningKey implements store.TokenStore.
func (s *Store) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	_, err := s.pool.Exec(qctx, `
INSERT INTO signing_keys (kid, algorithm, private_key, created_at, retired_at)
VALUES ($1, $2, $3, COALESCE($4, now()), $5)`,
		k.KID, k.Algorithm, k.PrivateKey, nullTime(k.CreatedAt), k.RetiredAt)
	return s.mapErr(ctx, "creating signing key", err)
}

// RetireSigningKey implements store.TokenStore. Retiring a retired key keeps
// its first retirement time.
func (s *Store) RetireSigningKey(ctx context.Context, kid string, at time.Time) error {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(qctx, `UPDATE signing_keys SET retired_at = COALESCE(retired_at, $2) WHERE kid = $1`, kid, at)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	return s.mapErr(ctx, "retiring signing key", err)
}
