-- The second-factor login flow. mfa_channels holds out-of-band factors (a phone for SMS, an
-- address for email); confirmed_at is NULL until the user typed the code sent there.
-- mfa_codes holds SMS/email one-time codes, only as SHA-256 hashes, bound to what they were
-- sent for (a pending login, a session stepping up, an enrollment), expiring, single-use and
-- counting failed attempts (SEC-21). mfa_pending is a password-verified login waiting for its
-- second factor: a cookie or an mfa_token, hashed, short-lived and single-use (SEC-23).
-- trusted_devices remembers browsers that passed a second factor (SEC-24).

-- +goose Up
CREATE TABLE mfa_channels (
    user_id      UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel      TEXT        NOT NULL CHECK (channel IN ('sms', 'email')),
    address      TEXT        NOT NULL,
    confirmed_at TIMESTAMPTZ NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, channel)
);

CREATE TABLE mfa_codes (
    id         UUID        NOT NULL PRIMARY KEY,
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel    TEXT        NOT NULL,
    binding    TEXT        NOT NULL,
    code_hash  TEXT        NOT NULL,
    attempts   INTEGER     NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ NULL
);
CREATE INDEX mfa_codes_lookup ON mfa_codes (user_id, channel, binding, created_at);

CREATE TABLE mfa_pending (
    id         UUID        NOT NULL PRIMARY KEY,
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT        NOT NULL UNIQUE,
    kind       TEXT        NOT NULL CHECK (kind IN ('cookie', 'token')),
    csrf_token TEXT        NOT NULL,
    failures   INTEGER     NOT NULL DEFAULT 0,
    ip         TEXT        NOT NULL DEFAULT '',
    user_agent TEXT        NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ NULL
);
CREATE INDEX mfa_pending_user ON mfa_pending (user_id);

CREATE TABLE trusted_devices (
    id           UUID        NOT NULL PRIMARY KEY,
    user_id      UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT        NOT NULL UNIQUE,
    name         TEXT        NOT NULL,
    ip           TEXT        NOT NULL DEFAULT '',
    user_agent   TEXT        NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ NULL
);
CREATE INDEX trusted_devices_user ON trusted_devices (user_id, created_at);

-- +goose Down
DROP TABLE trusted_devices;
DROP TABLE mfa_pending;
DROP TABLE mfa_codes;
DROP TABLE mfa_channels;
