-- Social login (issue 5): providers, linked identities, flows in progress, one-time codes for
-- native apps (SEC-30..35).
--
-- oauth_providers are managed at runtime by administrators (and seeded from configuration);
-- the client secret is sealed with the keyring ("v<key version>:<fernet token>") and re-sealed
-- by the master key re-wrap job. slug names the provider in URLs.
--
-- user_identities link a provider's subject to an account; (provider_id, subject) is unique,
-- so an identity belongs to one account. raw_claims keeps a small, non-secret subset of the
-- provider's profile (JSON) for support.
--
-- oauth_flows are the flows between /start and /callback: only the SHA-256 of the state and of
-- the browser-binding cookie are stored (the PKCE verifier and the nonce are derived from the
-- cookie, so this table holds nothing that completes a flow). used_at makes state single-use.
--
-- oauth_exchange_codes are the one-time codes a loopback redirect carries to a native app
-- (RFC 8252): hashed, bound to the app's PKCE challenge, valid for a minute, single use.

-- +goose Up
ALTER TABLE users ADD COLUMN avatar_url TEXT NOT NULL DEFAULT '';

CREATE TABLE oauth_providers (
    id                TEXT        PRIMARY KEY,
    slug              TEXT        NOT NULL UNIQUE CHECK (slug <> ''),
    type              TEXT        NOT NULL CHECK (type IN ('google', 'microsoft', 'linkedin', 'github', 'oidc')),
    display_name      TEXT        NOT NULL DEFAULT '',
    client_id         TEXT        NOT NULL CHECK (client_id <> ''),
    client_secret_enc TEXT        NOT NULL DEFAULT '',
    base_url          TEXT        NOT NULL DEFAULT '',
    api_url           TEXT        NOT NULL DEFAULT '',
    tenant            TEXT        NOT NULL DEFAULT '',
    scopes            TEXT        NOT NULL DEFAULT '',
    allowed_domains   TEXT        NOT NULL DEFAULT '',
    auto_register     BOOLEAN     NOT NULL DEFAULT 0,
    auto_link         BOOLEAN     NOT NULL DEFAULT 0,
    enabled           BOOLEAN     NOT NULL DEFAULT 1,
    created_at        DATETIME    NOT NULL,
    updated_at        DATETIME    NOT NULL
);

CREATE TABLE user_identities (
    id             TEXT        PRIMARY KEY,
    user_id        TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id    TEXT        NOT NULL REFERENCES oauth_providers (id) ON DELETE CASCADE,
    subject        TEXT        NOT NULL CHECK (subject <> ''),
    email          TEXT        NOT NULL DEFAULT '',
    email_verified BOOLEAN     NOT NULL DEFAULT 0,
    display_name   TEXT        NOT NULL DEFAULT '',
    avatar_url     TEXT        NOT NULL DEFAULT '',
    raw_claims     TEXT        NOT NULL DEFAULT '{}',
    created_at     DATETIME    NOT NULL,
    last_login_at  DATETIME    NULL,
    UNIQUE (provider_id, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

CREATE TABLE oauth_flows (
    id             TEXT        PRIMARY KEY,
    state_hash     TEXT        NOT NULL UNIQUE,
    binding_hash   TEXT        NOT NULL,
    provider_id    TEXT        NOT NULL REFERENCES oauth_providers (id) ON DELETE CASCADE,
    intent         TEXT        NOT NULL CHECK (intent IN ('login', 'link')),
    user_id        TEXT        NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_to    TEXT        NOT NULL DEFAULT '',
    code_challenge TEXT        NOT NULL DEFAULT '',
    created_at     DATETIME    NOT NULL,
    expires_at     DATETIME    NOT NULL,
    used_at        DATETIME    NULL
);
CREATE INDEX oauth_flows_expires ON oauth_flows (expires_at);

CREATE TABLE oauth_exchange_codes (
    code_hash      TEXT        PRIMARY KEY,
    user_id        TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id    TEXT        NOT NULL REFERENCES oauth_providers (id) ON DELETE CASCADE,
    code_challenge TEXT        NOT NULL CHECK (code_challenge <> ''),
    created_at     DATETIME    NOT NULL,
    expires_at     DATETIME    NOT NULL,
    used_at        DATETIME    NULL
);

-- +goose Down
DROP TABLE oauth_exchange_codes;
DROP TABLE oauth_flows;
DROP TABLE user_identities;
DROP TABLE oauth_providers;
ALTER TABLE users DROP COLUMN avatar_url;
