-- Tokens used per subject, connection and UTC day ("2006-01-02"), for the
-- daily token budgets of the Claude API passthrough, shared by every
-- replica. Usage is state, not index: reindex neither rebuilds nor deletes
-- it. An add is one upsert (INSERT ... ON CONFLICT DO UPDATE), which locks
-- the row, so concurrent adds from several replicas all count.
CREATE TABLE token_usage (
    subject    text   NOT NULL,
    connection text   NOT NULL,
    day        text   NOT NULL,
    tokens     bigint NOT NULL CHECK (tokens >= 0),
    PRIMARY KEY (subject, connection, day)
);
