-- Tokens that Claude API requests in flight may still use, per daily
-- budget, shared by every process on the file: a request is admitted only
-- when the budget's usage plus these stays below its limit. A reservation
-- is dropped when the request's usage is counted, or ignored (and dropped
-- by the next reservation of its budget) once until, unix nanoseconds, has
-- passed: the gateway that held it stopped.
CREATE TABLE token_reservations (
    id         TEXT    NOT NULL PRIMARY KEY,
    subject    TEXT    NOT NULL,
    connection TEXT    NOT NULL,
    day        TEXT    NOT NULL,
    tokens     INTEGER NOT NULL CHECK (tokens >= 0),
    until      INTEGER NOT NULL
) STRICT;

CREATE INDEX token_reservations_budget ON token_reservations (subject, connection, day);
