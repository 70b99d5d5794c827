package gate_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/policy"
)

// memReviews is a review flow in memory: Open opens one review per hash.
type memReviews struct {
	mu      sync.Mutex
	byHash  map[string]*sluice.Review
	reasons []string
	opened  int
}

func (m *memReviews) Hold(_ context.Context, req *sluice.Request, hash string, d sluice.Decision, reasons []string,
	record func(string) error) (*sluice.Review, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rv := m.byHash[hash]; rv != nil && (rv.Status == sluice.ReviewPending || rv.Status == sluice.ReviewApproved) {
		return rv, record(rv.ID)
	}
	m.opened++
	m.reasons = reasons
	rv := &sluice.Review{ID: "rv_" + strings.Repeat("x", m.opened), Status: sluice.ReviewPending, Request: *req,
		Approvers: d.Approvers, MinApprovals: d.MinApprovals, StatementHash: hash}
	if err := record(rv.ID); err != nil {
		return nil, err
	}
	m.byHash[hash] = rv
	return rv, nil
}

func (m *memReviews) get(id string) *sluice.Review {
	for _, rv := range m.byHash {
		if rv.ID == id {
			return rv
		}
	}
	return nil
}

func (m *memReviews) Wait(_ context.Context, id string, _ time.Time) (*sluice.Review, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *m.get(id)
	return &c, nil
}

func (m *memReviews) Claim(_ context.Context, id string) (*sluice.Review, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rv := m.get(id)
	if rv.Status != sluice.ReviewApproved {
		return nil, context.DeadlineExceeded
	}
	rv.Status = sluice.ReviewExecuted
	c := *rv
	return &c, nil
}

func (m *memReviews) set(id string, st sluice.ReviewStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.get(id).Status = st
}

// scriptGate is a gate whose policy allows reads and inserts, holds
// updates for group dba (deletes for group security) and denies DDL, even
// where the whole script would match a review rule first.
func scriptGate(t *testing.T) (*gate.Gate, *memRecorder, *memReviews) {
	t.Helper()
	pol, err := policy.New([]config.Policy{{Name: "ci", Subjects: []string{"group:ci"}, Connections: []string{"app"}, Rules: []config.Rule{
		{When: "read", Action: "allow"},
		{When: `kinds.all(k, k == "insert" || k == "select")`, Action: "allow"},
		{When: "write && !destructive && !where_missing", Action: "review", Approvers: []string{"group:dba"}, Wait: config.Duration(time.Minute)},
		{When: "ddl", Action: "deny", Message: "schema changes go through migrations"},
		{When: "destructive", Action: "review", Approvers: []string{"group:security"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &memRecorder{}
	g := gate.New(pol, map[string]sluice.ConnType{"app": sluice.ConnPostgres}, rec, nil)
	rv := &memReviews{byHash: map[string]*sluice.Review{}}
	g.Reviews = rv
	return g, rec, rv
}

var ci = &sluice.Identity{Subject: "pipeline", Groups: []string{"ci"}}

func openScript(t *testing.T, g *gate.Gate) *gate.Session {
	t.Helper()
	s, err := g.OpenSession(context.Background(), gate.SessionInfo{Identity: ci, Connection: "app", Protocol: sluice.ProtoRun, ClientAddr: client})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScriptDecisions(t *testing.T) {
	cases := []struct {
		name, script string
		action       sluice.Action
		decisions    []sluice.Action
		msg          string // part of the denial
	}{
		{"all allowed", "select 1; insert into t values (1);\ninsert into t values (2)", sluice.ActionAllow,
			[]sluice.Action{"allow", "allow", "allow"}, ""},
		{"one held", "insert into t values (1); update t set a = 2 where a = 1", sluice.ActionReview,
			[]sluice.Action{"allow", "review"}, ""},
		// As one request the script is write|ddl and matches the review
		// rule; its CREATE alone is denied, and that decides.
		{"ddl among writes", "update t set a = 2 where a = 1; create table u(a int)", sluice.ActionDeny,
			[]sluice.Action{"review", "deny"}, "statement #2 (create_table) is denied: schema changes go through migrations"},
		{"different approvers", "update t set a = 2 where a = 1; delete from t", sluice.ActionDeny,
			[]sluice.Action{"review", "review"}, "one review cannot stand for both"},
		{"does not parse", "select 1; selec 2", sluice.ActionDeny, nil, "the script does not parse"},
		{"empty", "-- nothing\n;", sluice.ActionDeny, nil, "holds no statement"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, rec, _ := scriptGate(t)
			s := openScript(t, g)
			sc, err := s.BeginScript(context.Background(), &sluice.Request{Text: c.script})
			if sc == nil || sc.Decision.Action != c.action {
				t.Fatalf("decision %+v, err %v; want %s", sc, err, c.action)
			}
			if (err != nil) != (c.action == sluice.ActionDeny) || c.msg != "" && !strings.Contains(sluice.AsError(err).Message, c.msg) {
				t.Fatalf("err = %v, want a denial saying %q", err, c.msg)
			}
			var got []sluice.Action
			for _, st := range sc.Statements {
				got = append(got, st.Decision.Action)
			}
			if strings.Join(actions(got), ",") != strings.Join(actions(c.decisions), ",") {
				t.Fatalf("statement decisions %v, want %v", got, c.decisions)
			}
			ev := rec.events[len(rec.events)-1]
			if ev.Type != sluice.EventRequest || ev.Request.Text != c.script || ev.Decision.Action != c.action {
				t.Fatalf("recorded %+v", ev)
			}
		})
	}
}

func actions(as []sluice.Action) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = string(a)
	}
	return out
}

// TestScriptAllowed runs an allowed script's statements as parts.
func TestScriptAllowed(t *testing.T) {
	g, rec, _ := scriptGate(t)
	s := openScript(t, g)
	ctx := context.Background()
	sc, err := s.BeginScript(ctx, &sluice.Request{Text: "select 1;\n insert into t values ('a;b')", Note: "nightly load"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Statements) != 2 || sc.Statements[1].Text != "insert into t values ('a;b')" {
		t.Fatalf("statements %+v", sc.Statements)
	}
	for i := range sc.Statements {
		part, err := s.BeginPart(ctx, sc, i)
		if err != nil {
			t.Fatal(err)
		}
		if part.Parent != sc.Request.ID || part.Seq != sc.Request.Seq+int64(i)+1 || part.Note != "nightly load" {
			t.Fatalf("part %+v", part)
		}
		s.Done(ctx, part, &sluice.Result{Status: sluice.StatusOK})
	}
	s.Done(ctx, sc.Request, &sluice.Result{Status: sluice.StatusOK, Tag: "SELECT 1; INSERT 0 1"})
	want := "session_start request request result request result result"
	if got := strings.Join(types(rec), " "); got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
}

func types(rec *memRecorder) []string {
	var out []string
	for _, t := range rec.types() {
		out = append(out, string(t))
	}
	return out
}

// TestScriptReview holds a script for one review, leaves it, and runs it
// from a second session once approved: the parts are bound to the review,
// and the approval is used once.
func TestScriptReview(t *testing.T) {
	g, rec, rvs := scriptGate(t)
	ctx := context.Background()
	const script = "insert into t values (1); update t set a = 2 where a = 1"
	s := openScript(t, g)
	sc, err := s.BeginScript(ctx, &sluice.Request{Text: script})
	if err != nil || sc.Decision.Action != sluice.ActionReview || sc.Decision.ReviewID == "" {
		t.Fatalf("BeginScript: %+v %v", sc.Decision, err)
	}
	if d := sc.Decision; strings.Join(d.Approvers, ",") != "group:dba" || d.Wait != time.Minute {
		t.Fatalf("review decision %+v", d)
	}
	if want := "#2 update [write]: UPDATE writes rows (review)"; len(rvs.reasons) != 2 || rvs.reasons[1] != want || !strings.HasPrefix(rvs.reasons[0], "#1 insert [write]") {
		t.Fatalf("review reasons %q, want per statement like %q", rvs.reasons, want)
	}
	if _, err := s.BeginPart(ctx, sc, 0); sluice.ErrorCode(err) != sluice.EForbidden {
		t.Fatalf("BeginPart before the approval: %v", err)
	}
	s.Leave(ctx, sc)
	s.Close(ctx, sluice.EndClient)
	left := rec.events[len(rec.events)-2]
	if left.Type != sluice.EventDecision || left.Decision.Action != sluice.ActionReview || !strings.Contains(left.Decision.Message, sc.Decision.ReviewID) {
		t.Fatalf("left for review: %+v", left)
	}

	// Still pending: a check does not release it.
	s2 := openScript(t, g)
	sc2, err := s2.BeginScript(ctx, &sluice.Request{Text: script})
	if err != nil || sc2.Decision.ReviewID != sc.Decision.ReviewID || rvs.opened != 1 {
		t.Fatalf("resubmission joins the review: %+v %v (%d opened)", sc2.Decision, err, rvs.opened)
	}
	if err := s2.AwaitScript(ctx, sc2, 0); sluice.ErrorCode(err) != sluice.ETimeout {
		t.Fatalf("AwaitScript while pending: %v", err)
	}
	rvs.set(sc.Decision.ReviewID, sluice.ReviewApproved)
	s3 := openScript(t, g)
	sc3, err := s3.BeginScript(ctx, &sluice.Request{Text: script})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.AwaitScript(ctx, sc3, 0); err != nil {
		t.Fatalf("AwaitScript once approved: %v", err)
	}
	part, err := s3.BeginPart(ctx, sc3, 1)
	if err != nil {
		t.Fatal(err)
	}
	ev := rec.events[len(rec.events)-1]
	if ev.Request != part || ev.Decision.Action != sluice.ActionAllow || ev.Decision.ReviewID != sc.Decision.ReviewID || part.Parent != sc3.Request.ID {
		t.Fatalf("part record %+v %+v", ev.Request, ev.Decision)
	}
	// The approval is used: the next submission waits for a new review.
	s4 := openScript(t, g)
	sc4, err := s4.BeginScript(ctx, &sluice.Request{Text: script})
	if err != nil || sc4.Decision.ReviewID == sc.Decision.ReviewID {
		t.Fatalf("after the run: %+v %v", sc4.Decision, err)
	}
}
