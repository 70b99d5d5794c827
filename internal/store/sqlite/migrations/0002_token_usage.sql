-- Tokens used per subject, connection and UTC day ("2006-01-02"), for the
-- daily token budgets of the Claude API passthrough. Usage is state, not
-- index: reindex neither rebuilds nor deletes it. An add is one upsert,
-- which holds the file's write lock, so adds from several processes all
-- count.
CREATE TABLE token_usage (
    subject    TEXT    NOT NULL,
    connection TEXT    NOT NULL,
    day        TEXT    NOT NULL,
    tokens     INTEGER NOT NULL CHECK (tokens >= 0),
    PRIMARY KEY (subject, connection, day)
) STRICT, WITHOUT ROWID;
