-- Server-side sessions and refresh-token families. Cookie sessions are found by the SHA-256 of
-- their token; token sessions (behind API bearer tokens) by ID, from the JWT's sid claim. Only
-- hashes of tokens are stored. A token session's refresh tokens form its family: at most one is
-- unused (current); presenting a used one revokes the session.

-- +goose Up
CREATE TABLE sessions (
    id                  UUID        PRIMARY KEY,
    user_id             UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind                TEXT        NOT NULL CHECK (kind IN ('cookie', 'token')),
    aal                 TEXT        NOT NULL CHECK (aal IN ('aal1', 'aal2')),
    token_hash          TEXT        NOT NULL UNIQUE,
    csrf_token          TEXT        NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    last_seen_at        TIMESTAMPTZ NOT NULL,
    idle_expires_at     TIMESTAMPTZ NOT NULL,
    absolute_expires_at TIMESTAMPTZ NOT NULL,
    revoked_at          TIMESTAMPTZ NULL,
    revoke_reason       TEXT        NOT NULL DEFAULT '',
    ip                  TEXT        NOT NULL DEFAULT '',
    user_agent          TEXT        NOT NULL DEFAULT ''
);
-- A user's sessions, newest first (listing, revoke-all).
CREATE INDEX sessions_user_created ON sessions (user_id, created_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT        PRIMARY KEY,
    session_id UUID        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ NULL
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
