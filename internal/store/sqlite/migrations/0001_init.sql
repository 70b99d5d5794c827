-- Sessions, statements, service tokens and reviews, and how far the index
-- of the audit journal has come. Sessions and statements are that index:
-- the journal is the source of truth, and `sluice audit reindex` rebuilds
-- them from it. Times are unix nanoseconds in UTC, NULL for the zero time; lists
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

-- Reviews: requests held for approval. They are state, not index: the
-- journal records each step, but reindex neither rebuilds nor deletes them.
-- request is the sluice.Request as JSON; subject and connection are copies
-- of its requester and connection for lookups. tickets is a JSON object of
-- notifier name to reference, NULL for none. Every change of status happens
-- in a write transaction (BEGIN IMMEDIATE), which holds the file's write
-- lock, so transitions are atomic across processes.
CREATE TABLE reviews (
    id             TEXT    NOT NULL PRIMARY KEY,
    status         TEXT    NOT NULL
        CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'executed')),
    request        TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    connection     TEXT    NOT NULL,
    reasons        TEXT,
    policy         TEXT    NOT NULL,
    rule           TEXT    NOT NULL,
    approvers      TEXT,
    min_approvals  INTEGER NOT NULL CHECK (min_approvals >= 1),
    estimated_rows INTEGER NOT NULL,
    impact         TEXT    NOT NULL,
    statement_hash TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    wait_until     INTEGER,
    valid_until    INTEGER NOT NULL,
    decided_at     INTEGER,
    executed_at    INTEGER,
    tickets        TEXT
) STRICT;

-- Lists are newest first (created_at, id descending); each index below
-- ends in that order. reviews_open serves ExpireReviews.
CREATE INDEX reviews_created ON reviews (created_at, id);
CREATE INDEX reviews_status ON reviews (status, created_at, id);
CREATE INDEX reviews_subject ON reviews (subject, created_at, id);
CREATE INDEX reviews_connection ON reviews (connection, created_at, id);
CREATE INDEX reviews_hash ON reviews (statement_hash, created_at, id);
CREATE INDEX reviews_open ON reviews (valid_until) WHERE status IN ('pending', 'approved');

-- One row per approver's vote; n is the vote's position in its review,
-- from 1. An approver votes once per review.
CREATE TABLE review_decisions (
    review_id TEXT    NOT NULL REFERENCES reviews (id),
    n         INTEGER NOT NULL,
    approver  TEXT    NOT NULL,
    approve   INTEGER NOT NULL CHECK (approve IN (0, 1)),
    reason    TEXT    NOT NULL,
    via       TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (review_id, n),
    UNIQUE (review_id, approver)
) STRICT;
