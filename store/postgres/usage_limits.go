package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/caddy-llm/gateway/store"
)

// GetUsageLimits implements store.UsageLimitStore.
func (s *Store) GetUsageLimits(ctx context.Context, userID, apiKeyID int64) (store.UsageLimits, error) {
	const op = "getting usage limits"
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var raw []byte
	if err := s.pool.QueryRow(qctx, `SELECT limits FROM usage_limits WHERE user_id = $1 AND api_key_id = $2`,
		userID, apiKeyID).Scan(&raw); err != nil {
		return store.UsageLimits{}, s.mapErr(ctx, op, err)
	}
	var l store.UsageLimits
	if err := json.Unmarshal(raw, &l); err != nil {
		return store.UsageLimits{}, fmt.Errorf("%s: %w", op, err)
	}
	return l, nil
}

// PutUsageLimits implements store.UsageLimitStore. The key must be the
// user's: the insert selects it from the user's keys.
func (s *Store) PutUsageLimits(ctx context.Context, userID, apiKeyID int64, l store.UsageLimits) error {
	const op = "setting usage limits"
	raw, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(qctx, `
INSERT INTO usage_limits (user_id, api_key_id, limits)
SELECT u.id, $2::bigint, $3 FROM users u
WHERE u.id = $1 AND ($2::bigint = 0 OR EXISTS (SELECT 1 FROM api_keys k WHERE k.id = $2::bigint AND k.user_id = $1))
ON CONFLICT (user_id, api_key_id) DO UPDATE SET limits = EXCLUDED.limits, updated_at = now()`,
		userID, apiKeyID, raw)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	return nil
}

// DeleteUsageLimits implements store.UsageLimitStore.
func (s *Store) DeleteUsageLimits(ctx context.Context, userID, apiKeyID int64) error {
	const op = "deleting usage limits"
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(qctx, `DELETE FROM usage_limits WHERE user_id = $1 AND api_key_id = $2`, userID, apiKeyID)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	return nil
}
