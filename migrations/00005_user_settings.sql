-- +goose Up
-- One row per user, created on the first update; reads without a row answer
-- the defaults.
CREATE TABLE user_settings (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           bigint      NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    memory_config     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    profile_settings  jsonb       NOT NULL DEFAULT '{}'::jsonb,
    advanced_settings jsonb       NOT NULL DEFAULT '{}'::jsonb,
    enable_trace      boolean     NOT NULL DEFAULT false,
    enable_tools      boolean     NOT NULL DEFAULT false,
    preferences       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE user_settings;
