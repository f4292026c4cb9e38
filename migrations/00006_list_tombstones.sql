-- +goose Up
-- Where deleted conversations and items stood in their listings, so that a
-- pagination cursor naming one continues the listing instead of failing
-- (projects are soft-deleted and keep their place themselves). The deletes
-- of a user prune that user's tombstones older than a day
-- (store.TombstoneRetention).
CREATE TABLE list_tombstones (
    public_id  text        PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the conversation of a deleted item; NULL for a conversation
    parent_id  bigint,
    created_at timestamptz NOT NULL,
    -- the conversation's id, or the item's position: its place in the listing
    sort_key   bigint      NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX list_tombstones_user_idx ON list_tombstones (user_id, deleted_at);

-- +goose Down
DROP TABLE list_tombstones;
