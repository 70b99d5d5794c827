-- Tokens that Claude API requests in flight may still use, per daily
-- budget, shared by every replica: a request is admitted only when the
-- budget's usage plus these stays below its limit. A reservation is
-- dropped when the request's usage is counted, or ignored (and dropped by
-- the next reservation of its budget) once until has passed: the replica
-- that held it stopped. Reservations of one budget are serialized by a lock
-- on the budget's token_usage row.
CREATE TABLE token_reservations (
    id         text        NOT NULL PRIMARY KEY,
    subject    text        NOT NULL,
    connection text        NOT NULL,
    day        text        NOT NULL,
    tokens     bigint      NOT NULL CHECK (tokens >= 0),
    until      timestamptz NOT NULL
);

CREATE INDEX token_reservations_budget ON token_reservations (subject, connection, day);
