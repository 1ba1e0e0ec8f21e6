-- The second-factor login flow. mfa_channels holds out-of-band factors (a phone for SMS, an
-- address for email); confirmed_at is NULL until the user typed the code sent there.
-- mfa_codes holds SMS/email one-time codes, only as SHA-256 hashes, bound to what they were
-- sent for (a pending login, a session stepping up, an enrollment), expiring, single-use and
-- counting failed attempts (SEC-21). mfa_pending is a password-verified login waiting for its
-- second factor: a cookie or an mfa_token, hashed, short-lived and single-use (SEC-23).
-- trusted_devices remembers browsers that passed a second factor (SEC-24).

-- +goose Up
CREATE TABLE mfa_channels (
    user_id      TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel      TEXT        NOT NULL CHECK (channel IN ('sms', 'email')),
    address      TEXT        NOT NULL,
    confirmed_at DATETIME    NULL,
    created_at   DATETIME    NOT NULL,
    PRIMARY KEY (user_id, channel)
);

CREATE TABLE mfa_codes (
    id         TEXT        NOT NULL PRIMARY KEY,
    user_id    TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel    TEXT        NOT NULL,
    binding    TEXT        NOT NULL,
    code_hash  TEXT        NOT NULL,
    attempts   INTEGER     NOT NULL DEFAULT 0,
    created_at DATETIME    NOT NULL,
    expires_at DATETIME    NOT NULL,
    used_at    DATETIME    NULL
);
CREATE INDEX mfa_codes_lookup ON mfa_codes (user_id, channel, binding, created_at);

CREATE TABLE mfa_pending (
    id         TEXT        NOT NULL PRIMARY KEY,
    user_id    TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT        NOT NULL UNIQUE,
    kind       TEXT        NOT NULL CHECK (kind IN ('cookie', 'token')),
    csrf_token TEXT        NOT NULL,
    failures   INTEGER     NOT NULL DEFAULT 0,
    ip         TEXT        NOT NULL DEFAULT '',
    user_agent TEXT        NOT NULL DEFAULT '',
    created_at DATETIME    NOT NULL,
    expires_at DATETIME    NOT NULL,
    used_at    DATETIME    NULL
);
CREATE INDEX mfa_pending_user ON mfa_pending (user_id);

CREATE TABLE trusted_devices (
    id           TEXT        NOT NULL PRIMARY KEY,
    user_id      TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT        NOT NULL UNIQUE,
    name         TEXT        NOT NULL,
    ip           TEXT        NOT NULL DEFAULT '',
    user_agent   TEXT        NOT NULL DEFAULT '',
    created_at   DATETIME    NOT NULL,
    last_used_at DATETIME    NOT NULL,
    expires_at   DATETIME    NOT NULL,
    revoked_at   DATETIME    NULL
);
CREATE INDEX trusted_devices_user ON trusted_devices (user_id, created_at);

-- +goose Down
DROP TABLE trusted_devices;
DROP TABLE mfa_pending;
DROP TABLE mfa_codes;
DROP TABLE mfa_channels;
