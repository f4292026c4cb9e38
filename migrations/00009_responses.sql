-- +goose Up
-- Stored answers of the Responses API (POST /v1/responses with "store").
-- body is the Response object as it was answered and input the request's
-- input items with the ids the gateway gave them; both are json, not jsonb:
-- they are only ever read whole, and json keeps a model's text as it came
-- (jsonb refuses \u0000). previous_response_id chains a response to the one
-- it continues; a response deleted from the middle of a chain ends it there.
-- The conversation a response was recorded into is referenced while it
-- exists, and conversation_item_ids name the items the response appended to
-- it (the items are the conversation's: deleting them leaves the response).
CREATE TABLE responses (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id             text        NOT NULL UNIQUE,
    user_id               bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    previous_response_id  text        NOT NULL DEFAULT '',
    conversation_id       bigint      REFERENCES conversations (id) ON DELETE SET NULL,
    conversation_item_ids text[]      NOT NULL DEFAULT '{}',
    model                 text        NOT NULL,
    status                text        NOT NULL,
    body                  json        NOT NULL,
    input                 json        NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now()
);
-- Deleting a user (a purged guest) or a conversation finds its responses
-- through these, not by scanning the table.
CREATE INDEX responses_user_idx ON responses (user_id);
CREATE INDEX responses_conversation_idx ON responses (conversation_id) WHERE conversation_id IS NOT NULL;
-- The retention job deletes responses older than store.ResponseRetention.
CREATE INDEX responses_created_idx ON responses (created_at);

-- +goose Down
DROP TABLE responses;
