-- The security event log (SEC-54): who did what to whom, from where, with which outcome.
-- actor_id and subject_user_id are deliberately not foreign keys: events outlive the users they
-- mention, and deleting a user must never delete (or be blocked by) its history. details is JSON
-- kept as TEXT.
--
-- Append-only (SEC-54) is enforced here as well as in the code: triggers refuse UPDATE and
-- DELETE, so neither a bug nor an injected statement elsewhere in the server can rewrite
-- history. (SQLite has no TRUNCATE; its "truncate optimisation" is skipped when a DELETE trigger
-- exists, so DELETE FROM security_events fires the trigger too.)

-- +goose Up
CREATE TABLE security_events (
    id              TEXT     PRIMARY KEY NOT NULL,
    type            TEXT     NOT NULL CHECK (type <> ''),
    outcome         TEXT     NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    actor_id        TEXT     NULL,
    subject_user_id TEXT     NULL,
    ip              TEXT     NOT NULL DEFAULT '',
    user_agent      TEXT     NOT NULL DEFAULT '',
    request_id      TEXT     NOT NULL DEFAULT '',
    details         TEXT     NOT NULL DEFAULT '{}',
    created_at      DATETIME NOT NULL
);

-- Listing is newest first with id as the tie-break, so the plain time index carries id too.
CREATE INDEX security_events_created_at ON security_events (created_at, id);
CREATE INDEX security_events_type_created_at ON security_events (type, created_at);
CREATE INDEX security_events_subject_created_at ON security_events (subject_user_id, created_at);
CREATE INDEX security_events_actor_created_at ON security_events (actor_id, created_at);

-- +goose StatementBegin
CREATE TRIGGER security_events_no_update
BEFORE UPDATE ON security_events
BEGIN
    SELECT RAISE(ABORT, 'security_events is append-only: UPDATE refused');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER security_events_no_delete
BEFORE DELETE ON security_events
BEGIN
    SELECT RAISE(ABORT, 'security_events is append-only: DELETE refused');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER security_events_no_delete;
DROP TRIGGER security_events_no_update;
DROP TABLE security_events;
