-- Second factors. mfa_totp holds one authenticator-app secret per user, encrypted with the
-- keyring; confirmed_at is NULL while enrollment is pending; last_step is the last accepted
-- RFC 6238 time step, so a code is accepted once (SEC-20). mfa_recovery_codes holds SHA-256
-- hashes of recovery codes; used_at marks a spent code (SEC-22).

-- +goose Up
CREATE TABLE mfa_totp (
    user_id      TEXT        NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_enc   TEXT        NOT NULL,
    confirmed_at DATETIME    NULL,
    last_step    BIGINT      NOT NULL DEFAULT 0,
    created_at   DATETIME    NOT NULL
);

CREATE TABLE mfa_recovery_codes (
    user_id    TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT        NOT NULL,
    created_at DATETIME    NOT NULL,
    used_at    DATETIME    NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- +goose Down
DROP TABLE mfa_recovery_codes;
DROP TABLE mfa_totp;
