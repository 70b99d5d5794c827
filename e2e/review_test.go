package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/testkit"
)

// reviewSetup is a gateway whose policy holds destructive statements for
// group dba, with an agent and three approvers.
type reviewSetup struct {
	cfg                      *sluiceConfig
	g                        *gateway
	pg                       *testkit.Postgres
	db                       string // the database behind connection "orders"
	agent, alice, bob, carol string // tokens
}

func newReviewSetup(t *testing.T, minApprovals int, wait string) *reviewSetup {
	t.Helper()
	pg, db := newDatabase(t)
	role := pg.SCRAMUser()
	cfg := newConfig(t,
		[]connSpec{{Name: "orders", Address: pg.Addr(), Database: db, User: role.Name, Password: role.Password}},
		[]policySpec{{Name: "agents", Subjects: []string{"group:ai-agents"}, Connections: []string{"orders"}, Rules: []ruleSpec{
			{When: "privileged || unknown", Action: "deny", Message: "not through an agent"},
			{When: "read", Action: "allow"},
			{When: "destructive || where_missing", Action: "review", Approvers: []string{"group:dba"}, MinApprovals: minApprovals, Wait: wait},
			{When: "write || ddl", Action: "allow"},
		}}})
	s := &reviewSetup{cfg: cfg, g: startGateway(t, cfg), pg: pg, db: db}
	s.agent = cfg.issue("agent-7", "ai-agents")
	s.alice, s.bob, s.carol = cfg.issue("alice", "dba"), cfg.issue("bob", "dba"), cfg.issue("carol", "dba")
	conn := connect(t, s.g.pgAddr, "orders", s.agent)
	if _, err := conn.Exec(context.Background(), "create table orders(id int primary key, status text); insert into orders select g, 'open' from generate_series(1, 3) g"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	return s
}

// reviews runs `sluice reviews ...` through the gateway as the holder of token.
func (s *reviewSetup) reviews(t *testing.T, token string, args ...string) cliResult {
	t.Helper()
	env := []string{"SLUICE_TOKEN=" + token, "SLUICE_SERVER=http://" + s.g.httpAddr, "HOME=" + t.TempDir()}
	return runSluice(t, env, append([]string{"reviews"}, args...)...)
}

// pending waits for n pending reviews and returns them.
func (s *reviewSetup) pending(t *testing.T, n int) []*sluice.Review {
	t.Helper()
	var rs []*sluice.Review
	waitUntil(t, 15*time.Second, "a pending review", func() bool {
		r := s.reviews(t, s.alice, "list", "--json")
		if r.code != 0 {
			t.Fatalf("reviews list: %d %s", r.code, r.stderr)
		}
		rs = nil
		json.Unmarshal([]byte(r.stdout), &rs)
		return len(rs) == n
	})
	return rs
}

// TestReviewApprovedWhilePsqlWaits holds an agent's DELETE without WHERE,
// approves it with the CLI while psql waits, and checks psql's result and
// the journal's story.
func TestReviewApprovedWhilePsqlWaits(t *testing.T) {
	t.Parallel()
	s := newReviewSetup(t, 1, "60s")
	c := newClient(t, s.g.pgAddr, "orders", s.agent)
	done := make(chan cliResult, 1)
	go func() { done <- c.with(t).psql("", "-c", "DELETE FROM orders") }()

	rv := s.pending(t, 1)[0]
	if rv.Request.Text != "DELETE FROM orders" || rv.Request.Subject != "agent-7" || !rv.Request.Class.Has(sluice.ClassDestructive) {
		t.Fatalf("review %+v", rv)
	}
	if rv.EstimatedRows < 1 || rv.EstimatedRows > 3000 {
		t.Fatalf("impact estimate %d rows", rv.EstimatedRows)
	}
	if r := s.reviews(t, s.agent, "approve", rv.ID, "--reason", "mine"); r.code == 0 || !strings.Contains(r.stderr, "own review") {
		t.Fatalf("self-approval: %d %s", r.code, r.stderr)
	}
	select {
	case r := <-done:
		t.Fatalf("psql returned before the approval: %+v", r)
	default:
	}
	if r := s.reviews(t, s.alice, "approve", rv.ID, "--reason", "cleanup of test rows"); r.code != 0 || !strings.Contains(r.stdout, "approved") {
		t.Fatalf("approve: %d %s %s", r.code, r.stdout, r.stderr)
	}
	var r cliResult
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("psql still waits after the approval")
	}
	if r.code != 0 {
		t.Fatalf("psql after approval: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// The rows are gone, and the journal holds the whole story.
	conn := connect(t, s.g.pgAddr, "orders", s.agent)
	var n int
	if err := conn.QueryRow(context.Background(), "select count(*) from orders").Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after the approved delete: %d %v", n, err)
	}
	conn.Close(context.Background())
	var story []string
	err := scanJournal(s.cfg.dataDir, func(rec *journal.Record) error {
		ev := rec.Event
		switch {
		case ev.Type == sluice.EventRequest && ev.Request.Text == "DELETE FROM orders":
			story = append(story, "request:"+string(ev.Decision.Action))
		case ev.Type == sluice.EventReview && ev.Review.ID == rv.ID:
			story = append(story, "review:"+strings.SplitN(ev.Reason, " ", 2)[0])
		case ev.Type == sluice.EventDecision && ev.Decision.ReviewID == rv.ID:
			story = append(story, "outcome:"+string(ev.Decision.Action))
		case ev.Type == sluice.EventResult && ev.Request.Text == "DELETE FROM orders":
			story = append(story, "result:"+ev.Result.Tag)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "request:review review:created review:approved review:executed outcome:allow result:DELETE 3"
	if got := strings.Join(story, " "); got != want {
		t.Fatalf("journal story\n got: %s\nwant: %s", got, want)
	}
	out := s.reviews(t, s.alice, "show", rv.ID).stdout
	if !strings.Contains(out, "executed") || !strings.Contains(out, "approved by alice via cli") || !strings.Contains(out, "cleanup of test rows") {
		t.Fatalf("reviews show after execution:\n%s", out)
	}
}

// TestReviewDeniedPgx holds a parameterized DELETE sent by pgx (extended
// protocol) and denies it: pgx gets 42501 with the approver and reason.
func TestReviewDeniedPgx(t *testing.T) {
	t.Parallel()
	s := newReviewSetup(t, 1, "60s")
	ctx := context.Background()
	conn := connect(t, s.g.pgAddr, "orders", s.agent)
	errc := make(chan error, 1)
	go func() {
		// A WHERE that refers to no column is no WHERE at all.
		_, err := conn.Exec(ctx, "delete from orders where $1::int > $2::int", 1, 0)
		errc <- err
	}()
	rv := s.pending(t, 1)[0]
	if len(rv.Request.Params) != 2 {
		t.Fatalf("params %v", rv.Request.Params)
	}
	if r := s.reviews(t, s.bob, "deny", rv.ID, "--reason", "too broad, add a real WHERE"); r.code != 0 {
		t.Fatalf("deny: %d %s", r.code, r.stderr)
	}
	err := <-errc
	pe := pgError(t, err)
	if pe.Code != "42501" || !strings.Contains(pe.Message, "denied by bob") || !strings.Contains(pe.Message, "too broad") {
		t.Fatalf("pgx error: %s %s", pe.Code, pe.Message)
	}
	var n int
	if err := conn.QueryRow(ctx, "select count(*) from orders").Scan(&n); err != nil || n != 3 {
		t.Fatalf("rows after a denied delete: %d %v", n, err)
	}
}

// TestReviewTimeoutThenSingleUse lets the wait run out, approves afterwards,
// and checks that exactly one later run of the same statement goes
// through.
func TestReviewTimeoutThenSingleUse(t *testing.T) {
	t.Parallel()
	s := newReviewSetup(t, 1, "2s")
	ctx := context.Background()
	conn := connect(t, s.g.pgAddr, "orders", s.agent)
	const stmt = "delete from orders"
	_, err := conn.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol)
	pe := pgError(t, err)
	if pe.Code != "57014" || !strings.Contains(pe.Message, "still pending") || !strings.Contains(pe.Hint, "run the same statement again") {
		t.Fatalf("timeout: %s %q %q", pe.Code, pe.Message, pe.Hint)
	}
	id := strings.Fields(strings.SplitN(pe.Message, "review ", 2)[1])[0]
	if r := s.reviews(t, s.carol, "approve", id, "--reason", "ok later"); r.code != 0 {
		t.Fatalf("late approval: %d %s", r.code, r.stderr)
	}
	tag, err := conn.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol)
	if err != nil || tag.RowsAffected() != 3 {
		t.Fatalf("run after the late approval: %v %v", tag, err)
	}
	// A second run is a new request: held again, and it times out.
	_, err = conn.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol)
	if pe := pgError(t, err); pe.Code != "57014" || strings.Contains(pe.Message, id) {
		t.Fatalf("second run: %s %q (must be a new review)", pe.Code, pe.Message)
	}
}

// TestReviewTwoOfThree needs two distinct approvers.
func TestReviewTwoOfThree(t *testing.T) {
	t.Parallel()
	s := newReviewSetup(t, 2, "60s")
	ctx := context.Background()
	conn := connect(t, s.g.pgAddr, "orders", s.agent)
	errc := make(chan error, 1)
	go func() { _, err := conn.Exec(ctx, "truncate orders"); errc <- err }()
	rv := s.pending(t, 1)[0]
	if r := s.reviews(t, s.alice, "approve", rv.ID, "--reason", "one"); r.code != 0 || !strings.Contains(r.stdout, "pending (1 of 2") {
		t.Fatalf("first approval: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := s.reviews(t, s.alice, "approve", rv.ID, "--reason", "again"); r.code == 0 || !strings.Contains(r.stderr, "already voted") {
		t.Fatalf("same approver twice: %d %s", r.code, r.stderr)
	}
	select {
	case err := <-errc:
		t.Fatalf("released after one approval: %v", err)
	default:
	}
	if r := s.reviews(t, s.bob, "approve", rv.ID, "--reason", "two"); r.code != 0 || !strings.Contains(r.stdout, "approved (2 of 2") {
		t.Fatalf("second approval: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if err := <-errc; err != nil {
		t.Fatalf("truncate after two approvals: %v", err)
	}
	if r := s.reviews(t, s.carol, "approve", rv.ID, "--reason", "late"); r.code == 0 || !strings.Contains(r.stderr, "no longer pending") {
		t.Fatalf("vote on a decided review: %d %s", r.code, r.stderr)
	}
}

// TestDenyRulesAndCancel checks a deny rule in both protocols (a denied
// Parse never reaches the upstream) and that a cancel ends a hold.
func TestDenyRulesAndCancel(t *testing.T) {
	t.Parallel()
	s := newReviewSetup(t, 1, "60s")
	ctx := context.Background()
	conn := connect(t, s.g.pgAddr, "orders", s.agent)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		_, err := conn.Exec(ctx, "copy orders to program 'id'", mode)
		pe := pgError(t, err)
		if pe.Code != "42501" || pe.Message != "not through an agent" || !strings.Contains(pe.Detail, "PROGRAM") {
			t.Fatalf("%v: %s %q %q", mode, pe.Code, pe.Message, pe.Detail)
		}
	}
	// The session goes on.
	var n int
	if err := conn.QueryRow(ctx, "select count(*) from orders").Scan(&n); err != nil || n != 3 {
		t.Fatalf("after denials: %d %v", n, err)
	}
	// Cancel a held statement with the client's cancel request.
	qctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { _, err := conn.Exec(qctx, "delete from orders"); errc <- err }()
	s.pending(t, 1)
	cancel()
	err := <-errc
	if err == nil || !(errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "57014")) {
		t.Fatalf("canceled hold: %v", err)
	}
}
