package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// record writes ev through trail.
func record(t *testing.T, trail *audit.Trail, ev *sluice.Event) {
	t.Helper()
	if err := trail.Record(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

// allowed is the record of req, allowed.
func allowed(req *sluice.Request) *sluice.Event {
	return &sluice.Event{Time: req.Time, Type: sluice.EventRequest, Session: req.SessionID, Request: req,
		Decision: &sluice.Decision{Action: sluice.ActionAllow}}
}

// resultOf is the result of the request recorded as reqEv, naming it as the
// gate does.
func resultOf(reqEv *sluice.Event, rows int64) *sluice.Event {
	return &sluice.Event{Time: reqEv.Time, Type: sluice.EventResult, Session: reqEv.Session, RequestRef: reqEv.Request.ID,
		RequestSeq: reqEv.Seq, Result: &sluice.Result{Status: sluice.StatusOK, Rows: rows}}
}

// session writes one session of n statements through a trail.
func session(t *testing.T, trail *audit.Trail, id string, n int) {
	now := time.Now().UTC()
	record(t, trail, &sluice.Event{Time: now, Type: sluice.EventSessionStart, Session: id, Identity: &sluice.Identity{Subject: "bot"}, Connection: "app"})
	for i := 1; i <= n; i++ {
		req := allowed(&sluice.Request{ID: id + "/" + string(rune('0'+i)), SessionID: id, Seq: int64(i), Text: "select 1", Time: now, Subject: "bot"})
		record(t, trail, req)
		record(t, trail, resultOf(req, 1))
	}
	record(t, trail, &sluice.Event{Time: now, Type: sluice.EventSessionEnd, Session: id, Reason: sluice.EndClient})
}

// onlyStatement returns the one statement the index holds of session.
func onlyStatement(t *testing.T, st store.Store, session string) *sluice.StatementRecord {
	t.Helper()
	stmts, err := st.SearchStatements(context.Background(), store.StatementFilter{Session: session, Limit: 10})
	if err != nil || len(stmts) != 1 {
		t.Fatalf("statements of session %s: %v, %v", session, stmts, err)
	}
	return stmts[0]
}

func count(t *testing.T, st store.Store, sess string) int {
	stmts, err := st.SearchStatements(context.Background(), store.StatementFilter{Session: sess, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(stmts)
}

// openStores opens a state store and a journal in a new directory, which
// the test closes at its end, and returns the journal's directory.
func openStores(t *testing.T) (*sqlite.DB, *journal.Journal, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	j, err := journal.Open(ctx, journal.Options{Dir: jdir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return st, j, jdir
}

// startTrail starts an indexer on st, which the caller closes, and
// returns it with a trail over it and j.
func startTrail(st store.Store, j *journal.Journal) (*store.Indexer, *audit.Trail) {
	ix := store.NewIndexer(st, nil, 0)
	ix.Start()
	return ix, audit.NewTrail(j, ix, nil)
}

func TestCatchUpAndReindex(t *testing.T) {
	ctx := context.Background()
	st, j, jdir := openStores(t)
	ix := store.NewIndexer(st, nil, 0)
	ix.Start()
	session(t, audit.NewTrail(j, ix, nil), "s1", 3)
	ix.Close()

	// A crash after the journal write but before indexing: the second
	// session reaches the journal only (an indexer that is never flushed).
	lost := store.NewIndexer(st, nil, 0)
	session(t, audit.NewTrail(j, lost, nil), "s2", 4)
	j.Close()
	if n := count(t, st, "s2"); n != 0 {
		t.Fatalf("s2 indexed before catch-up: %d", n)
	}

	ix2 := store.NewIndexer(st, nil, 0)
	ix2.Start()
	n, err := audit.CatchUp(ctx, jdir, st, ix2)
	ix2.Close()
	if err != nil || n == 0 {
		t.Fatalf("CatchUp = %d, %v", n, err)
	}
	if a, b := count(t, st, "s1"), count(t, st, "s2"); a != 3 || b != 4 {
		t.Fatalf("after catch-up: s1 %d, s2 %d statements", a, b)
	}
	pos, _ := st.IndexedSeq(ctx)
	if pos != 2+3*2+2+4*2 {
		t.Fatalf("indexed position %d", pos)
	}

	if _, err := audit.Reindex(ctx, jdir, st, nil); err != nil {
		t.Fatal(err)
	}
	if a, b := count(t, st, "s1"), count(t, st, "s2"); a != 3 || b != 4 {
		t.Fatalf("after reindex: s1 %d, s2 %d statements", a, b)
	}
	evs, err := audit.SessionEvents(jdir, &sluice.Session{ID: "s2", StartSeq: 9})
	if err != nil || len(evs) != 10 || evs[9].Type != sluice.EventSessionEnd {
		t.Fatalf("SessionEvents = %d events, %v", len(evs), err)
	}
}

func TestRetain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	j, err := journal.Open(ctx, journal.Options{Dir: dir, SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	ix := store.NewIndexer(discard{}, nil, 0)
	ix.Start()
	for i := 0; i < 40; i++ {
		session(t, audit.NewTrail(j, ix, nil), "s", 1)
	}
	ix.Close()
	j.Close()
	n, err := audit.Retain(dir, time.Hour, time.Now().Add(2*time.Hour))
	if err != nil || n == 0 {
		t.Fatalf("Retain removed %d segments, %v", n, err)
	}
	if n, _ := audit.Retain(dir, time.Hour, time.Now()); n != 0 {
		t.Fatalf("Retain of recent segments removed %d", n)
	}
}

// discard is an index that keeps nothing.
type discard struct{}

func (discard) ApplyIndex(context.Context, *store.IndexBatch) error { return nil }

// TestCatchUpJoinsEarlierRequests indexes, after a crash, the result of a
// statement whose request was journaled long before the index's position:
// catch-up starts after the request, and reads it from the journal.
func TestCatchUpJoinsEarlierRequests(t *testing.T) {
	ctx := context.Background()
	st, j, jdir := openStores(t)
	ix, trail := startTrail(st, j)
	now := time.Now().UTC()
	long := &sluice.Request{ID: "slow/1", SessionID: "slow", Seq: 1, Text: "select pg_sleep(3600)", Time: now, Subject: "bot"}
	reqEv := allowed(long)
	record(t, trail, reqEv)
	for i := range 10050 { // more than catch-up reads again
		record(t, trail, &sluice.Event{Time: now, Type: sluice.EventAuthFailure, Reason: fmt.Sprint("no token ", i)})
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	// The result reaches the journal only: the gateway crashed before
	// indexing it.
	if _, err := j.Append(ctx, resultOf(reqEv, 1), true); err != nil {
		t.Fatal(err)
	}
	ix2 := store.NewIndexer(st, nil, 0)
	ix2.Start()
	if _, err := audit.CatchUp(ctx, jdir, st, ix2); err != nil {
		t.Fatal(err)
	}
	ix2.Close()
	if r := onlyStatement(t, st, "slow"); r.Text != long.Text || r.Subject != "bot" || r.RequestSeq != reqEv.Seq || r.Rows != 1 {
		t.Errorf("indexed as %+v, want the request's text, subject and position %d", r, reqEv.Seq)
	}
}

// TestResultAfterSessionEndKeepsItsRequest indexes a result journaled after
// its session's end, as the HTTP proxy's Close writes them (it ends every
// session while their last requests finish): the live index gives the
// statement its request's text and requester, though the result only
// names the request.
func TestResultAfterSessionEndKeepsItsRequest(t *testing.T) {
	ctx := context.Background()
	st, j, jdir := openStores(t)
	ix, trail := startTrail(st, j)
	now := time.Now().UTC()
	record(t, trail, &sluice.Event{Time: now, Type: sluice.EventSessionStart, Session: "h", Identity: &sluice.Identity{Subject: "bot"}, Connection: "api"})
	req := &sluice.Request{ID: "h/1", SessionID: "h", Seq: 1, Kind: sluice.KindHTTP, Text: "POST /v1/chat/completions", Time: now, Subject: "bot", Connection: "api"}
	reqEv := allowed(req)
	record(t, trail, reqEv)
	record(t, trail, &sluice.Event{Time: now, Type: sluice.EventSessionEnd, Session: "h", Reason: sluice.EndShutdown})
	record(t, trail, resultOf(reqEv, 1))
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.CatchUp(ctx, jdir, st, ix); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if r := onlyStatement(t, st, "h"); r.Text != req.Text || r.Subject != "bot" || r.Connection != "api" {
		t.Errorf("live index (after catch-up): text %q, subject %q, connection %q; want the request's", r.Text, r.Subject, r.Connection)
	}
}
