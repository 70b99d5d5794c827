-- Sessions, statements, service tokens and reviews, and how far the index
-- of the audit journal has come. Sessions and statements are that index:
-- the journal is the source of truth, and `sluice audit reindex` rebuilds
-- them from it. The zero time is stored as NULL; lists are text arrays, NULL for
-- none; journal sequence numbers are 0 for none.

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
    end_reason          text        NOT NULL,
    start_seq           bigint      NOT NULL
);

CREATE INDEX sessions_started ON sessions (started_at, id);
CREATE INDEX sessions_subject ON sessions (subject, started_at);
CREATE INDEX sessions_connection ON sessions (connection, started_at);
CREATE INDEX sessions_open ON sessions (started_at) WHERE ended_at IS NULL;

-- n numbers statements in the order they were added, which breaks ties
-- between statements that share a seq, and, newest first, between those
-- that share a start time and request_seq. session_id names no foreign key:
-- journal retention may remove a session's start and keep its statements.
CREATE TABLE statements (
    n           bigint      GENERATED ALWAYS AS IDENTITY,
    id          text        NOT NULL PRIMARY KEY,
    session_id  text        NOT NULL,
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
    error       text        NOT NULL,
    subject     text        NOT NULL,
    group_names text[],
    connection  text        NOT NULL,
    request_seq bigint      NOT NULL,
    result_seq  bigint      NOT NULL,
    review_id   text        NOT NULL
);

-- Searches are newest first: started_at DESC NULLS LAST, request_seq DESC,
-- n DESC; each index below ends in that order.
CREATE INDEX statements_session ON statements (session_id, seq, n);
CREATE INDEX statements_started ON statements (started_at DESC NULLS LAST, request_seq DESC, n DESC);
CREATE INDEX statements_subject ON statements (subject, started_at DESC NULLS LAST, request_seq DESC, n DESC);
CREATE INDEX statements_connection ON statements (connection, started_at DESC NULLS LAST, request_seq DESC, n DESC);
CREATE INDEX statements_review ON statements (review_id) WHERE review_id <> '';
CREATE INDEX statements_groups ON statements USING gin (group_names);

-- The index's position in the journal: one row.
CREATE TABLE index_state (
    id  integer NOT NULL PRIMARY KEY CHECK (id = 1),
    seq bigint  NOT NULL
);

INSERT INTO index_state (id, seq) VALUES (1, 0);

CREATE TABLE service_tokens (
    id          text        NOT NULL PRIMARY KEY,
    subject     text        NOT NULL,
    group_names text[],
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz
);

CREATE INDEX service_tokens_issued ON service_tokens (issued_at, id);

-- Reviews: requests held for approval, shared by every replica. They are
-- state, not index: the journal records each step, but reindex neither
-- rebuilds nor deletes them. request is the sluice.Request as JSON (json,
-- not jsonb, which cannot hold \u0000); subject and connection are copies
-- of its requester and connection for lookups. tickets maps notifier name
-- to reference, NULL for none. A change of status locks the review's row
-- (SELECT ... FOR UPDATE, or an UPDATE that tests the status), so
-- transitions are atomic across connections and replicas.
CREATE TABLE reviews (
    id             text        NOT NULL PRIMARY KEY,
    status         text        NOT NULL
        CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'executed')),
    request        json        NOT NULL,
    subject        text        NOT NULL,
    connection     text        NOT NULL,
    reasons        text[],
    policy         text        NOT NULL,
    rule           text        NOT NULL,
    approvers      text[],
    min_approvals  integer     NOT NULL CHECK (min_approvals >= 1),
    estimated_rows bigint      NOT NULL,
    impact         text        NOT NULL,
    statement_hash text        NOT NULL,
    created_at     timestamptz NOT NULL,
    wait_until     timestamptz,
    valid_until    timestamptz NOT NULL,
    decided_at     timestamptz,
    executed_at    timestamptz,
    tickets        jsonb
);

-- Lists are newest first (created_at DESC, id DESC); each index below ends
-- in that order. reviews_open serves ExpireReviews.
CREATE INDEX reviews_created ON reviews (created_at DESC, id DESC);
CREATE INDEX reviews_status ON reviews (status, created_at DESC, id DESC);
CREATE INDEX reviews_subject ON reviews (subject, created_at DESC, id DESC);
CREATE INDEX reviews_connection ON reviews (connection, created_at DESC, id DESC);
CREATE INDEX reviews_hash ON reviews (statement_hash, created_at DESC, id DESC);
CREATE INDEX reviews_open ON reviews (valid_until) WHERE status IN ('pending', 'approved');

-- One row per approver's vote; n is the vote's position in its review,
-- from 1. An approver votes once per review.
CREATE TABLE review_decisions (
    review_id text        NOT NULL REFERENCES reviews (id),
    n         integer     NOT NULL,
    approver  text        NOT NULL,
    approve   boolean     NOT NULL,
    reason    text        NOT NULL,
    via       text        NOT NULL,
    at        timestamptz NOT NULL,
    PRIMARY KEY (review_id, n),
    UNIQUE (review_id, approver)
);
