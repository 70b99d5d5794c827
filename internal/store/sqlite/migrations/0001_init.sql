-- Sessions, statements and service tokens, and how far the index of the
-- audit journal has come. Sessions and statements are that index: the
-- journal is the source of truth, and `sluice audit reindex` rebuilds them
-- from it. Times are unix nanoseconds in UTC, NULL for the zero time; lists
-- are JSON arrays, NULL for none; journal sequence numbers are 0 for none.

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
    end_reason          TEXT    NOT NULL,
    start_seq           INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_started ON sessions (started_at, id);
CREATE INDEX sessions_subject ON sessions (subject, started_at);
CREATE INDEX sessions_connection ON sessions (connection, started_at);
CREATE INDEX sessions_open ON sessions (started_at) WHERE ended_at IS NULL;

-- Statements keep their insertion order in the rowid, which breaks ties
-- between statements that share a seq, and, newest first, between those
-- that share a start time and request_seq. session_id names no foreign key:
-- journal retention may remove a session's start and keep its statements.
CREATE TABLE statements (
    id          TEXT    NOT NULL PRIMARY KEY,
    session_id  TEXT    NOT NULL,
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
    error       TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    group_names TEXT,
    connection  TEXT    NOT NULL,
    request_seq INTEGER NOT NULL,
    result_seq  INTEGER NOT NULL,
    review_id   TEXT    NOT NULL
) STRICT;

-- Searches are newest first (started_at, request_seq, rowid descending);
-- each index below ends in that order, and SQLite appends the rowid.
-- Every index costs each indexed statement a B-tree insert on the gateway's
-- hot host, so searches by subject or connection walk the time index and
-- filter rather than having indexes of their own.
CREATE INDEX statements_session ON statements (session_id, seq);
CREATE INDEX statements_started ON statements (started_at, request_seq);
CREATE INDEX statements_review ON statements (review_id) WHERE review_id <> '';

-- The index's position in the journal: one row.
CREATE TABLE index_state (
    id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
) STRICT;

INSERT INTO index_state (id, seq) VALUES (1, 0);

CREATE TABLE service_tokens (
    id          TEXT    NOT NULL PRIMARY KEY,
    subject     TEXT    NOT NULL,
    group_names TEXT,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
) STRICT;

CREATE INDEX service_tokens_issued ON service_tokens (issued_at, id);
