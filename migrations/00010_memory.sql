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

-- Turns waiting to be observed (store.PendingObservation): written when a
-- stored turn finishes, claimed by one replica's worker for a lease, and
-- deleted once observed or given up, so that a restart or reload loses no
-- turn (delivery is at least once). Old rows are purged.
CREATE TABLE memory_pending (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	conversation_public_id text NOT NULL,
	project_public_id text NOT NULL DEFAULT '',
	user_text text NOT NULL,
	assistant_text text NOT NULL,
	attempts integer NOT NULL DEFAULT 0,
	claimed_until timestamptz,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX memory_pending_created_idx ON memory_pending (created_at);
CREATE INDEX memory_pending_user_idx ON memory_pending (user_id);

-- +goose Down
DROP TABLE memory_pending;
DROP TABLE memory_items;
