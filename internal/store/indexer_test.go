package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// journal hands out events with consecutive sequence numbers, as the
// journal does.
type journal struct{ seq uint64 }

func (j *journal) next(ev *sluice.Event) *sluice.Event {
	j.seq++
	ev.Seq = j.seq
	if ev.Time.IsZero() {
		ev.Time = t0.Add(time.Duration(j.seq) * time.Millisecond)
	}
	return ev
}

var bot = &sluice.Identity{Subject: "bot", Groups: []string{"agents", "ci"}, Method: sluice.AuthServiceToken, Issuer: "sluice"}

func (j *journal) start(session string) *sluice.Event {
	return j.next(&sluice.Event{Type: sluice.EventSessionStart, Session: session, Identity: bot,
		Connection: "app", Protocol: sluice.ProtoPostgres, ClientAddr: "127.0.0.1:5000"})
}

func (j *journal) end(session string) *sluice.Event {
	return j.next(&sluice.Event{Type: sluice.EventSessionEnd, Session: session, Reason: sluice.EndClient})
}

// request returns the request event of the seq-th request of a session.
func (j *journal) request(session string, seq int64, text string, d sluice.Decision) *sluice.Event {
	req := &sluice.Request{ID: fmt.Sprintf("%s/%d", session, seq), SessionID: session, Seq: seq, Kind: sluice.KindSQL,
		Text: text, Params: []*string{nil}, Class: sluice.ClassRead, Time: t0.Add(time.Duration(seq) * time.Second),
		Subject: bot.Subject, Groups: bot.Groups, Connection: "app", ClientAddr: "127.0.0.1:5000"}
	return j.next(&sluice.Event{Type: sluice.EventRequest, Session: session, Request: req, Decision: &d})
}

// result returns the result event of req, naming req's record as the gate
// writes it.
func (j *journal) result(req *sluice.Event, rows int64) *sluice.Event {
	return j.next(&sluice.Event{Type: sluice.EventResult, Session: req.Session, RequestRef: req.Request.ID,
		RequestSeq: req.Seq, Result: &sluice.Result{Tag: fmt.Sprintf("SELECT %d", rows), Rows: rows,
			Duration: time.Millisecond, Status: sluice.StatusOK}})
}

// fullResult returns the result event of req repeating the request, as
// journals written before results named their requests hold it.
func (j *journal) fullResult(req *sluice.Event, rows int64) *sluice.Event {
	ev := j.result(req, rows)
	ev.Request, ev.RequestRef, ev.RequestSeq = req.Request, "", 0
	return ev
}

var (
	allow = sluice.Decision{Action: sluice.ActionAllow, Policy: "p", Rule: "0"}
	deny  = sluice.Decision{Action: sluice.ActionDeny, Policy: "p", Rule: "3", Message: "no DDL"}
	hold  = sluice.Decision{Action: sluice.ActionReview, Policy: "p", Rule: "1", Message: "needs a DBA"}
)

func TestNewIndexBatch(t *testing.T) {
	var j journal
	start := j.start("s1")                                                                          // 1
	authFail := j.next(&sluice.Event{Type: sluice.EventAuthFailure, Reason: "no grant"})            // 2
	sel := j.request("s1", 1, "select 1", allow)                                                    // 3
	drop := j.request("s1", 2, "drop table t", deny)                                                // 4
	del := j.request("s1", 3, "delete from t", hold)                                                // 5
	res := j.result(sel, 1)                                                                         // 6
	delOut := j.next(&sluice.Event{Type: sluice.EventDecision, Session: "s1", Request: del.Request, // 7
		Decision: &sluice.Decision{Action: sluice.ActionDeny, ReviewID: "rv_1", Message: "denied by alice in review rv_1"}})
	end := j.end("s1") // 8
	var pending store.Pending
	got := store.NewIndexBatch([]*sluice.Event{start, authFail, sel, drop, nil, del, res, delOut, end}, &pending)

	stmt := func(ev *sluice.Event) *sluice.StatementRecord {
		r := ev.Request
		return &sluice.StatementRecord{ID: r.ID, SessionID: "s1", Seq: r.Seq, Text: r.Text, Params: r.Params,
			Class: r.Class, StartedAt: r.Time, Subject: "bot", Groups: []string{"agents", "ci"}, Connection: "app",
			RequestSeq: ev.Seq}
	}
	wantDrop := stmt(drop)
	wantDrop.Decision, wantDrop.Rule, wantDrop.Status, wantDrop.Error = sluice.ActionDeny, "p/3", sluice.StatusDenied, "no DDL"
	wantDel := stmt(del)
	wantDel.Decision, wantDel.Rule, wantDel.Status, wantDel.Error = sluice.ActionReview, "p/1", sluice.StatusDenied, "denied by alice in review rv_1"
	wantDel.ReviewID = "rv_1"
	wantSel := stmt(sel)
	wantSel.Decision, wantSel.Rule, wantSel.Status, wantSel.ResultSeq = sluice.ActionAllow, "p/0", sluice.StatusOK, 6
	wantSel.Rows, wantSel.Tag, wantSel.Duration = 1, "SELECT 1", time.Millisecond
	want := &store.IndexBatch{
		Sessions: []*sluice.Session{{ID: "s1", Identity: *bot, Connection: "app", Protocol: sluice.ProtoPostgres,
			ClientAddr: "127.0.0.1:5000", StartedAt: start.Time, StartSeq: 1}},
		Ends:       []store.SessionEnd{{ID: "s1", At: end.Time, Reason: sluice.EndClient}},
		Statements: []*sluice.StatementRecord{wantDrop, wantSel, wantDel},
		Seq:        8,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NewIndexBatch =\n%s\nwant\n%s", show(got), show(want))
	}
	if pending.Len() != 0 {
		t.Errorf("%d requests still pending, want 0", pending.Len())
	}

	// Events that index nothing still move the position.
	only := store.NewIndexBatch([]*sluice.Event{j.next(&sluice.Event{Type: sluice.EventAuthFailure})}, &pending)
	if !reflect.DeepEqual(only, &store.IndexBatch{Seq: 9}) {
		t.Errorf("NewIndexBatch(auth failure) = %s, want only Seq 9", show(only))
	}
	if empty := store.NewIndexBatch(nil, &pending); !empty.Empty() {
		t.Errorf("NewIndexBatch(nil) = %s, want an empty batch", show(empty))
	}
}

// TestNewIndexBatchHeld indexes a script left for its review as held.
func TestNewIndexBatchHeld(t *testing.T) {
	var j journal
	var pending store.Pending
	start := j.start("s1")
	run := j.request("s1", 1, "update t set a = 1 where a = 2; insert into t values (3)", hold)
	left := j.next(&sluice.Event{Type: sluice.EventDecision, Session: "s1", Request: run.Request,
		Decision: &sluice.Decision{Action: sluice.ActionReview, ReviewID: "rv_2", Message: "not run yet: left for review rv_2"}})
	b := store.NewIndexBatch([]*sluice.Event{start, run, left, j.end("s1")}, &pending)
	if len(b.Statements) != 1 {
		t.Fatalf("statements %s", show(b))
	}
	r := b.Statements[0]
	if r.Status != sluice.StatusHeld || r.Decision != sluice.ActionReview || r.ReviewID != "rv_2" || r.RequestSeq != run.Seq || r.ResultSeq != 0 {
		t.Fatalf("held script indexed as %s", show(r))
	}
}

func TestNewIndexBatchAcrossBatches(t *testing.T) {
	var j journal
	var pending store.Pending
	start := j.start("s1")
	a := j.request("s1", 1, "select 1", allow) // seq 2
	b := j.request("s1", 2, "select 2", allow) // seq 3
	first := store.NewIndexBatch([]*sluice.Event{start, a, b}, &pending)
	if len(first.Statements) != 0 || first.Seq != 3 || pending.Len() != 2 {
		t.Fatalf("first batch = %s with %d pending; want no statements, Seq 3, 2 pending", show(first), pending.Len())
	}

	// The results come in a later batch, out of order.
	rb, ra := j.result(b, 2), j.result(a, 1) // seq 4, 5
	second := store.NewIndexBatch([]*sluice.Event{rb, ra}, &pending)
	if second.Seq != 5 || len(second.Statements) != 2 {
		t.Fatalf("second batch = %s; want 2 statements, Seq 5", show(second))
	}
	for i, want := range []struct {
		id                string
		request, response uint64
	}{{"s1/2", 3, 4}, {"s1/1", 2, 5}} {
		r := second.Statements[i]
		if r.ID != want.id || r.RequestSeq != want.request || r.ResultSeq != want.response || r.Rule != "p/0" || r.Decision != sluice.ActionAllow {
			t.Errorf("statement %d = %s; want %s with request seq %d, result seq %d, rule p/0",
				i, show(r), want.id, want.request, want.response)
		}
	}
	if pending.Len() != 0 {
		t.Errorf("%d requests still pending, want 0", pending.Len())
	}

	// A result whose request was never seen (a rebuild that starts after
	// it) is indexed without the request's rule, with what the result
	// says of its request: the ID and position it names, and the request
	// itself once journal.Requests joined it.
	unseen := j.request("s9", 1, "select 9", allow)
	orphan := j.result(unseen, 9)
	third := store.NewIndexBatch([]*sluice.Event{orphan}, &pending)
	if r := third.Statements[0]; r.ID != "s9/1" || r.SessionID != "s9" || r.RequestSeq != unseen.Seq || r.ResultSeq != orphan.Seq ||
		r.Rule != "" || r.Decision != sluice.ActionAllow || r.Text != "" || r.Rows != 9 {
		t.Errorf("statement of an unseen request = %s", show(r))
	}
	joined := j.result(unseen, 9)
	joined.Request = unseen.Request
	if r := store.NewIndexBatch([]*sluice.Event{joined}, &pending).Statements[0]; r.Text != "select 9" || r.RequestSeq != unseen.Seq {
		t.Errorf("statement of an unseen request, joined = %s", show(r))
	}
	// A result from an older journal repeats its request, without its
	// position.
	old := j.fullResult(j.request("s8", 1, "select 8", allow), 8)
	if r := store.NewIndexBatch([]*sluice.Event{old}, &pending).Statements[0]; r.RequestSeq != 0 || r.Text != "select 8" || r.ResultSeq != old.Seq {
		t.Errorf("statement of an older journal's result = %s", show(r))
	}
	// Without a Pending at all, the result's own.
	if r := store.NewIndexBatch([]*sluice.Event{a, ra}, nil).Statements[0]; r.RequestSeq != 2 || r.ResultSeq != 5 || r.Rule != "" {
		t.Errorf("statement with a nil Pending = %s", show(r))
	}
}

// TestNewIndexBatchOlderResults indexes a journal written before results
// named their requests: each result repeats its request.
func TestNewIndexBatchOlderResults(t *testing.T) {
	var j journal
	var pending store.Pending
	start := j.start("s1")
	a := j.request("s1", 1, "select 1", allow)
	b := store.NewIndexBatch([]*sluice.Event{start, a, j.fullResult(a, 1)}, &pending)
	if len(b.Statements) != 1 || pending.Len() != 0 {
		t.Fatalf("batch %s, %d pending", show(b), pending.Len())
	}
	if r := b.Statements[0]; r.Text != "select 1" || r.RequestSeq != a.Seq || r.Rule != "p/0" || r.ResultSeq != 3 {
		t.Errorf("statement = %s", show(r))
	}
}

func TestNewIndexBatchEndDropsPending(t *testing.T) {
	// A session that ends with a request in flight (a crash of the
	// listener) must not keep its request in memory forever.
	var j journal
	var pending store.Pending
	a := j.request("s1", 1, "select 1", allow)
	b := j.request("s2", 1, "select 1", allow)
	c := j.request("s1", 2, "select 2", allow)
	store.NewIndexBatch([]*sluice.Event{a, b, c}, &pending)
	if pending.Len() != 3 {
		t.Fatalf("%d pending, want 3", pending.Len())
	}
	store.NewIndexBatch([]*sluice.Event{j.end("s1")}, &pending)
	if pending.Len() != 1 {
		t.Fatalf("%d pending after s1 ended, want 1 (s2's)", pending.Len())
	}
	got := store.NewIndexBatch([]*sluice.Event{j.result(b, 1)}, &pending)
	if r := got.Statements[0]; r.ID != "s2/1" || r.RequestSeq != b.Seq {
		t.Errorf("s2's result = %s, want request seq %d", show(r), b.Seq)
	}
	// A result that comes after its session's end (a front door that
	// closes sessions while their last requests finish) still finds its
	// request, within a bound.
	got = store.NewIndexBatch([]*sluice.Event{j.result(c, 2)}, &pending)
	if r := got.Statements[0]; r.Text != "select 2" || r.Subject != "bot" || r.RequestSeq != c.Seq || r.Rule != "p/0" {
		t.Errorf("the result after s1's end = %s", show(r))
	}
	var first *sluice.Event
	for i := range 3 * 512 {
		req := j.request(fmt.Sprintf("x%d", i), 1, "select x", allow)
		if i == 0 {
			first = req
		}
		store.NewIndexBatch([]*sluice.Event{req, j.end(req.Session)}, &pending)
	}
	if r := store.NewIndexBatch([]*sluice.Event{j.result(first, 0)}, &pending).Statements[0]; r.Text != "" || r.RequestSeq != first.Seq {
		t.Errorf("the oldest ended session's request is still kept: %s", show(r))
	}
}

// openStore opens a new SQLite store that the test closes at its end.
func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// startIndexer starts an indexer on st that the test closes at its end.
func startIndexer(t *testing.T, st store.IndexStore) *store.Indexer {
	ix := store.NewIndexer(st, nil, 16)
	ix.Start()
	t.Cleanup(func() { ix.Close() })
	return ix
}

func record(t *testing.T, ix *store.Indexer, events ...*sluice.Event) {
	t.Helper()
	for _, ev := range events {
		if err := ix.Record(context.Background(), ev); err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
}

func flush(t *testing.T, ix *store.Indexer) {
	t.Helper()
	if err := ix.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func indexedSeq(t *testing.T, st store.Store) uint64 {
	t.Helper()
	seq, err := st.IndexedSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func TestIndexer(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	ix := store.NewIndexer(st, nil, 16)
	ix.Start()

	var j journal
	start := j.start("s1")                                   // 1
	sel := j.request("s1", 1, "select 1", allow)             // 2
	drop := j.request("s1", 2, "drop table t", deny)         // 3
	orphan := j.request("gone", 1, "select 'orphan'", allow) // 4
	// The result of a session whose start is not indexed is indexed.
	orphanRes := j.result(orphan, 0) // 5
	selRes := j.result(sel, 1)       // 6
	record(t, ix, start, sel, drop, orphan, orphanRes, selRes)
	// Flush makes what was recorded visible, without Close.
	flush(t, ix)
	if seq := indexedSeq(t, st); seq != 6 {
		t.Errorf("IndexedSeq = %d, want 6", seq)
	}
	stmts, err := st.ListStatements(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 {
		t.Fatalf("%d statements, want 2: %s", len(stmts), show(stmts))
	}
	if a := stmts[0]; a.Text != "select 1" || a.Decision != sluice.ActionAllow || a.Rule != "p/0" || a.Rows != 1 ||
		a.Status != sluice.StatusOK || a.Tag != "SELECT 1" || a.RequestSeq != 2 || a.ResultSeq != 6 ||
		a.Subject != "bot" || a.Connection != "app" || !reflect.DeepEqual(a.Groups, bot.Groups) {
		t.Errorf("allowed = %s", show(a))
	}
	if d := stmts[1]; d.Text != "drop table t" || d.Decision != sluice.ActionDeny || d.Rule != "p/3" ||
		d.Status != sluice.StatusDenied || d.Error != "no DDL" || d.RequestSeq != 3 || d.ResultSeq != 0 {
		t.Errorf("denied = %s", show(d))
	}
	if got, err := st.ListStatements(ctx, "gone"); err != nil || len(got) != 1 || got[0].ResultSeq != 5 {
		t.Errorf("ListStatements(gone) = %s, %v; want the orphan's statement", show(got), err)
	}
	if s, err := st.GetSession(ctx, "s1"); err != nil || !s.EndedAt.IsZero() || s.StartSeq != 1 || s.Identity.Subject != "bot" {
		t.Errorf("GetSession(s1) = %s, %v; want open, start seq 1", show(s), err)
	}

	// Close writes what is buffered.
	record(t, ix, j.end("s1"))
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := ix.Record(ctx, j.start("s2")); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Record after Close = %v, want ErrClosed", err)
	}
	if err := ix.Flush(ctx); err != nil {
		t.Errorf("Flush after Close = %v, want nil: everything was written", err)
	}
	s, err := st.GetSession(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if s.EndReason != sluice.EndClient || !s.EndedAt.Equal(t0.Add(7*time.Millisecond)) {
		t.Errorf("session = %s, want ended by the client at +7ms", show(s))
	}
	if seq := indexedSeq(t, st); seq != 7 {
		t.Errorf("IndexedSeq = %d, want 7", seq)
	}
}

func TestIndexerResultInLaterBatch(t *testing.T) {
	st := openStore(t)
	ix := startIndexer(t, st)
	var j journal
	start := j.start("s1")
	req := j.request("s1", 1, "select 1", allow)
	record(t, ix, start, req)
	flush(t, ix) // the request's batch is written without its result
	if got, _ := st.ListStatements(context.Background(), "s1"); len(got) != 0 {
		t.Fatalf("an allowed request without its result was indexed: %s", show(got))
	}
	record(t, ix, j.result(req, 3))
	flush(t, ix)
	got, err := st.ListStatements(context.Background(), "s1")
	if err != nil || len(got) != 1 {
		t.Fatalf("ListStatements = %s, %v; want one statement", show(got), err)
	}
	if r := got[0]; r.RequestSeq != 2 || r.ResultSeq != 3 || r.Rule != "p/0" || r.Rows != 3 {
		t.Errorf("statement = %s, want request seq 2, result seq 3, rule p/0", show(r))
	}
}

func TestIndexReapply(t *testing.T) {
	// After a crash, the journal is replayed from the indexed position,
	// which may repeat events already indexed: they are stored once.
	ctx := context.Background()
	st := openStore(t)
	var j journal
	start := j.start("s1")
	req := j.request("s1", 1, "select 1", allow)
	drop := j.request("s1", 2, "drop table t", deny)
	events := []*sluice.Event{start, req, drop, j.result(req, 1), j.end("s1")}
	b := store.NewIndexBatch(events, &store.Pending{})
	for range 2 {
		if err := st.ApplyIndex(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// And once more through an indexer, which builds its own batches.
	ix := startIndexer(t, st)
	record(t, ix, events...)
	flush(t, ix)

	got, err := st.SearchStatements(ctx, store.StatementFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "s1/2" || got[1].ID != "s1/1" {
		t.Errorf("statements = %s, want s1/2 and s1/1 once each", show(got))
	}
	ss, err := st.ListSessions(ctx, store.SessionFilter{})
	if err != nil || len(ss) != 1 {
		t.Errorf("ListSessions = %d sessions, %v; want 1", len(ss), err)
	}
	if seq := indexedSeq(t, st); seq != 5 {
		t.Errorf("IndexedSeq = %d, want 5", seq)
	}
}

func TestIndexerManyEvents(t *testing.T) {
	// More events than one batch holds, with requests and their results
	// falling into different batches.
	ctx := context.Background()
	st := openStore(t)
	ix := store.NewIndexer(st, nil, 100_000)
	ix.Start()
	defer ix.Close()
	var j journal
	record(t, ix, j.start("s1"))
	const n = 3000
	wantReq, wantRes := map[string]uint64{}, map[string]uint64{}
	var prev *sluice.Event
	result := func(req *sluice.Event) {
		res := j.result(req, 1)
		record(t, ix, res)
		wantRes[req.Request.ID] = res.Seq
	}
	for i := range n {
		req := j.request("s1", int64(i+1), fmt.Sprintf("select %d", i), allow)
		record(t, ix, req)
		wantReq[req.Request.ID] = req.Seq
		if prev != nil {
			result(prev)
		}
		prev = req
	}
	result(prev)
	flush(t, ix)
	got, err := st.SearchStatements(ctx, store.StatementFilter{Limit: 2 * n})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d statements indexed, want %d", len(got), n)
	}
	for _, r := range got {
		if r.RequestSeq != wantReq[r.ID] || r.ResultSeq != wantRes[r.ID] || r.RequestSeq == 0 {
			t.Fatalf("statement %s has request seq %d, result seq %d; want %d, %d",
				r.ID, r.RequestSeq, r.ResultSeq, wantReq[r.ID], wantRes[r.ID])
		}
	}
	if seq := indexedSeq(t, st); seq != j.seq {
		t.Errorf("IndexedSeq = %d, want %d", seq, j.seq)
	}
}

func TestIndexerFailure(t *testing.T) {
	// A record the store refuses (SQLite cannot hold the year 3000) fails
	// the Flush that covers it, loses only itself, and stops the indexed
	// position, so that a replay from there can fill the hole.
	ctx := context.Background()
	st := openStore(t)
	ix := startIndexer(t, st)
	var j journal
	record(t, ix, j.start("s1"))
	flush(t, ix)

	s2 := j.start("s2")
	bad := j.next(&sluice.Event{Type: sluice.EventSessionStart, Session: "future", Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)})
	record(t, ix, s2, bad, j.request("s1", 1, "drop table t", deny))
	err := ix.Flush(ctx)
	if err == nil || !strings.Contains(err.Error(), "outside the storable range") {
		t.Fatalf("Flush = %v, want the store's error", err)
	}
	for _, id := range []string{"s1", "s2"} {
		if _, err := st.GetSession(ctx, id); err != nil {
			t.Errorf("GetSession(%s) = %v: a good record of a failed batch was lost", id, err)
		}
	}
	if got, err := st.ListStatements(ctx, "s1"); err != nil || len(got) != 1 {
		t.Errorf("ListStatements(s1) = %s, %v; want the denied statement", show(got), err)
	}
	if seq := indexedSeq(t, st); seq != 1 {
		t.Errorf("IndexedSeq = %d after a failed write, want 1", seq)
	}

	// Later writes succeed but leave the position where it was, and a
	// Flush still says that the index has a hole.
	record(t, ix, j.end("s2"))
	if err := ix.Flush(ctx); err == nil {
		t.Error("Flush after a failed write = nil, want the failure")
	}
	if s, err := st.GetSession(ctx, "s2"); err != nil || s.EndReason != sluice.EndClient {
		t.Errorf("GetSession(s2) = %s, %v; want ended", show(s), err)
	}
	if seq := indexedSeq(t, st); seq != 1 {
		t.Errorf("IndexedSeq = %d, want it kept at 1", seq)
	}
}

func TestIndexerFlushWaitsForTheStore(t *testing.T) {
	// While another connection holds the database's write lock, the writer
	// cannot finish, so a Flush with a canceled context gives up, and one
	// without returns once the lock is released.
	ctx := context.Background()
	st := openStore(t)
	ix := startIndexer(t, st)

	other, err := sql.Open("sqlite3", st.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	var j journal
	record(t, ix, j.start("s1"))
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := ix.Flush(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush(canceled) while the store is locked = %v, want context.Canceled", err)
	}
	done := make(chan error, 1)
	go func() { done <- ix.Flush(ctx) }()
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Flush = %v", err)
	}
	if _, err := st.GetSession(ctx, "s1"); err != nil {
		t.Errorf("GetSession after Flush = %v", err)
	}
}

// show renders v for a failure message.
func show(v any) string { return fmt.Sprintf("%+v", deref(v)) }

func deref(v any) any {
	rv := reflect.ValueOf(v)
	switch {
	case !rv.IsValid():
		return nil
	case rv.Kind() == reflect.Pointer && !rv.IsNil():
		return rv.Elem().Interface()
	case rv.Kind() == reflect.Slice:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = deref(rv.Index(i).Interface())
		}
		return out
	}
	return v
}
