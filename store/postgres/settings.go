package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

const settingsColumns = `id, user_id, memory_config, profile_settings, advanced_settings, enable_trace, enable_tools, preferences, created_at, updated_at`

func scanSettings(row pgx.Row) (store.UserSettings, error) {
	var us store.UserSettings
	err := row.Scan(&us.ID, &us.UserID, &us.MemoryConfig, &us.ProfileSettings, &us.AdvancedSettings,
		&us.EnableTrace, &us.EnableTools, &us.Preferences, &us.CreatedAt, &us.UpdatedAt)
	if us.Preferences == nil {
		us.Preferences = map[string]any{}
	}
	return us, err
}

// settingsArgs are the stored columns of us, in the order of $2…$7.
func settingsArgs(us *store.UserSettings) []any {
	prefs := us.Preferences
	if prefs == nil {
		prefs = map[string]any{} // nil would be stored as JSON null
	}
	return []any{us.MemoryConfig, us.ProfileSettings, us.AdvancedSettings, us.EnableTrace, us.EnableTools, prefs}
}

// GetSettings implements store.SettingsStore.
func (s *Store) GetSettings(ctx context.Context, userID int64) (store.UserSettings, error) {
	db := s.reader(userID) // the replica unless this user just wrote
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	us, err := scanSettings(db.QueryRow(qctx, `SELECT `+settingsColumns+` FROM user_settings WHERE user_id = $1`, userID))
	if err != nil {
		return store.UserSettings{}, s.mapErr(ctx, "getting settings", err)
	}
	return us, nil
}

// UpdateSettings implements store.SettingsStore. It stores the defaults
// first when the user has no row (upsert-then-lock), then reads the row FOR
// UPDATE, so concurrent updates of one user run one after the other, each
// on the result of the previous. An error of apply rolls everything back,
// the defaults included.
func (s *Store) UpdateSettings(ctx context.Context, userID int64, defaults store.UserSettings, apply func(*store.UserSettings) error) (store.UserSettings, error) {
	defer s.wrote(userID) // read your writes: see replica
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var (
		updated  store.UserSettings
		applyErr error
	)
	err := pgx.BeginFunc(qctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(qctx, `
INSERT INTO user_settings (user_id, memory_config, profile_settings, advanced_settings, enable_trace, enable_tools, preferences)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (user_id) DO NOTHING`, append([]any{userID}, settingsArgs(&defaults)...)...)
		if err != nil {
			return err
		}
		cur, err := scanSettings(tx.QueryRow(qctx, `SELECT `+settingsColumns+` FROM user_settings WHERE user_id = $1 FOR UPDATE`, userID))
		if err != nil {
			return err
		}
		if applyErr = apply(&cur); applyErr != nil {
			return applyErr
		}
		updated, err = scanSettings(tx.QueryRow(qctx, `
UPDATE user_settings SET
	memory_config = $2, profile_settings = $3, advanced_settings = $4,
	enable_trace = $5, enable_tools = $6, preferences = $7, updated_at = now()
WHERE user_id = $1
RETURNING `+settingsColumns, append([]any{userID}, settingsArgs(&cur)...)...))
		return err
	})
	if applyErr != nil {
		return store.UserSettings{}, applyErr
	}
	if err != nil {
		return store.UserSettings{}, s.mapErr(ctx, "updating settings", err)
	}
	return updated, nil
}
