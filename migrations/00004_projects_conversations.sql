-- +goose Up
-- Projects group conversations. Deleting one is a soft delete (deleted_at).
-- Names are unique per user among projects that are not deleted, compared
-- case-insensitively: "Work" and "work" would look like the same project in a
-- client's list, so the second is a conflict. The name as typed is kept.
CREATE TABLE projects (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id   text        NOT NULL UNIQUE,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    instruction text        NOT NULL DEFAULT '',
    is_favorite boolean     NOT NULL DEFAULT false,
    archived_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);
CREATE UNIQUE INDEX projects_user_name_key ON projects (user_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX projects_user_created_idx ON projects (user_id, created_at, id) WHERE deleted_at IS NULL;

-- Conversations. next_position is the counter AppendItems advances while it
-- holds the row lock, so concurrent appends get distinct, ordered positions.
CREATE TABLE conversations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id     text        NOT NULL UNIQUE,
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id    bigint      REFERENCES projects (id) ON DELETE SET NULL,
    title         text        NOT NULL DEFAULT '',
    archived      boolean     NOT NULL DEFAULT false,
    metadata      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    next_position bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_user_created_idx ON conversations (user_id, created_at, id);
CREATE INDEX conversations_project_idx ON conversations (project_id) WHERE project_id IS NOT NULL;

-- Items of a conversation, listed by position (the order of appends).
CREATE TABLE conversation_items (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id       text        NOT NULL UNIQUE,
    conversation_id bigint      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position        bigint      NOT NULL,
    type            text        NOT NULL DEFAULT 'message',
    role            text        NOT NULL DEFAULT '',
    status          text        NOT NULL DEFAULT 'completed',
    content         jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT conversation_items_position_key UNIQUE (conversation_id, position)
);
CREATE INDEX conversation_items_user_idx ON conversation_items (user_id, created_at, id);

-- +goose Down
DROP TABLE conversation_items;
DROP TABLE conversations;
DROP TABLE projects;
