-- +goose Up
-- One row per model request (store.UsageRecord). The writer inserts them in
-- batches; id makes a retried batch count once. api_key_id is NULL for
-- requests made without a key.
CREATE TABLE usage_records (
    id                 text        PRIMARY KEY,
    request_id         text        NOT NULL DEFAULT '',
    user_id            bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    api_key_id         bigint      REFERENCES api_keys (id) ON DELETE CASCADE,
    model              text        NOT NULL,
    provider           text        NOT NULL DEFAULT '',
    prompt_tokens      bigint      NOT NULL DEFAULT 0,
    completion_tokens  bigint      NOT NULL DEFAULT 0,
    cost_nanos         bigint      NOT NULL DEFAULT 0,
    estimated          boolean     NOT NULL DEFAULT false,
    stream             boolean     NOT NULL DEFAULT false,
    incomplete         boolean     NOT NULL DEFAULT false,
    status             integer     NOT NULL DEFAULT 0,
    error_code         text        NOT NULL DEFAULT '',
    ttft_us            bigint      NOT NULL DEFAULT 0,
    duration_us        bigint      NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL
);
CREATE INDEX usage_records_user_idx ON usage_records (user_id, created_at);
-- Retention deletes the oldest records first.
CREATE INDEX usage_records_created_idx ON usage_records (created_at);

-- Hourly aggregates per user, key and model, kept by the same statement that
-- inserts the records; the usage API reads only these. api_key_id is 0 for
-- requests made without a key (a NULL would not be unique).
CREATE TABLE usage_hourly (
    user_id           bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    api_key_id        bigint      NOT NULL DEFAULT 0,
    model             text        NOT NULL,
    hour              timestamptz NOT NULL,
    prompt_tokens     bigint      NOT NULL DEFAULT 0,
    completion_tokens bigint      NOT NULL DEFAULT 0,
    requests          bigint      NOT NULL DEFAULT 0,
    cost_nanos        bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, hour, api_key_id, model)
);
CREATE INDEX usage_hourly_hour_idx ON usage_hourly (hour);

-- Limits set on a user (api_key_id 0) or on one of its keys, beyond the
-- Caddyfile's defaults (store.UsageLimits, as JSON).
CREATE TABLE usage_limits (
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    api_key_id bigint      NOT NULL DEFAULT 0,
    limits     jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, api_key_id)
);

-- +goose Down
DROP TABLE usage_limits;
DROP TABLE usage_hourly;
DROP TABLE usage_records;
