-- The secrets manager (issue 6; architecture.md "Secrets").
--
-- secrets holds each secret's metadata, whatever backend holds its values: name (path-like,
-- validated by the service), backend kind, description, owner, rotation policy (JSON, '' when
-- none) and the soft-delete state: deleted_at is set by DELETE, and the purge job removes the
-- row (and the backend's values) once purge_after has passed. The name stays taken until then,
-- so a deleted secret can be restored. secret_labels holds its labels.
--
-- secret_versions holds Gatehouse's own versions (1, 2, ...) of each secret, each pointing at
-- the backend's identifier of the value (backend_ref), with at most one version per stage
-- (current, previous, pending), enforced by a partial unique index.
--
-- secret_values is the db backend's store: one row per version, the value a Fernet token under
-- a random per-version data key, the data key wrapped by the keyring (wrapped_key is
-- "v<master key version>:<token>"; key_version repeats that number so the re-wrap job can find
-- the rows still on an old master key with an index).
--
-- secret_audit is the access trail (SEC-41): every read, write, rotate, delete and denied
-- attempt, never the value. It is append-only like security_events: triggers refuse UPDATE,
-- DELETE (SQLite has no TRUNCATE). Rows name the secret rather than referencing it, so they outlive a purge.

-- +goose Up
CREATE TABLE secrets (
    id               TEXT     PRIMARY KEY NOT NULL,
    name             TEXT     NOT NULL UNIQUE CHECK (name <> ''),
    backend          TEXT     NOT NULL CHECK (backend <> ''),
    description      TEXT     NOT NULL DEFAULT '',
    owner            TEXT     NOT NULL DEFAULT '',
    rotation_policy  TEXT     NOT NULL DEFAULT '',
    next_rotation_at DATETIME NULL,
    last_rotated_at  DATETIME NULL,
    created_by       TEXT     NOT NULL DEFAULT '',
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL,
    deleted_at       DATETIME NULL,
    purge_after      DATETIME NULL
);
CREATE INDEX secrets_purge_after ON secrets (purge_after) WHERE purge_after IS NOT NULL;
CREATE INDEX secrets_next_rotation_at ON secrets (next_rotation_at) WHERE next_rotation_at IS NOT NULL;

-- Labels are rows, not a JSON column, so "every secret labelled team=billing" is an indexed query.
CREATE TABLE secret_labels (
    secret_id TEXT     NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    key       TEXT     NOT NULL CHECK (key <> ''),
    value     TEXT     NOT NULL DEFAULT '',
    PRIMARY KEY (secret_id, key)
);
CREATE INDEX secret_labels_key_value ON secret_labels (key, value);

CREATE TABLE secret_versions (
    secret_id   TEXT     NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version     INTEGER  NOT NULL CHECK (version > 0),
    backend_ref TEXT     NOT NULL CHECK (backend_ref <> ''),
    stage       TEXT     NULL CHECK (stage IN ('current', 'previous', 'pending')),
    created_by  TEXT     NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    PRIMARY KEY (secret_id, version)
);
CREATE UNIQUE INDEX secret_versions_one_per_stage ON secret_versions (secret_id, stage) WHERE stage IS NOT NULL;

CREATE TABLE secret_values (
    id          INTEGER  PRIMARY KEY AUTOINCREMENT,
    name        TEXT     NOT NULL CHECK (name <> ''),
    key_version INTEGER  NOT NULL CHECK (key_version > 0),
    wrapped_key TEXT     NOT NULL,
    ciphertext  TEXT     NOT NULL,
    created_at  DATETIME NOT NULL
);
CREATE INDEX secret_values_name ON secret_values (name, id);
CREATE INDEX secret_values_key_version ON secret_values (key_version, id);

CREATE TABLE secret_audit (
    id          INTEGER  PRIMARY KEY AUTOINCREMENT,
    created_at  DATETIME NOT NULL,
    actor_type  TEXT     NOT NULL CHECK (actor_type IN ('user', 'service_account', 'system')),
    actor_id    TEXT     NOT NULL DEFAULT '',
    action      TEXT     NOT NULL CHECK (action <> ''),
    secret_name TEXT     NOT NULL DEFAULT '',
    version     INTEGER  NULL,
    backend     TEXT     NOT NULL DEFAULT '',
    outcome     TEXT     NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    reason      TEXT     NOT NULL DEFAULT '',
    request_id  TEXT     NOT NULL DEFAULT '',
    ip          TEXT     NOT NULL DEFAULT ''
);
CREATE INDEX secret_audit_created_at ON secret_audit (created_at, id);
CREATE INDEX secret_audit_secret_name ON secret_audit (secret_name, id);
CREATE INDEX secret_audit_actor ON secret_audit (actor_id, created_at);

-- +goose StatementBegin
CREATE TRIGGER secret_audit_no_update
BEFORE UPDATE ON secret_audit
BEGIN
    SELECT RAISE(ABORT, 'secret_audit is append-only: UPDATE refused');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER secret_audit_no_delete
BEFORE DELETE ON secret_audit
BEGIN
    SELECT RAISE(ABORT, 'secret_audit is append-only: DELETE refused');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER secret_audit_no_delete;
DROP TRIGGER secret_audit_no_update;
DROP TABLE secret_audit;
DROP TABLE secret_values;
DROP TABLE secret_versions;
DROP TABLE secret_labels;
DROP TABLE secrets;
