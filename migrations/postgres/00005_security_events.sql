-- The security event log (SEC-54): who did what to whom, from where, with which outcome.
-- actor_id and subject_user_id are deliberately not foreign keys: events outlive the users they
-- mention, and deleting a user must never delete (or be blocked by) its history. details is
-- JSON kept as TEXT: JSONB would refuse a \u0000 escape that an attacker-supplied value can carry,
-- and losing the event over it is worse than not indexing inside the JSON.
--
-- Append-only (SEC-54) is enforced here as well as in the code: a trigger refuses UPDATE, DELETE
-- and TRUNCATE, so neither a bug nor an injected statement elsewhere in the server can rewrite
-- history. (A role that owns the table can still drop the trigger; production should run the
-- server as a role that does not own its schema.)

-- +goose Up
CREATE TABLE security_events (
    id              UUID        PRIMARY KEY,
    type            TEXT        NOT NULL CHECK (type <> ''),
    outcome         TEXT        NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    actor_id        UUID        NULL,
    subject_user_id UUID        NULL,
    ip              TEXT        NOT NULL DEFAULT '',
    user_agent      TEXT        NOT NULL DEFAULT '',
    request_id      TEXT        NOT NULL DEFAULT '',
    details         TEXT        NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL
);

-- Listing is newest first with id as the tie-break, so the plain time index carries id too.
CREATE INDEX security_events_created_at ON security_events (created_at, id);
CREATE INDEX security_events_type_created_at ON security_events (type, created_at);
CREATE INDEX security_events_subject_created_at ON security_events (subject_user_id, created_at);
CREATE INDEX security_events_actor_created_at ON security_events (actor_id, created_at);

-- +goose StatementBegin
CREATE FUNCTION security_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'security_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER security_events_no_update_delete
    BEFORE UPDATE OR DELETE ON security_events
    FOR EACH ROW EXECUTE FUNCTION security_events_append_only();

CREATE TRIGGER security_events_no_truncate
    BEFORE TRUNCATE ON security_events
    FOR EACH STATEMENT EXECUTE FUNCTION security_events_append_only();

-- +goose Down
DROP TRIGGER security_events_no_truncate ON security_events;
DROP TRIGGER security_events_no_update_delete ON security_events;
DROP TABLE security_events;
DROP FUNCTION security_events_append_only();
