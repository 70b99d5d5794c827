package review_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/review"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// steps records the journal's review steps.
type steps struct {
	mu    sync.Mutex
	names []string
}

func (s *steps) Record(_ context.Context, ev *sluice.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Type == sluice.EventReview {
		s.names = append(s.names, ev.Reason)
	}
	return nil
}

func (s *steps) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.names...)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newService(t *testing.T) (*review.Service, *steps, *clock) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec := &steps{}
	clk := &clock{t: time.Now().UTC()}
	return &review.Service{Store: st, Recorder: rec, Validity: time.Hour, Now: clk.Now, Poll: time.Hour,
		Groups: map[string][]string{"dba": {"dora"}}}, rec, clk
}

var (
	agent = &sluice.Identity{Subject: "bot", Groups: []string{"ai-agents"}}
	alice = &sluice.Identity{Subject: "alice", Groups: []string{"dba"}}
	bob   = &sluice.Identity{Subject: "bob", Groups: []string{"dba"}}
	eve   = &sluice.Identity{Subject: "eve", Groups: []string{"interns"}}
	hold  = sluice.Decision{Action: sluice.ActionReview, Policy: "p", Rule: "r", Approvers: []string{"group:dba", "subject:bot"},
		MinApprovals: 2, Wait: time.Minute}
)

func request(text string) *sluice.Request {
	return &sluice.Request{ID: "s/1", SessionID: "s", Text: text, Subject: agent.Subject, Groups: agent.Groups, Connection: "orders"}
}

func TestVotes(t *testing.T) {
	ctx := context.Background()
	svc, rec, _ := newService(t)
	r, err := svc.Hold(ctx, request("delete from orders"), request("delete from orders").Hash(), hold, []string{"DELETE without WHERE"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != sluice.ReviewPending || r.MinApprovals != 2 || r.EstimatedRows != -1 || r.StatementHash == "" {
		t.Fatalf("opened %+v", r)
	}
	// The same statement again joins the pending review.
	again, _ := svc.Hold(ctx, request("delete from orders"), request("delete from orders").Hash(), hold, nil, nil)
	if again.ID != r.ID {
		t.Fatalf("a second hold opened %s, want to join %s", again.ID, r.ID)
	}
	if _, err := svc.Decide(ctx, r.ID, agent, true, "", "cli"); !errors.Is(err, review.ErrSelfApproval) {
		t.Fatalf("self-approval: %v (the requester is even listed as an approver)", err)
	}
	if _, err := svc.Decide(ctx, r.ID, eve, true, "", "cli"); !errors.Is(err, review.ErrNotApprover) {
		t.Fatalf("non-approver: %v", err)
	}
	r, err = svc.Decide(ctx, r.ID, alice, true, "fine", "cli")
	if err != nil || r.Status != sluice.ReviewPending || r.Approvals() != 1 {
		t.Fatalf("first vote: %+v %v", r, err)
	}
	if _, err := svc.Decide(ctx, r.ID, alice, true, "again", "api"); !errors.Is(err, store.ErrAlreadyVoted) {
		t.Fatalf("second vote by alice: %v", err)
	}
	// dora is in dba only through the configured group map.
	r, err = svc.DecideAs(ctx, r.ID, "dora", true, "ok", "slack")
	if err != nil || r.Status != sluice.ReviewApproved {
		t.Fatalf("second approver: %+v %v", r, err)
	}
	if _, err := svc.Claim(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Claim(ctx, r.ID); !errors.Is(err, store.ErrReviewClosed) {
		t.Fatalf("second claim: %v", err)
	}
	want := []string{"created", "vote: approve by alice via cli (1 of 2 approvals)", "approved by dora via slack", "executed"}
	if got := rec.list(); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("journaled steps %q, want %q", got, want)
	}
}

func TestWaitWakesAndTimesOut(t *testing.T) {
	ctx := context.Background()
	svc, _, clk := newService(t)
	one := hold
	one.MinApprovals = 1
	r, err := svc.Hold(ctx, request("truncate orders"), request("truncate orders").Hash(), one, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *sluice.Review, 1)
	go func() {
		rv, _ := svc.Wait(ctx, r.ID, time.Now().Add(time.Minute))
		got <- rv
	}()
	if _, err := svc.Decide(ctx, r.ID, bob, false, "no", "cli"); err != nil {
		t.Fatal(err)
	}
	if rv := <-got; rv.Status != sluice.ReviewDenied || rv.Decisions[0].Reason != "no" {
		t.Fatalf("woken with %+v", rv)
	}

	// A wait that runs out returns the review still pending.
	r2, _ := svc.Hold(ctx, request("drop table orders"), request("drop table orders").Hash(), one, nil, nil)
	rv, err := svc.Wait(ctx, r2.ID, time.Now().Add(10*time.Millisecond))
	if err != nil || rv.Status != sluice.ReviewPending {
		t.Fatalf("timed-out wait: %+v %v", rv, err)
	}
	// A late approval still lets the same statement through once...
	if _, err := svc.Decide(ctx, r2.ID, alice, true, "late", "cli"); err != nil {
		t.Fatal(err)
	}
	found, err := svc.Hold(ctx, request("drop table orders"), request("drop table orders").Hash(), one, nil, nil)
	if err != nil || found.ID != r2.ID || found.Status != sluice.ReviewApproved {
		t.Fatalf("late approval not found: %+v %v", found, err)
	}
	// ...but not a different statement, and not after the validity window.
	other, _ := svc.Hold(ctx, request("drop table customers"), request("drop table customers").Hash(), one, nil, nil)
	if other.ID == r2.ID {
		t.Fatal("an approval was reused for another statement")
	}
	clk.Add(2 * time.Hour)
	n, err := svc.Expire(ctx)
	if err != nil || n != 2 {
		t.Fatalf("expired %d, %v (want the approved one and the other pending one)", n, err)
	}
	if _, err := svc.Claim(ctx, r2.ID); !errors.Is(err, store.ErrReviewClosed) {
		t.Fatalf("claim after expiry: %v", err)
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	svc, _, _ := newService(t)
	r, _ := svc.Hold(context.Background(), request("delete from t"), request("delete from t").Hash(), hold, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := svc.Wait(ctx, r.ID, time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel: %v", err)
	}
}

func TestPublicError(t *testing.T) {
	for _, c := range []struct {
		in   error
		code string
	}{
		{review.ErrSelfApproval, sluice.EForbidden},
		{review.ErrNotApprover, sluice.EForbidden},
		{store.ErrReviewClosed, sluice.EConflict},
		{store.ErrAlreadyVoted, sluice.EConflict},
		{store.ErrNotFound, sluice.ENotFound},
	} {
		if got := sluice.ErrorCode(review.PublicError(c.in)); got != c.code {
			t.Errorf("%v -> %s, want %s", c.in, got, c.code)
		}
	}
}

// fixedEstimator estimates by text.
type fixedEstimator map[string]int64

func (f fixedEstimator) Estimate(_ context.Context, req *sluice.Request) (int64, error) {
	if n, ok := f[req.Text]; ok {
		return n, nil
	}
	return -1, errors.New(`relation "later" does not exist`)
}

// TestEstimateScript estimates each statement of a script on its own.
func TestEstimateScript(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	svc.Estimator = fixedEstimator{"update orders set a = 1 where b = 2": 40, "delete from orders where b = 3": 2}
	req := request("create table later(a int);\nupdate orders set a = 1 where b = 2; insert into later select 1; delete from orders where b = 3")
	req.Kind = sluice.KindSQL
	r, err := svc.Hold(ctx, req, req.Hash(), hold, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "the planner estimates #1 create_table: not estimated; #2 update: 40 rows; #3 insert: no estimate; #4 delete: 2 rows"
	if r.EstimatedRows != 42 || r.Impact != want {
		t.Fatalf("estimate %d %q\nwant 42 %q", r.EstimatedRows, r.Impact, want)
	}
}

// failingEstimator fails the way a connection failure does, naming the
// upstream's address and user.
type failingEstimator struct{}

func (failingEstimator) Estimate(context.Context, *sluice.Request) (int64, error) {
	return -1, errors.New("failed to connect to user=sluice_svc database=shop: 10.1.2.3:5432: password authentication failed")
}

// TestEstimateFailureHidesCause keeps the cause of a failed estimate, which
// names the upstream, away from approvers; DDL is not estimated at all.
func TestEstimateFailureHidesCause(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	svc.Estimator = failingEstimator{}
	for text, want := range map[string]string{
		"delete from orders": "no estimate: the planner could not be asked (the gateway's log says why)",
		"drop table orders":  "",
	} {
		req := request(text)
		req.Kind = sluice.KindSQL
		r, err := svc.Hold(ctx, req, req.Hash(), hold, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Impact != want || strings.Contains(r.Impact, "10.1.2.3") || strings.Contains(r.Impact, "sluice_svc") {
			t.Errorf("%s: impact %q, want %q", text, r.Impact, want)
		}
	}
}

func TestHoldRecordsTheRequestFirst(t *testing.T) {
	// The caller's request record goes to the journal before the review it
	// opens, naming that review; joining an open review records it too.
	ctx := context.Background()
	svc, rec, _ := newService(t)
	req := request("delete from orders")
	var ids []string
	record := func(id string) error {
		if got := rec.list(); len(got) != len(ids) {
			t.Errorf("steps journaled before the request record %d: %q", len(ids)+1, got)
		}
		ids = append(ids, id)
		return nil
	}
	r, err := svc.Hold(ctx, req, req.Hash(), hold, nil, record)
	if err != nil {
		t.Fatal(err)
	}
	again, err := svc.Hold(ctx, req, req.Hash(), hold, nil, record)
	if err != nil || again.ID != r.ID {
		t.Fatalf("second hold = %v, %v; want to join %s", again, err, r.ID)
	}
	if len(ids) != 2 || ids[0] != r.ID || ids[1] != r.ID {
		t.Errorf("record saw review ids %q, want %s twice", ids, r.ID)
	}
	if got := rec.list(); len(got) != 1 || got[0] != "created" {
		t.Errorf("journaled steps %q, want one created", got)
	}
}

func TestHoldStoresNothingWhenTheRecordFails(t *testing.T) {
	ctx := context.Background()
	svc, rec, _ := newService(t)
	req := request("truncate orders")
	full := errors.New("journal: write segment: no space left on device")
	_, err := svc.Hold(ctx, req, req.Hash(), hold, nil, func(string) error { return full })
	if !errors.Is(err, full) {
		t.Fatalf("Hold = %v, want the record's error", err)
	}
	if got := rec.list(); len(got) != 0 {
		t.Errorf("journaled steps %q for a request that was not recorded", got)
	}
	open, err := svc.Store.ListReviews(ctx, store.ReviewFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 0 {
		t.Errorf("stored %d reviews for a request that was not recorded", len(open))
	}
}
