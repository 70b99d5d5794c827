-- How far each export sink has shipped the journal. Cursors are state,
-- not index: reindex neither rebuilds nor deletes them.
CREATE TABLE export_cursors (
    key TEXT    NOT NULL PRIMARY KEY,
    seq INTEGER NOT NULL CHECK (seq >= 0)
) STRICT, WITHOUT ROWID;
