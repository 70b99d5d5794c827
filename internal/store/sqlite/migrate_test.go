package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/migrate"
)

// TestStatementsMigrations upgrades a file made at schema version 3,
// holding statements, through the (session_id, id) key of 0004 and the
// chunks of 0006: every statement is kept, in the order it was added, the
// row-per-statement table is gone, and the upgraded file takes and dedups
// new statements as before.
func TestStatementsMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	old := openAtVersion(t, path, 3)
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
	var tables []string
	rows, err := d.read.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'statement%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	if want := []string{"statement_chunks", "statement_reviews"}; !slices.Equal(tables, want) {
		t.Errorf("statement tables = %q, want %q", tables, want)
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

func ptr(s string) *string { return &s }

// openAtVersion makes the file path with the schema of the first version
// migrations, as a sluice of that version left it, and returns a plain
// handle on it.
func openAtVersion(t *testing.T, path string, version int) *sql.DB {
	t.Helper()
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
	for _, m := range ms[:version] {
		if _, err := old.Exec(m.SQL); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if _, err := old.Exec(`INSERT INTO schema_migrations VALUES (?, ?, 0)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	return old
}

// TestRowStatementsMoveInBatches upgrades a file at schema version 5 that
// holds more statements than one conversion batch moves, three sessions'
// statements interleaved, opening it from two handles at once: each
// statement ends up in a chunk exactly once, every field and the order
// kept.
func TestRowStatementsMoveInBatches(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	old := openAtVersion(t, path, 5)
	n := 2*convertBatch + 7
	want := map[string][]*sluice.StatementRecord{}
	tx, err := old.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		session := fmt.Sprintf("s%d", i%3)
		r := &sluice.StatementRecord{ID: fmt.Sprintf("q%05d", i), SessionID: session, Seq: int64(n - i),
			Text: fmt.Sprintf("SELECT %d", i), Params: []*string{nil, ptr(fmt.Sprint(i))}, Class: sluice.ClassRead,
			Decision: sluice.ActionAllow, Rule: "p/0", Duration: time.Duration(i), Rows: int64(i), Tag: "SELECT 1",
			Status: sluice.StatusOK, Subject: "alice", Groups: []string{"dba"}, Connection: "orders",
			RequestSeq: uint64(2*i + 1), ResultSeq: uint64(2*i + 2)}
		if i%5 != 0 {
			r.StartedAt = time.Unix(0, int64(1000+i)).UTC()
		}
		if i == 4321 {
			r.ReviewID, r.Decision = "rv-1", sluice.ActionReview
		}
		params, _ := encodeList(r.Params)
		groups, _ := encodeList(r.Groups)
		started, _ := encodeTime(r.StartedAt)
		if _, err := tx.Exec(`INSERT INTO statements (`+rowStatementColumns+`)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.SessionID, r.Seq, r.Text, params, int64(r.Class), string(r.Decision), r.Rule, started,
			int64(r.Duration), r.Rows, r.Tag, r.Status, r.Error, r.Subject, groups, r.Connection,
			int64(r.RequestSeq), int64(r.ResultSeq), r.ReviewID); err != nil {
			t.Fatal(err)
		}
		want[session] = append([]*sluice.StatementRecord{r}, want[session]...) // seq descends
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	old.Close()

	handles := make([]*DB, 2)
	errs := make(chan error, len(handles))
	for i := range handles {
		go func() {
			var err error
			handles[i], err = Open(ctx, path)
			errs <- err
		}()
	}
	for range handles {
		if err := <-errs; err != nil {
			t.Fatalf("Open: %v", err)
		}
	}
	for _, d := range handles {
		defer d.Close()
	}
	d := handles[0]
	for session, w := range want {
		got, err := d.ListStatements(ctx, session)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(w) {
			t.Fatalf("%s: %d statements after the upgrade, want %d", session, len(got), len(w))
		}
		for i := range w {
			if !reflect.DeepEqual(got[i], w[i]) {
				t.Fatalf("%s statement %d = %+v, want %+v", session, i, got[i], w[i])
			}
		}
	}
	var total, left int
	if err := d.read.QueryRow(`SELECT sum(n) FROM statement_chunks`).Scan(&total); err != nil || total != n {
		t.Errorf("statement_chunks hold %d statements (%v), want %d", total, err, n)
	}
	if err := d.read.QueryRow(rowTableExists).Scan(&left); err != nil || left != 0 {
		t.Errorf("statements_by_row still exists (%d, %v)", left, err)
	}
	byReview, err := d.SearchStatements(ctx, store.StatementFilter{ReviewID: "rv-1"})
	if err != nil || len(byReview) != 1 || byReview[0].ID != "q04321" {
		t.Errorf("search by review after the upgrade = %v, %v", byReview, err)
	}
}
