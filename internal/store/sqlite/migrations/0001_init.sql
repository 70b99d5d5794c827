-- Sessions, statements and service tokens. Times are unix nanoseconds in UTC,
-- NULL for the zero time; lists are JSON arrays, NULL for none.

CREATE TABLE sessions (
    id                  TEXT    NOT NULL PRIMARY KEY,
    subject             TEXT    NOT NULL,
    identity_name       TEXT    NOT NULL,
    group_names         TEXT,
    client              TEXT    NOT NULL,
    auth_method         TEXT    NOT NULL,
    issuer              TEXT    NOT NULL,
    token_id            TEXT    NOT NULL,
    identity_expires_at INTEGER,
    connection          TEXT    NOT NULL,
    protocol            TEXT    NOT NULL,
    client_addr         TEXT    NOT NULL,
    started_at          INTEGER NOT NULL,
    ended_at            INTEGER,
    end_reason          TEXT    NOT NULL
) STRICT;

CREATE INDEX sessions_started ON sessions (started_at, id);
CREATE INDEX sessions_subject ON sessions (subject, started_at);
CREATE INDEX sessions_connection ON sessions (connection, started_at);
CREATE INDEX sessions_open ON sessions (started_at) WHERE ended_at IS NULL;

-- Statements keep their insertion order in the rowid, which breaks ties
-- between statements that share a seq.
CREATE TABLE statements (
    id          TEXT    NOT NULL PRIMARY KEY,
    session_id  TEXT    NOT NULL REFERENCES sessions (id),
    seq         INTEGER NOT NULL,
    text        TEXT    NOT NULL,
    params      TEXT,
    class       INTEGER NOT NULL,
    decision    TEXT    NOT NULL,
    rule        TEXT    NOT NULL,
    started_at  INTEGER,
    duration_ns INTEGER NOT NULL,
    row_count   INTEGER NOT NULL,
    tag         TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    error       TEXT    NOT NULL
) STRICT;

CREATE INDEX statements_session ON statements (session_id, seq);

CREATE TABLE service_tokens (
    id          TEXT    NOT NULL PRIMARY KEY,
    subject     TEXT    NOT NULL,
    group_names TEXT,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
) STRICT;

CREATE INDEX service_tokens_issued ON service_tokens (issued_at, id);
