-- Statements are keyed by (session_id, id) instead of id alone, and the
-- index statements_session goes: the primary key's own B-tree now finds a
-- session's statements, so each indexed statement costs one B-tree insert
-- fewer on the gateway's host. A statement's id names its session (the
-- gateway numbers requests "session/seq"), so the key is as unique as
-- before. The rowids are kept: they order statements added in one batch.

CREATE TABLE statements_new (
    id          TEXT    NOT NULL,
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
    review_id   TEXT    NOT NULL,
    PRIMARY KEY (session_id, id)
) STRICT;

INSERT INTO statements_new (rowid, id, session_id, seq, text, params, class, decision, rule,
    started_at, duration_ns, row_count, tag, status, error, subject, group_names, connection,
    request_seq, result_seq, review_id)
SELECT rowid, id, session_id, seq, text, params, class, decision, rule,
    started_at, duration_ns, row_count, tag, status, error, subject, group_names, connection,
    request_seq, result_seq, review_id
FROM statements;

DROP TABLE statements;
ALTER TABLE statements_new RENAME TO statements;

CREATE INDEX statements_started ON statements (started_at, request_seq);
CREATE INDEX statements_review ON statements (review_id) WHERE review_id <> '';
