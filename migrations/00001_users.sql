-- +goose Up
-- One row per person or guest. An external identity (issuer, subject) maps to
-- exactly one user; guests get the gateway's own issuer and a random subject.
CREATE TABLE users (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id  text        NOT NULL UNIQUE,
    issuer     text        NOT NULL,
    subject    text        NOT NULL,
    kind       text        NOT NULL DEFAULT 'user' CHECK (kind IN ('guest', 'user')),
    username   text        NOT NULL DEFAULT '',
    email      text        NOT NULL DEFAULT '',
    name       text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_issuer_subject_key UNIQUE (issuer, subject)
);

-- +goose Down
DROP TABLE users;
