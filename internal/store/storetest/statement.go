package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

var statementTests = []test{
	{"RoundTrip", testStatementRoundTrip},
	{"SameSeqKeepsInsertionOrder", testStatementSameSeq},
	{"BatchIsAtomic", testStatementBatchAtomic},
	{"UnknownSession", testStatementUnknownSession},
	{"EmptyBatch", testStatementEmptyBatch},
	{"LargeBatch", testStatementLargeBatch},
	{"InvalidUTF8AndNUL", testStatementOddBytes},
}

// statement returns a statement record with every field set.
func statement(id, session string, seq int64) *sluice.StatementRecord {
	return &sluice.StatementRecord{
		ID:        id,
		SessionID: session,
		Seq:       seq,
		Text:      "SELECT * FROM orders WHERE id = $1",
		Params:    []*string{ptr("42")},
		Class:     sluice.ClassRead,
		Decision:  sluice.ActionAllow,
		Rule:      "agents-orders/0",
		StartedAt: at(time.Duration(seq) * time.Second),
		Duration:  time.Duration(seq) * 1_234_567,
		Rows:      seq * 10,
		Tag:       "SELECT 10",
		Status:    sluice.StatusOK,
		// The index's fields.
		Subject:    "8f1c2a5e-alice",
		Groups:     []string{"ai-agents", "dba"},
		Connection: "orders",
		RequestSeq: uint64(100 + 2*seq),
		ResultSeq:  uint64(101 + 2*seq),
	}
}

// mustList returns the statements of a session or fails the test.
func mustList(t *testing.T, st store.Store, session string) []*sluice.StatementRecord {
	t.Helper()
	got, err := st.ListStatements(context.Background(), session)
	if err != nil {
		t.Fatalf("ListStatements(%s): %v", session, err)
	}
	return got
}

func testStatementRoundTrip(t *testing.T, st store.Store) {
	ctx := context.Background()
	mustCreateSession(t, st, fullSession("s1", at(0)))
	mustCreateSession(t, st, fullSession("s2", at(0)))

	// Seq 3, 1, 2 in one batch: the list is ordered by Seq, not insertion.
	r3 := statement("r3", "s1", 3)
	r3.Text = "DELETE FROM orders\nWHERE note = 'it''s' -- ünïcödé ✓"
	r3.Params = []*string{nil, ptr(""), ptr(`\x00ff`), nil} // NULLs survive
	r3.Class = sluice.ClassWrite | sluice.ClassDestructive | sluice.ClassUnknown
	r3.Decision = sluice.ActionReview
	r3.Tag, r3.Status, r3.Error = "", sluice.StatusError, "23503: update or delete violates foreign key"
	r3.Rows = 1 << 40
	r3.Duration = 90*time.Second + 123_456_789 // nanoseconds are kept

	r1 := statement("r1", "s1", 1)
	r1.Params = nil // a simple query has no params
	r1.Class = 0

	r2 := statement("r2", "s1", 2)
	r2.Class = sluice.ClassRead | sluice.ClassWrite | sluice.ClassDDL | sluice.ClassDestructive | sluice.ClassPrivileged | sluice.ClassUnknown
	r2.Decision, r2.Rule, r2.Status, r2.Tag = sluice.ActionDeny, "", sluice.StatusDenied, ""
	r2.StartedAt = time.Time{} // zero times round-trip as zero
	r2.Duration, r2.Rows = 0, 0
	r2.ResultSeq, r2.Groups = 0, nil // denied: no result record; no groups
	r2.RequestSeq = 1<<63 - 1        // the largest position a backend must hold
	r2.ReviewID = "rv-9"

	if err := st.AddStatements(ctx, []*sluice.StatementRecord{r3, r1, r2}); err != nil {
		t.Fatalf("AddStatements: %v", err)
	}
	// A second batch appends; another session's statements stay apart.
	r4 := statement("r4", "s1", 4)
	o1 := statement("o1", "s2", 1)
	if err := st.AddStatements(ctx, []*sluice.StatementRecord{r4, o1}); err != nil {
		t.Fatalf("AddStatements: %v", err)
	}

	equalStatements(t, mustList(t, st, "s1"), []*sluice.StatementRecord{r1, r2, r3, r4})
	equalStatements(t, mustList(t, st, "s2"), []*sluice.StatementRecord{o1})
}

func testStatementSameSeq(t *testing.T, st store.Store) {
	// The parts of one multi-statement simple query may share a Seq; the
	// store keeps them all, in the order they were added.
	mustCreateSession(t, st, fullSession("s1", at(0)))
	// Their ids sort against insertion order, so neither can stand in for it.
	a, b, c := statement("q-z", "s1", 1), statement("q-m", "s1", 1), statement("q-a", "s1", 1)
	a.Text, b.Text, c.Text = "BEGIN", "UPDATE t SET x = 1", "COMMIT"
	if err := st.AddStatements(context.Background(), []*sluice.StatementRecord{a, b}); err != nil {
		t.Fatalf("AddStatements: %v", err)
	}
	if err := st.AddStatements(context.Background(), []*sluice.StatementRecord{c}); err != nil {
		t.Fatalf("AddStatements: %v", err)
	}
	equalStatements(t, mustList(t, st, "s1"), []*sluice.StatementRecord{a, b, c})
}

func testStatementBatchAtomic(t *testing.T, st store.Store) {
	ctx := context.Background()
	mustCreateSession(t, st, fullSession("s1", at(0)))

	// A duplicate id inside the batch fails the whole batch.
	dup := []*sluice.StatementRecord{statement("r1", "s1", 1), statement("r2", "s1", 2), statement("r1", "s1", 3)}
	if err := st.AddStatements(ctx, dup); err == nil {
		t.Fatal("AddStatements with a duplicate id succeeded, want an error")
	}
	if got := mustList(t, st, "s1"); len(got) != 0 {
		t.Fatalf("a failed batch left %d statements behind: %s", len(got), show(got))
	}

	// A duplicate of a stored id fails its batch and changes nothing stored.
	first := statement("r1", "s1", 1)
	if err := st.AddStatements(ctx, []*sluice.StatementRecord{first}); err != nil {
		t.Fatalf("AddStatements: %v", err)
	}
	clash := statement("r1", "s1", 9)
	clash.Text = "DROP TABLE orders"
	if err := st.AddStatements(ctx, []*sluice.StatementRecord{statement("r2", "s1", 2), clash}); err == nil {
		t.Fatal("AddStatements reusing a stored id succeeded, want an error")
	}
	equalStatements(t, mustList(t, st, "s1"), []*sluice.StatementRecord{first})
}

func testStatementUnknownSession(t *testing.T, st store.Store) {
	ctx := context.Background()
	mustCreateSession(t, st, fullSession("s1", at(0)))
	batch := []*sluice.StatementRecord{statement("r1", "s1", 1), statement("r2", "nope", 1)}
	if err := st.AddStatements(ctx, batch); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddStatements for an unknown session = %v, want ErrNotFound", err)
	}
	if got := mustList(t, st, "s1"); len(got) != 0 {
		t.Errorf("a failed batch left %d statements behind", len(got))
	}
	if got, err := st.ListStatements(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ListStatements(unknown) = %d statements, %v; want ErrNotFound", len(got), err)
	}
}

func testStatementEmptyBatch(t *testing.T, st store.Store) {
	ctx := context.Background()
	mustCreateSession(t, st, fullSession("s1", at(0)))
	if err := st.AddStatements(ctx, nil); err != nil {
		t.Errorf("AddStatements(nil) = %v, want nil", err)
	}
	if err := st.AddStatements(ctx, []*sluice.StatementRecord{}); err != nil {
		t.Errorf("AddStatements(empty) = %v, want nil", err)
	}
	// A session without statements lists none, without an error.
	if got := mustList(t, st, "s1"); len(got) != 0 {
		t.Errorf("ListStatements = %d statements, want 0", len(got))
	}
}

func testStatementLargeBatch(t *testing.T, st store.Store) {
	// Backends may store large batches another way (PostgreSQL uses COPY):
	// the same round trip and all-or-nothing rules hold.
	ctx := context.Background()
	mustCreateSession(t, st, fullSession("s1", at(0)))
	const n = 200
	batch := func(prefix string) []*sluice.StatementRecord {
		var out []*sluice.StatementRecord
		for i := range n {
			r := statement(fmt.Sprintf("%s%03d", prefix, i), "s1", int64(n-i)) // seq descending
			r.Params = []*string{nil, ptr(fmt.Sprint(i))}
			r.Class = sluice.Class(i % 64)
			if i%3 == 0 {
				r.StartedAt, r.Params = time.Time{}, nil
			}
			out = append(out, r)
		}
		return out
	}

	bad := batch("x")
	bad[n-1].SessionID = "nope"
	if err := st.AddStatements(ctx, bad); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("large batch with an unknown session = %v, want ErrNotFound", err)
	}
	dup := batch("y")
	dup[n-1].ID = dup[0].ID
	if err := st.AddStatements(ctx, dup); err == nil {
		t.Error("large batch with a duplicate id succeeded, want an error")
	}
	if got := mustList(t, st, "s1"); len(got) != 0 {
		t.Fatalf("failed large batches left %d statements behind", len(got))
	}

	good := batch("r")
	if err := st.AddStatements(ctx, good); err != nil {
		t.Fatalf("AddStatements(%d): %v", n, err)
	}
	want := make([]*sluice.StatementRecord, n)
	for i, r := range good {
		want[n-1-i] = r
	}
	equalStatements(t, mustList(t, st, "s1"), want)
}

// sanitized is what a backend that cannot store them (PostgreSQL) makes of
// invalid UTF-8 and NUL bytes: U+FFFD for each run of invalid bytes and for
// each NUL.
func sanitized(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func testStatementOddBytes(t *testing.T, st store.Store) {
	// Clients can send bytes that are not UTF-8. Recording them must not
	// fail: a backend keeps them exactly or replaces them with U+FFFD.
	mustCreateSession(t, st, fullSession("s1", at(0)))
	r := statement("r1", "s1", 1)
	r.Text = "SELECT 'caf\xe9' \x00-- end"
	r.Params = []*string{ptr("a\xffb"), ptr("nul\x00"), nil}
	r.Error = "22021: invalid byte sequence \xff"
	if err := st.AddStatements(context.Background(), []*sluice.StatementRecord{r}); err != nil {
		t.Fatalf("AddStatements with invalid UTF-8 and NUL: %v", err)
	}
	got := mustList(t, st, "s1")
	if len(got) != 1 {
		t.Fatalf("got %d statements, want 1", len(got))
	}
	check := func(what, got, want string) {
		if got != want && got != sanitized(want) {
			t.Errorf("%s = %q, want %q or %q", what, got, want, sanitized(want))
		}
	}
	check("Text", got[0].Text, r.Text)
	check("Error", got[0].Error, r.Error)
	if len(got[0].Params) != 3 || got[0].Params[2] != nil {
		t.Fatalf("Params = %s, want 3 with the last NULL", show(got[0].Params))
	}
	check("Params[0]", *got[0].Params[0], *r.Params[0])
	check("Params[1]", *got[0].Params[1], *r.Params[1])
}
