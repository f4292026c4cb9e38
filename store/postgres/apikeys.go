package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

const apiKeyColumns = `k.id, k.public_id, k.user_id, k.name, k.prefix, k.suffix, k.hash, k.created_at, k.expires_at, k.revoked_at, k.last_used_at`

func apiKeyDest(k *store.APIKey) []any {
	return []any{&k.ID, &k.PublicID, &k.UserID, &k.Name, &k.Prefix, &k.Suffix, &k.Hash, &k.CreatedAt, &k.ExpiresAt, &k.RevokedAt, &k.LastUsedAt}
}

// CreateAPIKey implements store.APIKeyStore.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey, maxActive int) (store.APIKey, error) {
	const op = "creating API key"
	if k.PublicID == "" {
		k.PublicID = store.NewPublicID(store.PrefixAPIKey)
	}
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var got store.APIKey
	err := pgx.BeginFunc(qctx, s.pool, func(tx pgx.Tx) error {
		if maxActive > 0 {
			// The user's row lock serialises the creates of one user. The
			// count is a statement of its own, taken after the lock: under
			// READ COMMITTED a statement that waited for the lock still
			// reads with the snapshot from before it waited.
			if _, err := tx.Exec(qctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, k.UserID); err != nil {
				return err
			}
			var active int
			err := tx.QueryRow(qctx, `
SELECT count(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL`, k.UserID).Scan(&active)
			if err != nil {
				return err
			}
			if active >= maxActive {
				return store.ErrLimitReached
			}
		}
		return tx.QueryRow(qctx, `
INSERT INTO api_keys AS k (public_id, user_id, name, prefix, suffix, hash, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING `+apiKeyColumns,
			k.PublicID, k.UserID, k.Name, k.Prefix, k.Suffix, k.Hash, k.ExpiresAt).Scan(apiKeyDest(&got)...)
	})
	if err != nil {
		return store.APIKey{}, s.mapErr(ctx, op, err)
	}
	return got, nil
}

// ListAPIKeys implements store.APIKeyStore.
func (s *Store) ListAPIKeys(ctx context.Context, userID int64) ([]store.APIKey, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(qctx, `
SELECT `+apiKeyColumns+` FROM api_keys k
WHERE k.user_id = $1 AND k.revoked_at IS NULL
ORDER BY k.created_at DESC, k.id DESC`, userID)
	if err != nil {
		return nil, s.mapErr(ctx, "listing API keys", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.APIKey, error) {
		var k store.APIKey
		err := row.Scan(apiKeyDest(&k)...)
		return k, err
	})
	if err != nil {
		return nil, s.mapErr(ctx, "listing API keys", err)
	}
	return keys, nil
}

// RevokeAPIKey implements store.APIKeyStore.
func (s *Store) RevokeAPIKey(ctx context.Context, userID int64, publicID string, at time.Time) error {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(qctx,
		`UPDATE api_keys SET revoked_at = $3 WHERE user_id = $1 AND public_id = $2 AND revoked_at IS NULL`,
		userID, publicID, at)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	return s.mapErr(ctx, "revoking API key", err)
}

// GetAPIKeyByHash implements store.APIKeyStore.
func (s *Store) GetAPIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, store.User, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var (
		k store.APIKey
		u store.User
	)
	dest := append(apiKeyDest(&k),
		&u.ID, &u.PublicID, &u.Issuer, &u.Subject, &u.Kind, &u.Username, &u.Email, &u.Name, &u.CreatedAt, &u.UpdatedAt)
	err := s.pool.QueryRow(qctx, `
SELECT `+apiKeyColumns+`, u.id, u.public_id, u.issuer, u.subject, u.kind, u.username, u.email, u.name, u.created_at, u.updated_at
FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE k.hash = $1`, hash).Scan(dest...)
	if err != nil {
		return store.APIKey{}, store.User{}, s.mapErr(ctx, "getting API key", err)
	}
	return k, u, nil
}

// ListAPIKeysRevokedSince implements store.APIKeyStore.
func (s *Store) ListAPIKeysRevokedSince(ctx context.Context, since time.Time) ([][]byte, error) {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(qctx, `SELECT hash FROM api_keys WHERE revoked_at >= $1`, since)
	if err != nil {
		return nil, s.mapErr(ctx, "listing revoked API keys", err)
	}
	hashes, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, s.mapErr(ctx, "listing revoked API keys", err)
	}
	return hashes, nil
}

// TouchAPIKeys implements store.APIKeyStore in one statement. Unknown ids are
// ignored, and a time older than the stored one leaves it alone.
func (s *Store) TouchAPIKeys(ctx context.Context, lastUsed map[int64]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(lastUsed))
	times := make([]time.Time, 0, len(lastUsed))
	for id, at := range lastUsed {
		ids = append(ids, id)
		times = append(times, at)
	}
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	_, err := s.pool.Exec(qctx, `
UPDATE api_keys AS k SET last_used_at = v.at
FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, at)
WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.at)`, ids, times)
	return s.mapErr(ctx, "recording API key use", err)
}
