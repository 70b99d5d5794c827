package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/migrate"
)

// TestStatementsKeyMigration upgrades a file made at schema version 3,
// holding statements, to the (session_id, id) key of 0004: every statement
// is kept, in the order it was added, the session index is gone, and the
// upgraded file takes and dedups new statements as before.
func TestStatementsKeyMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open(driverName, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(createMigrationsTable); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:3] {
		if _, err := old.Exec(m.SQL); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if _, err := old.Exec(`INSERT INTO schema_migrations VALUES (?, ?, 0)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	// Two statements share seq 2: only the rowid orders them.
	for _, q := range []string{
		`INSERT INTO sessions (id, subject, identity_name, client, auth_method, issuer, token_id,
            connection, protocol, client_addr, started_at, end_reason, start_seq)
            VALUES ('s1', 'alice', '', '', '', '', '', 'orders', 'postgres', '', 1, '', 1)`,
		`INSERT INTO statements (id, session_id, seq, text, class, decision, rule, started_at, duration_ns,
            row_count, tag, status, error, subject, connection, request_seq, result_seq, review_id)
            VALUES ('s1/3', 's1', 2, 'SELECT 3', 1, 'allow', '', 30, 0, 0, '', 'ok', '', 'alice', 'orders', 3, 4, ''),
                   ('s1/1', 's1', 1, 'SELECT 1', 1, 'allow', '', 10, 0, 0, '', 'ok', '', 'alice', 'orders', 1, 2, ''),
                   ('s1/2', 's1', 2, 'SELECT 2', 1, 'allow', '', 20, 0, 0, '', 'ok', '', 'alice', 'orders', 5, 6, 'rv1')`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	d, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d.Close()
	checkMigrations(t, migrationRows(t, d))
	got, err := d.ListStatements(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, r := range got {
		texts = append(texts, r.Text)
	}
	if want := []string{"SELECT 1", "SELECT 3", "SELECT 2"}; !slices.Equal(texts, want) {
		t.Errorf("statements after the upgrade = %q, want %q", texts, want)
	}
	byReview, err := d.SearchStatements(ctx, store.StatementFilter{ReviewID: "rv1"})
	if err != nil || len(byReview) != 1 || byReview[0].ID != "s1/2" {
		t.Errorf("search by review after the upgrade = %v, %v", byReview, err)
	}
	var indexes []string
	rows, err := d.read.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'statements' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, n)
	}
	rows.Close()
	if want := []string{"sqlite_autoindex_statements_1", "statements_review", "statements_started"}; !slices.Equal(indexes, want) {
		t.Errorf("indexes of statements = %q, want %q", indexes, want)
	}

	// Applying a stored statement again keeps one copy; a new one is added.
	again := &sluice.StatementRecord{ID: "s1/1", SessionID: "s1", Seq: 1, Text: "SELECT 1 again",
		StartedAt: time.Unix(0, 10), Status: sluice.StatusOK}
	next := &sluice.StatementRecord{ID: "s1/4", SessionID: "s1", Seq: 3, Text: "SELECT 4",
		StartedAt: time.Unix(0, 40), Status: sluice.StatusOK}
	if err := d.ApplyIndex(ctx, &store.IndexBatch{Statements: []*sluice.StatementRecord{again, next}}); err != nil {
		t.Fatal(err)
	}
	got, err = d.ListStatements(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	texts = texts[:0]
	for _, r := range got {
		texts = append(texts, r.Text)
	}
	if want := []string{"SELECT 1", "SELECT 3", "SELECT 2", "SELECT 4"}; !slices.Equal(texts, want) {
		t.Errorf("statements after re-applying = %q, want %q", texts, want)
	}
}
