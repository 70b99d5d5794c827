package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
)

// backendGone bounds the wait for a crashed client's upstream backend to
// end: sluice cancels what runs (within its 5s cancel timeout) and closes
// the upstream connection.
const backendGone = 10 * time.Second

// clientGoneSetup is a gateway in front of a database with table sink, a
// superuser connection to watch the server, and a second agent session
// that must keep being served.
type clientGoneSetup struct {
	ctx   context.Context // see faultContext
	cfg   *sluiceConfig
	g     *gateway
	db    string
	token string
	super *pgx.Conn
	other *pgx.Conn
}

func newClientGoneSetup(t *testing.T, subject string) *clientGoneSetup {
	t.Helper()
	pg, db := newDatabase(t)
	s := &clientGoneSetup{db: db, cfg: appConfig(t, pg, db, pg.SCRAMUser())}
	s.g = startGateway(t, s.cfg)
	s.ctx = faultContext(t, time.Minute)
	s.token = s.cfg.issue(subject, "agents")
	super, err := pg.Connect(s.ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(context.Background()) })
	s.super = super
	if _, err := super.Exec(s.ctx, "create table sink(line text); grant all on sink to public"); err != nil {
		t.Fatal(err)
	}
	s.other = connectApp(t, s.g, "app", s.token, "gone-other", time.Second)
	return s
}

// served checks that the other session still runs queries.
func (s *clientGoneSetup) served(t *testing.T) {
	t.Helper()
	var n int
	if err := s.other.QueryRow(s.ctx, "select 40 + 2").Scan(&n); err != nil || n != 42 {
		t.Fatalf("the other session: %d, %v", n, err)
	}
}

// finish closes the other session, checks for leaked goroutines, and stops
// the gateway so that its records can be read.
func (s *clientGoneSetup) finish(t *testing.T, leaks func()) {
	t.Helper()
	s.served(t)
	s.other.Close(s.ctx)
	s.g.waitIdle()
	leaks()
	s.g.stopClean()
}

// TestFaultClientGoneMidCopyIn crashes a client (socket reset, no
// Terminate) after it sent part of a COPY FROM STDIN: the backend ends,
// nothing is copied, the COPY is recorded as aborted and the other session
// is served throughout.
func TestFaultClientGoneMidCopyIn(t *testing.T) {
	t.Parallel()
	s := newClientGoneSetup(t, "copy-in-bot")
	leaks := s.g.leakCheck(t)

	raw := newRawSession(t, s.g, "app", s.token, "gone-copy-in")
	raw.send(&pgproto3.Query{String: "copy sink from stdin"})
	expect[*pgproto3.CopyInResponse](raw)
	for range 100 {
		raw.send(&pgproto3.CopyData{Data: []byte("a row that will never be committed\n")})
	}
	waitUntil(t, 10*time.Second, "the COPY's first rows to reach the server", func() bool {
		var n int64
		err := s.super.QueryRow(s.ctx, "select coalesce(sum(tuples_processed), 0) from pg_stat_progress_copy where relid = 'sink'::regclass").Scan(&n)
		return err == nil && n == 100
	})
	s.served(t)
	raw.crash()

	waitBackends(t, s.super, s.db, "gone-copy-in", 0, backendGone)
	var rows int
	if err := s.super.QueryRow(s.ctx, "select count(*) from sink").Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("rows committed by the crashed client's COPY: %d, %v; want 0", rows, err)
	}
	s.finish(t, leaks)
	checkCrashedCopy(t, s.cfg.dataDir, "copy-in-bot", "copy sink from stdin")
}

// TestFaultClientGoneMidCopyOut crashes a client while a large COPY TO
// STDOUT streams to it: the backend stops streaming and ends, the COPY is
// recorded as aborted and the other session is served throughout.
func TestFaultClientGoneMidCopyOut(t *testing.T) {
	t.Parallel()
	s := newClientGoneSetup(t, "copy-out-bot")
	leaks := s.g.leakCheck(t)

	// The set-returning function in the select list streams its rows (in
	// FROM it would be materialized first).
	const query = "copy (select generate_series(1, 50000000), repeat('x', 200)) to stdout"
	raw := newRawSession(t, s.g, "app", s.token, "gone-copy-out")
	raw.send(&pgproto3.Query{String: query})
	expect[*pgproto3.CopyOutResponse](raw)
	for range 1000 {
		expect[*pgproto3.CopyData](raw)
	}
	waitActive(t, s.super, s.db, "gone-copy-out", query)
	s.served(t)
	raw.crash()

	waitBackends(t, s.super, s.db, "gone-copy-out", 0, backendGone)
	s.finish(t, leaks)
	checkCrashedCopy(t, s.cfg.dataDir, "copy-out-bot", "copy (select generate_series")
}

// TestFaultClientGoneMidHold crashes a client while its DELETE is held for
// review: the hold ends at once, the session and its upstream backend end,
// the statement never runs, and the review stays pending as the review
// rules say (an approval that comes later lets the same subject run the
// same statement once), which the test then exercises.
func TestFaultClientGoneMidHold(t *testing.T) {
	t.Parallel()
	rs := newReviewSetup(t, 1, "60s")
	ctx := faultContext(t, time.Minute)
	super, err := rs.pg.Connect(ctx, rs.db)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(context.Background())
	other := connectApp(t, rs.g, "orders", rs.agent, "hold-other", time.Second)
	leaks := rs.g.leakCheck(t)

	raw := newRawSession(t, rs.g, "orders", rs.agent, "gone-hold")
	raw.send(&pgproto3.Query{String: "DELETE FROM orders"})
	rv := rs.pending(t, 1)[0]
	sessions, err := rs.g.activeSessions()
	if err != nil || sessions != 2 {
		t.Fatalf("sessions while held: %d %v, want 2", sessions, err)
	}
	raw.crash()

	waitUntil(t, 5*time.Second, "the held session to end", func() bool {
		n, err := rs.g.activeSessions()
		return err == nil && n == 1
	})
	waitBackends(t, super, rs.db, "gone-hold", 0, backendGone)
	var n int
	if err := other.QueryRow(ctx, "select count(*) from orders").Scan(&n); err != nil || n != 3 {
		t.Fatalf("rows after the held DELETE's client crashed: %d %v, want all 3", n, err)
	}
	// The review is left pending, not decided by the crash.
	if got := rs.pending(t, 1)[0]; got.ID != rv.ID || got.Status != sluice.ReviewPending {
		t.Fatalf("review after the crash: %s %s, want %s pending", got.ID, got.Status, rv.ID)
	}
	// An approval that comes later lets the agent run it once, as a new request.
	if r := rs.reviews(t, rs.alice, "approve", rv.ID, "--reason", "fine after all"); r.code != 0 {
		t.Fatalf("approve after the crash: %d %s", r.code, r.stderr)
	}
	tag, err := other.Exec(ctx, "DELETE FROM orders", pgx.QueryExecModeSimpleProtocol)
	if err != nil || tag.RowsAffected() != 3 {
		t.Fatalf("the same DELETE after the late approval: %v %v", tag, err)
	}
	other.Close(ctx)
	rs.g.waitIdle()
	leaks()
	rs.g.stopClean()

	// The journal: the crashed hold ends with a cancellation, never a
	// result; the rerun is released by the review and has its result.
	var story []string
	err = scanJournal(rs.cfg.dataDir, func(rec *journal.Record) error {
		ev := rec.Event
		if ev.Request == nil || ev.Request.Text != "DELETE FROM orders" {
			return nil
		}
		switch ev.Type {
		case sluice.EventRequest:
			story = append(story, "request:"+string(ev.Decision.Action))
		case sluice.EventDecision:
			story = append(story, "outcome:"+string(ev.Decision.Action)+":"+strings.SplitN(ev.Decision.Message, " (", 2)[0])
		case sluice.EventResult:
			story = append(story, "result:"+ev.Result.Status+":"+ev.Result.Tag)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "request:review outcome:deny:canceled while waiting for approval request:review outcome:allow: result:ok:DELETE 3"
	if got := strings.Join(story, " "); got != want {
		t.Fatalf("journal story of the held DELETE\n got: %s\nwant: %s", got, want)
	}
}

// checkEndReason checks how the session id of subject ended.
// checkCrashedCopy checks that the COPY of subject whose text starts with
// prefix is recorded once, aborted, in a session ended by its client.
func checkCrashedCopy(t *testing.T, dataDir, subject, prefix string) {
	t.Helper()
	rs := statementsWith(t, dataDir, subject, prefix)
	if len(rs) != 1 || rs[0].Status != sluice.StatusAborted {
		t.Fatalf("the crashed client's COPY is recorded as %s, want once, aborted", describe(rs))
	}
	checkEndReason(t, dataDir, subject, rs[0].SessionID, sluice.EndClient)
}

func checkEndReason(t *testing.T, dataDir, subject, id, want string) {
	t.Helper()
	ss, _ := sessionsOf(t, stateStore(t, dataDir), subject)
	for _, s := range ss {
		if s.ID == id {
			if s.EndReason != want {
				t.Fatalf("session %s ended with %q, want %q", id, s.EndReason, want)
			}
			return
		}
	}
	t.Fatalf("session %s of %s not recorded", id, subject)
}
