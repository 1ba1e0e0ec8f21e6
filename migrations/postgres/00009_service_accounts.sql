-- Service accounts and secret access policies (SEC-42).
--
-- A service account is a non-human caller (an end-user application) that authenticates with
-- API tokens: "gsa_" + 256 random bits, shown once, stored only as their SHA-256 (token_hash),
-- optionally expiring, revocable, with the time of last use (recorded at most once a minute).
--
-- secret_policies grant a subject (a role, or a service account) actions (a comma-separated
-- subset of read,write,rotate,delete) on secret names matching a glob pattern ("billing/*",
-- "billing/**"). Administrators need none; everyone else gets only what a policy grants.
-- subject is a role name or a service account id; a service account's policies are removed
-- with it (by the store, in the same transaction: subject is not a foreign key because it
-- also holds role names).

-- +goose Up
CREATE TABLE service_accounts (
    id          UUID        PRIMARY KEY,
    name        TEXT        NOT NULL UNIQUE CHECK (name <> ''),
    description TEXT        NOT NULL DEFAULT '',
    created_by  TEXT        NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE service_account_tokens (
    id                 UUID        PRIMARY KEY,
    service_account_id UUID        NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    name               TEXT        NOT NULL DEFAULT '',
    token_hash         TEXT        NOT NULL UNIQUE,
    created_at         TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ NULL,
    revoked_at         TIMESTAMPTZ NULL,
    last_used_at       TIMESTAMPTZ NULL
);
CREATE INDEX service_account_tokens_account ON service_account_tokens (service_account_id);

CREATE TABLE secret_policies (
    id           UUID        PRIMARY KEY,
    subject_type TEXT        NOT NULL CHECK (subject_type IN ('role', 'service_account')),
    subject      TEXT        NOT NULL CHECK (subject <> ''),
    pattern      TEXT        NOT NULL CHECK (pattern <> ''),
    actions      TEXT        NOT NULL CHECK (actions <> ''),
    created_by   TEXT        NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX secret_policies_subject ON secret_policies (subject_type, subject);

-- +goose Down
DROP TABLE secret_policies;
DROP TABLE service_account_tokens;
DROP TABLE service_accounts;
