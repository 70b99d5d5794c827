package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

func TestIndexer(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ix := store.NewIndexer(st, nil, 16)
	ix.Start()

	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	id := &sluice.Identity{Subject: "bot", Groups: []string{"agents"}, Method: sluice.AuthServiceToken}
	req := func(seq int64, text string) *sluice.Request {
		return &sluice.Request{ID: "s1/" + text, SessionID: "s1", Seq: seq, Kind: sluice.KindSQL, Text: text, Time: t0}
	}
	allowed, denied, orphan := req(1, "select 1"), req(2, "drop table t"), &sluice.Request{ID: "nope/1", SessionID: "nope", Seq: 1, Text: "x", Time: t0}
	events := []*sluice.Event{
		{Type: sluice.EventSessionStart, Time: t0, Session: "s1", Identity: id, Connection: "app", Protocol: sluice.ProtoPostgres, ClientAddr: "127.0.0.1:5000"},
		{Type: sluice.EventRequest, Time: t0, Session: "s1", Request: allowed, Decision: &sluice.Decision{Action: sluice.Allow, Policy: "p", Rule: "grant"}},
		{Type: sluice.EventRequest, Time: t0, Session: "s1", Request: denied, Decision: &sluice.Decision{Action: sluice.Deny, Policy: "p", Rule: "3", Message: "no DDL"}},
		// A result for a session that was never started must not take the
		// rest of its batch down with it.
		{Type: sluice.EventResult, Time: t0, Session: "nope", Request: orphan, Result: &sluice.Result{Status: sluice.StatusOK}},
		{Type: sluice.EventResult, Time: t0, Session: "s1", Request: allowed, Result: &sluice.Result{Rows: 1, Tag: "SELECT 1", Status: sluice.StatusOK, Duration: time.Millisecond}},
		{Type: sluice.EventSessionEnd, Time: t0.Add(time.Second), Session: "s1", Reason: sluice.EndClient},
	}
	for _, ev := range events {
		if err := ix.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := ix.Record(ctx, events[0]); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Record after Close = %v", err)
	}

	s, err := st.GetSession(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if s.Identity.Subject != "bot" || s.Connection != "app" || s.EndReason != sluice.EndClient || !s.EndedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("session = %+v", s)
	}
	stmts, err := st.ListStatements(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 {
		t.Fatalf("%d statements, want 2", len(stmts))
	}
	if a := stmts[0]; a.Text != "select 1" || a.Decision != sluice.Allow || a.Rule != "p/grant" || a.Rows != 1 || a.Status != sluice.StatusOK || a.Tag != "SELECT 1" {
		t.Fatalf("allowed = %+v", a)
	}
	if d := stmts[1]; d.Text != "drop table t" || d.Decision != sluice.Deny || d.Rule != "p/3" || d.Status != sluice.StatusDenied || d.Error != "no DDL" {
		t.Fatalf("denied = %+v", d)
	}
}
