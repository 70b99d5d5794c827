package gate_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/policy"
)

// memRecorder keeps events, numbering them as the journal does, or fails
// while fail is set.
type memRecorder struct {
	mu     sync.Mutex
	events []*sluice.Event
	fail   bool
}

func (r *memRecorder) Record(_ context.Context, ev *sluice.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("disk full")
	}
	r.events = append(r.events, ev)
	ev.Seq = uint64(len(r.events))
	return nil
}

func (r *memRecorder) types() []sluice.EventType {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ts []sluice.EventType
	for _, e := range r.events {
		ts = append(ts, e.Type)
	}
	return ts
}

func newGate(t *testing.T) (*gate.Gate, *memRecorder) {
	pol, err := policy.New([]config.Policy{{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app"}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &memRecorder{}
	g := gate.New(pol, map[string]sluice.ConnType{"app": sluice.ConnPostgres, "other": sluice.ConnPostgres}, rec, nil)
	g.Now = func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) }
	return g, rec
}

var (
	agent  = &sluice.Identity{Subject: "bot", Groups: []string{"agents"}}
	client = netip.MustParseAddrPort("127.0.0.1:4000")
)

func TestOpenSessionRefusals(t *testing.T) {
	g, rec := newGate(t)
	ctx := context.Background()
	cases := []struct {
		conn string
		id   *sluice.Identity
		code string
	}{
		{"missing", agent, sluice.ENotFound},
		{"other", agent, sluice.EForbidden},
		{"app", &sluice.Identity{Subject: "intern", Groups: []string{"interns"}}, sluice.EForbidden},
	}
	for _, c := range cases {
		_, err := g.OpenSession(ctx, gate.SessionInfo{Identity: c.id, Connection: c.conn, ClientAddr: client})
		if sluice.ErrorCode(err) != c.code {
			t.Errorf("%s/%s: err = %v, want %s", c.id.Subject, c.conn, err, c.code)
		}
	}
	for _, typ := range rec.types() {
		if typ != sluice.EventAuthFailure {
			t.Fatalf("refusals recorded %v, want only auth failures", rec.types())
		}
	}
	if len(rec.types()) != len(cases) {
		t.Fatalf("%d events for %d refusals", len(rec.types()), len(cases))
	}
}

func TestSessionLifecycle(t *testing.T) {
	g, rec := newGate(t)
	ctx := context.Background()
	s, err := g.OpenSession(ctx, gate.SessionInfo{Identity: agent, Connection: "app", Protocol: sluice.ProtoPostgres, ClientAddr: client})
	if err != nil {
		t.Fatal(err)
	}
	r1, r2 := &sluice.Request{Text: "select 1"}, &sluice.Request{Text: "select 2"}
	for _, r := range []*sluice.Request{r1, r2} {
		d, err := s.Begin(ctx, r)
		if err != nil || d.Action != sluice.ActionAllow || d.Policy != "agents" {
			t.Fatalf("Begin = %+v, %v", d, err)
		}
	}
	if r1.Seq != 1 || r2.Seq != 2 || r2.ID != s.ID()+"/2" || r2.SessionID != s.ID() || r2.Time.IsZero() ||
		r2.Subject != "bot" || r2.Groups[0] != "agents" || r2.Connection != "app" || r2.ClientAddr != "127.0.0.1:4000" {
		t.Fatalf("numbering: %+v %+v", r1, r2)
	}
	s.Done(ctx, r1, &sluice.Result{Status: sluice.StatusOK})
	s.Close(ctx, sluice.EndClient)
	s.Close(ctx, sluice.EndUpstream) // ignored
	want := []sluice.EventType{sluice.EventSessionStart, sluice.EventRequest, sluice.EventRequest, sluice.EventResult, sluice.EventSessionEnd}
	got := rec.types()
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
	if end := rec.events[4]; end.Reason != sluice.EndClient {
		t.Fatalf("end reason %q", end.Reason)
	}
	// The result names its request's record rather than repeating it.
	if res := rec.events[3]; res.Request != nil || res.RequestRef != r1.ID || res.RequestSeq != 2 || r1.Recorded != 2 || res.Session != s.ID() {
		t.Fatalf("result names request %q at record %d (request %+v), want %q at 2", res.RequestRef, res.RequestSeq, res.Request, r1.ID)
	}
}

// TestFailClosed checks that nothing is allowed when the recorder fails.
func TestFailClosed(t *testing.T) {
	g, rec := newGate(t)
	ctx := context.Background()
	rec.fail = true
	if _, err := g.OpenSession(ctx, gate.SessionInfo{Identity: agent, Connection: "app", ClientAddr: client}); sluice.ErrorCode(err) != sluice.EUnavailable {
		t.Fatalf("OpenSession with a failing journal: %v", err)
	}
	rec.fail = false
	s, err := g.OpenSession(ctx, gate.SessionInfo{Identity: agent, Connection: "app", ClientAddr: client})
	if err != nil {
		t.Fatal(err)
	}
	rec.fail = true
	_, err = s.Begin(ctx, &sluice.Request{Text: "delete from orders"})
	e := sluice.AsError(err)
	if e == nil || e.Code != sluice.EUnavailable || e.SQLState() != "58030" || e.Cause == nil {
		t.Fatalf("Begin with a failing journal: %#v", err)
	}
}
