package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

var indexTests = []test{
	{"RoundTrip", testIndexRoundTrip},
	{"ReapplyIsIdempotent", testIndexReapply},
	{"PresentRowsAreKept", testIndexKeepsPresent},
	{"LargeBatch", testIndexLargeBatch},
	{"Ends", testIndexEnds},
	{"SeqOnlyGrows", testIndexSeq},
	{"BatchIsAtomic", testIndexAtomic},
	{"EmptyBatch", testIndexEmpty},
	{"StatementsWithoutSession", testIndexWithoutSession},
	{"Reset", testIndexReset},
	{"ConcurrentReapply", testIndexConcurrent},
}

// mustApply applies b or fails the test.
func mustApply(t *testing.T, st store.Store, b *store.IndexBatch) {
	t.Helper()
	if err := st.ApplyIndex(context.Background(), b); err != nil {
		t.Fatalf("ApplyIndex: %v", err)
	}
}

// mustIndexedSeq returns the indexed position or fails the test.
func mustIndexedSeq(t *testing.T, st store.Store) uint64 {
	t.Helper()
	seq, err := st.IndexedSeq(context.Background())
	if err != nil {
		t.Fatalf("IndexedSeq: %v", err)
	}
	return seq
}

// mustSearch returns the statements matching f or fails the test.
func mustSearch(t *testing.T, st store.Store, f store.StatementFilter) []*sluice.StatementRecord {
	t.Helper()
	got, err := st.SearchStatements(context.Background(), f)
	if err != nil {
		t.Fatalf("SearchStatements(%+v): %v", f, err)
	}
	return got
}

// sessionIDs returns the ids of every session, newest first.
func sessionIDs(t *testing.T, st store.Store) []string {
	t.Helper()
	ss, err := st.ListSessions(context.Background(), store.SessionFilter{Limit: 10000})
	if err != nil {
		t.Fatalf("ListSessions: %v", err)
	}
	var ids []string
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	return ids
}

// statementIDs returns the ids of rs in order.
func statementIDs(rs []*sluice.StatementRecord) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

// indexBatch returns a batch that starts s1 and s2, ends s1, and adds two
// statements of s1 and one of s2, at position seq.
func indexBatch(seq uint64) *store.IndexBatch {
	s1, s2 := fullSession("s1", at(0)), fullSession("s2", at(time.Second))
	s1.StartSeq, s2.StartSeq = 1, 2
	return &store.IndexBatch{
		Sessions:   []*sluice.Session{s1, s2},
		Ends:       []store.SessionEnd{{ID: "s1", At: at(time.Minute), Reason: sluice.EndClient}},
		Statements: []*sluice.StatementRecord{statement("r1", "s1", 1), statement("r2", "s1", 2), statement("o1", "s2", 1)},
		Seq:        seq,
	}
}

func testIndexRoundTrip(t *testing.T, st store.Store) {
	if seq := mustIndexedSeq(t, st); seq != 0 {
		t.Fatalf("IndexedSeq of an empty store = %d, want 0", seq)
	}
	b := indexBatch(42)
	mustApply(t, st, b)

	s1 := *b.Sessions[0]
	s1.EndedAt, s1.EndReason = at(time.Minute), sluice.EndClient
	equalSession(t, mustGetSession(t, st, "s1"), &s1)
	equalSession(t, mustGetSession(t, st, "s2"), b.Sessions[1]) // still open
	equalStatements(t, mustList(t, st, "s1"), b.Statements[:2])
	equalStatements(t, mustList(t, st, "s2"), b.Statements[2:])
	if seq := mustIndexedSeq(t, st); seq != 42 {
		t.Errorf("IndexedSeq = %d, want 42", seq)
	}
	// The caller's records are not modified.
	if !b.Sessions[0].EndedAt.IsZero() {
		t.Error("ApplyIndex modified the batch's session")
	}
}

func testIndexReapply(t *testing.T, st store.Store) {
	// After a crash the indexer cannot know whether its last batch was
	// committed, so it applies it again: nothing may be doubled.
	mustApply(t, st, indexBatch(42))
	mustApply(t, st, indexBatch(42))
	if ids := sessionIDs(t, st); !slices.Equal(ids, []string{"s2", "s1"}) {
		t.Errorf("sessions after applying a batch twice = %v, want [s2 s1]", ids)
	}
	b := indexBatch(42)
	equalStatements(t, mustList(t, st, "s1"), b.Statements[:2])
	equalStatements(t, mustList(t, st, "s2"), b.Statements[2:])
	if got := mustSearch(t, st, store.StatementFilter{}); len(got) != 3 {
		t.Errorf("search after applying a batch twice = %v, want 3 statements", statementIDs(got))
	}
	if got := mustGetSession(t, st, "s1"); !norm(got.EndedAt).Equal(norm(at(time.Minute))) {
		t.Errorf("s1 ended at %v, want %v", got.EndedAt, at(time.Minute))
	}
	if seq := mustIndexedSeq(t, st); seq != 42 {
		t.Errorf("IndexedSeq = %d, want 42", seq)
	}
}

func testIndexKeepsPresent(t *testing.T, st store.Store) {
	first := indexBatch(10)
	mustApply(t, st, first)
	// The same ids with other contents, and a duplicate inside one batch:
	// what is stored first stays.
	again := indexBatch(11)
	again.Sessions[0].Connection, again.Sessions[0].StartSeq = "billing", 99
	again.Statements[0].Text, again.Statements[0].ResultSeq = "DROP TABLE orders", 999
	dup := statement("r3", "s1", 3)
	dupLater := statement("r3", "s1", 3)
	dupLater.Text = "the second r3"
	again.Statements = append(again.Statements, dup, dupLater)
	mustApply(t, st, again)

	s1 := *first.Sessions[0]
	s1.EndedAt, s1.EndReason = at(time.Minute), sluice.EndClient
	equalSession(t, mustGetSession(t, st, "s1"), &s1)
	equalStatements(t, mustList(t, st, "s1"), []*sluice.StatementRecord{first.Statements[0], first.Statements[1], dup})
	if seq := mustIndexedSeq(t, st); seq != 11 {
		t.Errorf("IndexedSeq = %d, want 11", seq)
	}

	// A stalled indexer applies later batches and then the journal again
	// from where it stopped: the first batch, after newer statements of
	// its sessions, still stores nothing twice.
	later := &store.IndexBatch{Seq: 20, Statements: []*sluice.StatementRecord{
		statement("r4", "s1", 4), statement("r5", "s1", 5), statement("o2", "s2", 2)}}
	mustApply(t, st, later)
	mustApply(t, st, indexBatch(10))
	equalStatements(t, mustList(t, st, "s1"),
		[]*sluice.StatementRecord{first.Statements[0], first.Statements[1], dup, later.Statements[0], later.Statements[1]})
	equalStatements(t, mustList(t, st, "s2"), []*sluice.StatementRecord{first.Statements[2], later.Statements[2]})
}

func testIndexLargeBatch(t *testing.T, st store.Store) {
	// A busy gateway's batch holds hundreds of statements, which a backend
	// may write several rows at a time: each row must come back as it went
	// in, a row stored before is kept, and of two with one id in the batch
	// the first stays, wherever they fall among the rows written together.
	old := statement("r050", "s1", 51)
	old.Text = "SELECT 'stored before'"
	mustApply(t, st, &store.IndexBatch{Sessions: []*sluice.Session{fullSession("s1", at(0))},
		Statements: []*sluice.StatementRecord{old}})

	b := &store.IndexBatch{Seq: 700}
	var want []*sluice.StatementRecord
	for i := range 301 {
		r := statement(fmt.Sprintf("r%03d", i), "s1", int64(i+1))
		r.Text = fmt.Sprintf("SELECT %d FROM orders", i)
		r.Params = []*string{ptr(fmt.Sprint(i)), nil}
		r.Rows = int64(i * 7)
		r.Subject = fmt.Sprintf("agent-%d", i%3)
		b.Statements = append(b.Statements, r)
		want = append(want, r)
	}
	want[50] = old
	again := statement("r007", "s1", 8)
	again.Text = "the second r007"
	b.Statements = append(b.Statements, again)
	mustApply(t, st, b)

	equalStatements(t, mustList(t, st, "s1"), want)
	if seq := mustIndexedSeq(t, st); seq != 700 {
		t.Errorf("IndexedSeq = %d, want 700", seq)
	}
}

func testIndexEnds(t *testing.T, st store.Store) {
	// An end in the batch that starts the session; a second end in the same
	// batch and one in a later batch change nothing.
	s1, s2 := fullSession("s1", at(0)), fullSession("s2", at(0))
	mustApply(t, st, &store.IndexBatch{
		Sessions: []*sluice.Session{s1, s2},
		Ends: []store.SessionEnd{
			{ID: "s1", At: at(time.Minute), Reason: sluice.EndClient},
			{ID: "s1", At: at(2 * time.Minute), Reason: sluice.EndShutdown},
			{ID: "gone", At: at(time.Minute), Reason: sluice.EndClient}, // unknown: ignored
		},
	})
	mustApply(t, st, &store.IndexBatch{Ends: []store.SessionEnd{
		{ID: "s1", At: at(time.Hour), Reason: sluice.EndUpstream},
		{ID: "s2", At: at(3 * time.Minute), Reason: sluice.EndProtocol},
	}})
	s1.EndedAt, s1.EndReason = at(time.Minute), sluice.EndClient
	s2.EndedAt, s2.EndReason = at(3*time.Minute), sluice.EndProtocol
	equalSession(t, mustGetSession(t, st, "s1"), s1)
	equalSession(t, mustGetSession(t, st, "s2"), s2)
	if _, err := st.GetSession(context.Background(), "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(gone) = %v, want ErrNotFound: an end must not create a session", err)
	}
	// An end alone, for an unknown session, is no error either.
	mustApply(t, st, &store.IndexBatch{Ends: []store.SessionEnd{{ID: "nope", At: at(0), Reason: sluice.EndClient}}})
	if ids := sessionIDs(t, st); len(ids) != 2 {
		t.Errorf("sessions = %v, want s1 and s2 only", ids)
	}
}

func testIndexSeq(t *testing.T, st store.Store) {
	for i, c := range []struct {
		b    *store.IndexBatch
		want uint64
	}{
		{&store.IndexBatch{Seq: 10}, 10},                                               // a position alone
		{&store.IndexBatch{Seq: 5}, 10},                                                // smaller: kept
		{&store.IndexBatch{Sessions: []*sluice.Session{fullSession("s1", at(0))}}, 10}, // 0: kept
		{&store.IndexBatch{Statements: []*sluice.StatementRecord{statement("r1", "s1", 1)}, Seq: 12}, 12},
		{&store.IndexBatch{Seq: 1<<63 - 1}, 1<<63 - 1},
	} {
		mustApply(t, st, c.b)
		if got := mustIndexedSeq(t, st); got != c.want {
			t.Fatalf("step %d: IndexedSeq = %d, want %d", i, got, c.want)
		}
	}
	if got := mustList(t, st, "s1"); len(got) != 1 {
		t.Errorf("s1 has %d statements, want 1", len(got))
	}
}

func testIndexAtomic(t *testing.T, st store.Store) {
	ctx := context.Background()
	mustApply(t, st, &store.IndexBatch{Seq: 7})
	bad := []struct {
		name  string
		spoil func(b *store.IndexBatch)
	}{
		{"nil statement", func(b *store.IndexBatch) { b.Statements = append(b.Statements, nil) }},
		{"nil session", func(b *store.IndexBatch) { b.Sessions = append(b.Sessions, nil) }},
		{"session without start", func(b *store.IndexBatch) { b.Sessions[1].StartedAt = time.Time{} }},
		{"end without time", func(b *store.IndexBatch) { b.Ends[0].At = time.Time{} }},
		{"position too large", func(b *store.IndexBatch) { b.Seq = 1 << 63 }},
		{"statement seq too large", func(b *store.IndexBatch) { b.Statements[2].ResultSeq = 1 << 63 }},
	}
	for _, c := range bad {
		b := indexBatch(50)
		c.spoil(b)
		if err := st.ApplyIndex(ctx, b); err == nil {
			t.Errorf("%s: ApplyIndex succeeded, want an error", c.name)
		}
	}
	if ids := sessionIDs(t, st); len(ids) != 0 {
		t.Errorf("failed batches left sessions %v behind", ids)
	}
	if got := mustSearch(t, st, store.StatementFilter{}); len(got) != 0 {
		t.Errorf("failed batches left statements %v behind", statementIDs(got))
	}
	if seq := mustIndexedSeq(t, st); seq != 7 {
		t.Errorf("IndexedSeq = %d after failed batches, want 7", seq)
	}
}

func testIndexEmpty(t *testing.T, st store.Store) {
	ctx := context.Background()
	if err := st.ApplyIndex(ctx, nil); err != nil {
		t.Errorf("ApplyIndex(nil) = %v, want nil", err)
	}
	if err := st.ApplyIndex(ctx, &store.IndexBatch{}); err != nil {
		t.Errorf("ApplyIndex(empty) = %v, want nil", err)
	}
	if seq := mustIndexedSeq(t, st); seq != 0 {
		t.Errorf("IndexedSeq = %d, want 0", seq)
	}
}

func testIndexWithoutSession(t *testing.T, st store.Store) {
	// Journal retention can remove a session's start and keep its later
	// statements: the index takes them, and lists them.
	ctx := context.Background()
	b := &store.IndexBatch{Statements: []*sluice.StatementRecord{
		statement("g2", "gone", 2), statement("g1", "gone", 1),
	}, Ends: []store.SessionEnd{{ID: "gone", At: at(time.Hour), Reason: sluice.EndClient}}}
	mustApply(t, st, b)
	equalStatements(t, mustList(t, st, "gone"), []*sluice.StatementRecord{b.Statements[1], b.Statements[0]})
	if _, err := st.GetSession(ctx, "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(gone) = %v, want ErrNotFound", err)
	}
	if got, err := st.ListStatements(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ListStatements(nope) = %d statements, %v; want ErrNotFound", len(got), err)
	}
	// AddStatements, unlike ApplyIndex, still wants the session.
	if err := st.AddStatements(ctx, []*sluice.StatementRecord{statement("g3", "gone", 3)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddStatements for a session that is not stored = %v, want ErrNotFound", err)
	}
	if got := mustList(t, st, "gone"); len(got) != 2 {
		t.Errorf("gone has %d statements, want 2", len(got))
	}
}

func testIndexReset(t *testing.T, st store.Store) {
	ctx := context.Background()
	mustApply(t, st, indexBatch(42))
	tok := token("t1", at(0))
	mustCreateToken(t, st, tok)
	if err := st.ResetIndex(ctx); err != nil {
		t.Fatalf("ResetIndex: %v", err)
	}
	if ids := sessionIDs(t, st); len(ids) != 0 {
		t.Errorf("sessions after ResetIndex = %v, want none", ids)
	}
	if got := mustSearch(t, st, store.StatementFilter{}); len(got) != 0 {
		t.Errorf("statements after ResetIndex = %v, want none", statementIDs(got))
	}
	if _, err := st.ListStatements(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ListStatements(s1) after ResetIndex = %v, want ErrNotFound", err)
	}
	if seq := mustIndexedSeq(t, st); seq != 0 {
		t.Errorf("IndexedSeq after ResetIndex = %d, want 0", seq)
	}
	equalToken(t, mustGetToken(t, st, "t1"), tok)

	// The index is rebuilt from the start: the same ids, a smaller position.
	mustApply(t, st, indexBatch(3))
	if seq := mustIndexedSeq(t, st); seq != 3 {
		t.Errorf("IndexedSeq after rebuilding = %d, want 3", seq)
	}
	equalStatements(t, mustList(t, st, "s1"), indexBatch(3).Statements[:2])
}

func testIndexConcurrent(t *testing.T, st store.Store) {
	// A rebuild may overlap the gateway's own indexing: the same batches
	// applied at once from several goroutines are stored once, without errors.
	const writers, batches, per = 4, 5, 6
	batch := func(i int) *store.IndexBatch {
		id := fmt.Sprintf("s%d", i)
		b := &store.IndexBatch{Sessions: []*sluice.Session{fullSession(id, at(time.Duration(i)*time.Second))}, Seq: uint64(i + 1)}
		for j := range per {
			b.Statements = append(b.Statements, statement(fmt.Sprintf("%s-r%d", id, j), id, int64(j+1)))
		}
		b.Ends = []store.SessionEnd{{ID: id, At: at(time.Hour), Reason: sluice.EndClient}}
		return b
	}
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for i := range batches {
				if err := st.ApplyIndex(context.Background(), batch(i)); err != nil {
					t.Errorf("ApplyIndex(batch %d): %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	if ids := sessionIDs(t, st); len(ids) != batches {
		t.Errorf("sessions = %v, want %d", ids, batches)
	}
	if got := mustSearch(t, st, store.StatementFilter{Limit: 1000}); len(got) != batches*per {
		t.Errorf("%d statements, want %d", len(got), batches*per)
	}
	if seq := mustIndexedSeq(t, st); seq != batches {
		t.Errorf("IndexedSeq = %d, want %d", seq, batches)
	}
}
