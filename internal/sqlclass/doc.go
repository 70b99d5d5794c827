// Package sqlclass classifies PostgreSQL statements from the real parse
// tree (pganalyze/pg_query_go, PostgreSQL 17's parser), never from the raw
// text: quoting, dollar quotes, comments, Unicode escapes and case cannot
// hide a keyword from it.
//
// Classify turns a query string (one or several statements) into an
// Analysis: per statement a kind ("select", "delete", "drop_table", ...),
// a set of classes, the tables, functions and settings it names, whether
// an UPDATE or DELETE lacks a real WHERE, and reasons in words; for the
// whole string the union of those, a pg_query fingerprint and the parse
// error, if any.
//
// The classes (sluice.Class bits), defined fully in docs/classes.md:
//
//   - read: reads data or session state, or is bookkeeping that changes
//     nothing that outlives the session (transaction control, cursors,
//     harmless SET). A statement whose class is exactly read is a pure
//     read (Analysis.ReadOnly); PostgreSQL accepts it in a read-only
//     transaction. The read bit alone says only that something is read:
//     a CTE that reads and deletes is read|write|destructive.
//   - write: changes rows or other stored data, sequences, large objects,
//     takes row or table locks, sends notifications.
//   - ddl: changes the schema: CREATE, ALTER, DROP, COMMENT, TRUNCATE,
//     SELECT INTO, and table rewrites (VACUUM FULL, CLUSTER, REINDEX).
//   - destructive: removes data or objects wholesale: DROP, TRUNCATE,
//     DELETE or UPDATE without a real WHERE, ALTER TABLE ... DROP COLUMN.
//   - privileged: changes privileges, roles, the session's identity or
//     read-only mode, server configuration, or reaches outside the
//     database (server files, programs, other servers, other backends).
//   - unknown: could not be parsed, or runs code sluice cannot see (DO,
//     CALL, functions not on the allow-list, EXECUTE of a statement it has
//     not seen prepared, the FunctionCall message). The most restrictive.
//
// Nothing here depends on the value of a constant, which is what lets
// Cache serve texts that differ only in constants (pgbench -S) from one
// entry; see Cache. Session adds what earlier statements of a client
// session change: prepared statements and read-only state.
package sqlclass
