package console

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		must(t, os.MkdirAll("testdata", 0o755))
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (go test -run Golden -update to accept):\n%s", path, got)
	}
}

// renderContent renders a page's content block alone.
func renderContent(t *testing.T, page string, p *pageData) []byte {
	t.Helper()
	var buf bytes.Buffer
	must(t, pages[page].ExecuteTemplate(&buf, "content", p))
	return buf.Bytes()
}

func TestGoldenPages(t *testing.T) {
	t0 := time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)
	alice := &viewer{ID: &sluice.Identity{Subject: "alice", Groups: []string{"dba"}}, Approver: true, CSRF: "TOKEN",
		sess: &session{ID: "0123456789abcdef"}}
	rv := &sluice.Review{ID: "rv_golden", Status: sluice.ReviewPending, Policy: "agents", Rule: "rule 2",
		Approvers: []string{"group:dba"}, MinApprovals: 2, EstimatedRows: 1200, Impact: "the planner estimates 1200 rows",
		CreatedAt: t0, WaitUntil: t0.Add(2 * time.Minute), ValidUntil: t0.Add(time.Hour), Reasons: []string{"UPDATE without WHERE"},
		Decisions: []sluice.ReviewDecision{{By: "carol", Approve: true, Via: "slack", At: t0.Add(time.Second)}},
		Request: sluice.Request{ID: "s1/3", SessionID: "s1", Kind: sluice.KindSQL, Subject: "build-bot", Connection: "orders",
			Text: "update orders set status = 'void' -- <cleanup>", Class: sluice.ClassWrite, Params: []*string{ptr("7"), nil}}}
	s := &Server{Now: func() time.Time { return t0.Add(95 * time.Second) }}
	inbox := &inboxData{Reviews: []reviewView{s.view(rv, alice)}, Decidable: 1, Version: "v1"}
	golden(t, "inbox.html", renderContent(t, "inbox", &pageData{Viewer: alice, Now: t0.Add(95 * time.Second), Data: inbox}))

	auditor := &viewer{ID: &sluice.Identity{Subject: "sam"}, Auditor: true, CSRF: "TOKEN", sess: &session{ID: "0123456789abcdef"}}
	sess := &sluice.Session{ID: "s1", Identity: sluice.Identity{Subject: "bot", Groups: []string{"agents"}, Method: sluice.AuthServiceToken},
		Connection: "orders", Protocol: sluice.ProtoPostgres, ClientAddr: "10.0.0.7:5000", StartedAt: t0, EndedAt: t0.Add(3 * time.Second),
		EndReason: sluice.EndClient}
	req := &sluice.Request{ID: "s1/1", Seq: 1, SessionID: "s1", Kind: sluice.KindSQL, Text: "select email from users limit 2",
		Time: t0.Add(time.Second), Class: sluice.ClassRead, Tables: []string{"users"}}
	events := []*sluice.Event{
		{Seq: 10, Type: sluice.EventSessionStart, Session: "s1", Time: t0},
		{Seq: 11, Type: sluice.EventRequest, Session: "s1", Request: req, Time: req.Time,
			Decision: &sluice.Decision{Action: sluice.ActionAllow, Policy: "agents", Rule: "rule 1"}},
		{Seq: 12, Type: sluice.EventResult, Session: "s1", Request: req, Time: req.Time.Add(2 * time.Millisecond),
			Result: &sluice.Result{Status: sluice.StatusOK, Tag: "SELECT 2", Rows: 2, Duration: 2 * time.Millisecond,
				Masked: map[string]uint64{"email": 2}, Capture: &sluice.Capture{Columns: []sluice.Column{{Name: "email"}},
					Rows: [][]*string{{ptr("a***@example.com")}, {nil}}, Truncated: true}}},
		{Seq: 13, Type: sluice.EventSessionEnd, Session: "s1", Time: t0.Add(3 * time.Second), Reason: sluice.EndClient},
	}
	golden(t, "session.html", renderContent(t, "session", &pageData{Viewer: auditor, Data: buildTimeline(sess, events)}))
}
