-- Sessions, statements and service tokens. The zero time is stored as NULL;
-- lists are text arrays, NULL for none.

CREATE TABLE sessions (
    id                  text        NOT NULL PRIMARY KEY,
    subject             text        NOT NULL,
    identity_name       text        NOT NULL,
    group_names         text[],
    client              text        NOT NULL,
    auth_method         text        NOT NULL,
    issuer              text        NOT NULL,
    token_id            text        NOT NULL,
    identity_expires_at timestamptz,
    connection          text        NOT NULL,
    protocol            text        NOT NULL,
    client_addr         text        NOT NULL,
    started_at          timestamptz NOT NULL,
    ended_at            timestamptz,
    end_reason          text        NOT NULL
);

CREATE INDEX sessions_started ON sessions (started_at, id);
CREATE INDEX sessions_subject ON sessions (subject, started_at);
CREATE INDEX sessions_connection ON sessions (connection, started_at);
CREATE INDEX sessions_open ON sessions (started_at) WHERE ended_at IS NULL;

-- n numbers statements in the order they were added, which breaks ties
-- between statements that share a seq.
CREATE TABLE statements (
    n           bigint      GENERATED ALWAYS AS IDENTITY,
    id          text        NOT NULL PRIMARY KEY,
    session_id  text        NOT NULL REFERENCES sessions (id),
    seq         bigint      NOT NULL,
    text        text        NOT NULL,
    params      text[],
    class       integer     NOT NULL,
    decision    text        NOT NULL,
    rule        text        NOT NULL,
    started_at  timestamptz,
    duration_ns bigint      NOT NULL,
    row_count   bigint      NOT NULL,
    tag         text        NOT NULL,
    status      text        NOT NULL,
    error       text        NOT NULL
);

CREATE INDEX statements_session ON statements (session_id, seq, n);

CREATE TABLE service_tokens (
    id          text        NOT NULL PRIMARY KEY,
    subject     text        NOT NULL,
    group_names text[],
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz
);

CREATE INDEX service_tokens_issued ON service_tokens (issued_at, id);
