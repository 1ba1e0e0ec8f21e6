-- JWT signing keys (Ed25519). The private key is encrypted by the keyring ("v<version>:<fernet>");
-- the public key is the raw 32 bytes, published in the JWKS. A key signs while retired_at is NULL
-- and keeps verifying for one access-token lifetime (plus leeway) after retired_at. NOT NULL on
-- the key because SQLite, unlike PostgreSQL, lets a non-integer primary key be NULL.

-- +goose Up
CREATE TABLE signing_keys (
    kid             TEXT        NOT NULL PRIMARY KEY CHECK (kid <> ''),
    private_key_enc TEXT        NOT NULL,
    public_key      BYTEA       NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    retired_at      TIMESTAMPTZ NULL
);

-- +goose Down
DROP TABLE signing_keys;
