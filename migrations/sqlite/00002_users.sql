-- Accounts. Emails are stored trimmed and lower-cased; roles live in their own table so that
-- "every admin" is an indexed query, not a string search.

-- +goose Up
CREATE TABLE users (
    id             TEXT     PRIMARY KEY,
    email          TEXT     NOT NULL UNIQUE CHECK (email = lower(email)),
    display_name   TEXT     NOT NULL DEFAULT '',
    password_hash  TEXT     NULL,
    status         TEXT     NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'locked', 'disabled')),
    email_verified BOOLEAN  NOT NULL DEFAULT FALSE,
    created_at     DATETIME NOT NULL,
    updated_at     DATETIME NOT NULL,
    last_login_at  DATETIME NULL
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('admin', 'support', 'user')),
    PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_role ON user_roles (role);

-- +goose Down
DROP TABLE user_roles;
DROP TABLE users;
