-- 0006_scram_credentials: SASL/SCRAM credentials (RFC 5802): salt,
-- iteration count, StoredKey and ServerKey per user and mechanism. The
-- password is never stored; PLAIN is checked against these too.

CREATE TABLE scram_credentials (
    user_name  TEXT    NOT NULL,
    mechanism  TEXT    NOT NULL,
    salt       BYTEA   NOT NULL,
    stored_key BYTEA   NOT NULL,
    server_key BYTEA   NOT NULL,
    iterations INTEGER NOT NULL,
    PRIMARY KEY (user_name, mechanism)
);
