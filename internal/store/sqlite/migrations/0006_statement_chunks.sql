-- The index keeps statements in chunks: one row per session and write, the
-- statements encoded in a blob (chunk.go). A row of 20 values and three
-- B-tree entries per statement took a sixth to a quarter of the gateway's
-- CPU (docs/benchmarks.md).
CREATE TABLE statement_chunks (
    id              INTEGER NOT NULL PRIMARY KEY,
    write_id        INTEGER NOT NULL, -- the first chunk of the write that stored it
    session_id      TEXT    NOT NULL,
    n               INTEGER NOT NULL,
    max_request_seq INTEGER NOT NULL, -- the latest journal position of a statement's request
    min_started     INTEGER,
    max_started     INTEGER,
    decisions       INTEGER NOT NULL,
    data            BLOB    NOT NULL
) STRICT;

CREATE INDEX statement_chunks_session ON statement_chunks (session_id, max_request_seq);
CREATE INDEX statement_chunks_started ON statement_chunks (max_started);

-- The chunks holding a statement held for a review, by review.
CREATE TABLE statement_reviews (
    review_id TEXT    NOT NULL,
    chunk_id  INTEGER NOT NULL,
    PRIMARY KEY (review_id, chunk_id)
) STRICT, WITHOUT ROWID;

-- The statements stored so far move into chunks when the store opens
-- (convertRowStatements), in batches, each in its own transaction.
DROP INDEX statements_started;
DROP INDEX statements_review;
ALTER TABLE statements RENAME TO statements_by_row;
