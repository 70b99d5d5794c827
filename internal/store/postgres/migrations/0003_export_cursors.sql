-- How far each export sink has shipped the journal. Cursors are state,
-- not index: reindex neither rebuilds nor deletes them.
CREATE TABLE export_cursors (
    key text   NOT NULL PRIMARY KEY,
    seq bigint NOT NULL CHECK (seq >= 0)
);
