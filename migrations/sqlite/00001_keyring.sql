-- The keyring: the master passphrase is stretched with PBKDF2 using the salt and iteration count
-- below into a key-encryption key, which wraps the versioned data-encryption keys.

-- +goose Up
CREATE TABLE keyring_kdf (
    id          INTEGER  PRIMARY KEY CHECK (id = 1),
    salt        BLOB     NOT NULL,
    iterations  INTEGER  NOT NULL CHECK (iterations >= 600000),
    created_at  DATETIME NOT NULL
);

CREATE TABLE keyring_keys (
    version     INTEGER  PRIMARY KEY CHECK (version > 0),
    wrapped_key TEXT     NOT NULL,
    created_at  DATETIME NOT NULL
);

-- +goose Down
DROP TABLE keyring_keys;
DROP TABLE keyring_kdf;
