-- +goose Up
-- The retention job (store.RetentionStore.Purge) finds expired refresh
-- tokens and old guests through these instead of scanning the tables.
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
CREATE INDEX users_guests_created_idx ON users (created_at) WHERE kind = 'guest';
-- The newest token of a guest decides whether it is idle.
CREATE INDEX refresh_tokens_user_created_idx ON refresh_tokens (user_id, created_at);

-- +goose Down
DROP INDEX refresh_tokens_user_created_idx;
DROP INDEX users_guests_created_idx;
DROP INDEX refresh_tokens_expires_idx;
