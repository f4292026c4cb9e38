-- +goose Up
-- Memory items (store.MemoryStore): what the gateway remembers of a user,
-- with the embedding retrieval compares in Go (exact cosine over the user's
-- items, which are capped per user: no vector index is needed, and none is
-- available without pgvector). Project and conversation are plain public
-- ids: deleting them keeps what was learnt; the user forgets through the
-- memory API, and everything goes with the user.
CREATE TABLE memory_items (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	public_id text NOT NULL UNIQUE,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind text NOT NULL CHECK (kind IN ('user', 'project', 'episodic')),
	text text NOT NULL,
	project_public_id text NOT NULL DEFAULT '',
	conversation_public_id text NOT NULL DEFAULT '',
	source text NOT NULL CHECK (source IN ('observed', 'manual')),
	embedding real[],
	embedding_model text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
-- Listings (keyset on created_at, id) and the per-user reads of retrieval.
CREATE INDEX memory_items_user_created_idx ON memory_items (user_id, created_at, id);

-- +goose Down
DROP TABLE memory_items;
