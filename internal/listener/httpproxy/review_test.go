package httpproxy_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
)

// fakeReviews holds every review until the test decides it.
type fakeReviews struct {
	opened  chan *sluice.Request
	mu      sync.Mutex
	status  sluice.ReviewStatus
	decided chan struct{}
	claims  int
}

func newFakeReviews() *fakeReviews {
	return &fakeReviews{opened: make(chan *sluice.Request, 4), status: sluice.ReviewPending, decided: make(chan struct{})}
}

func (f *fakeReviews) Hold(_ context.Context, req *sluice.Request, _ string, _ sluice.Decision, _ []string,
	record func(string) error) (*sluice.Review, error) {
	if err := record("rv_1"); err != nil {
		return nil, err
	}
	f.opened <- req
	return &sluice.Review{ID: "rv_1", Status: sluice.ReviewPending}, nil
}

func (f *fakeReviews) Wait(ctx context.Context, id string, until time.Time) (*sluice.Review, error) {
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	select {
	case <-f.decided:
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return &sluice.Review{ID: id, Status: f.status, ValidUntil: time.Now().Add(time.Hour)}, nil
}

func (f *fakeReviews) Claim(_ context.Context, id string) (*sluice.Review, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claims++
	return &sluice.Review{ID: id, Status: sluice.ReviewExecuted}, nil
}

func (f *fakeReviews) decide(s sluice.ReviewStatus) {
	f.mu.Lock()
	f.status = s
	f.mu.Unlock()
	close(f.decided)
}

func reviewRules(wait time.Duration) []config.Rule {
	return []config.Rule{
		{Name: "deletes", When: `"azure.delete_storage_account" in patterns`, Action: "review",
			Approvers: []string{"group:dba"}, MinApprovals: 1, Wait: config.Duration(wait)},
		{When: "true", Action: "allow"},
	}
}

const accountPath = "/proxy/api/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/acct1?api-version=2023-05-01"

func TestProxyHoldsUntilApproved(t *testing.T) {
	rv := newFakeReviews()
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) },
		options{rules: reviewRules(time.Minute), reviews: rv})
	type answer struct {
		status int
		body   string
	}
	done := make(chan answer, 1)
	go func() {
		st, _, b := s.do(t, "DELETE", accountPath, "")
		done <- answer{st, b}
	}()
	req := <-rv.opened
	if req.Class&sluice.ClassDestructive == 0 || !strings.Contains(strings.Join(req.HTTP.Patterns, ","), "azure.delete_storage_account") {
		t.Errorf("held request: class %s patterns %v", req.Class, req.HTTP.Patterns)
	}
	if n := len(s.up.requests()); n != 0 {
		t.Fatalf("the upstream saw %d requests while the review was open", n)
	}
	rv.decide(sluice.ReviewApproved)
	a := <-done
	if a.status != http.StatusAccepted {
		t.Errorf("approved delete answered %d %s", a.status, a.body)
	}
	if n := len(s.up.requests()); n != 1 || rv.claims != 1 {
		t.Errorf("upstream saw %d requests, %d claims", n, rv.claims)
	}
}

func TestProxyHoldTimesOut(t *testing.T) {
	rv := newFakeReviews()
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) },
		options{rules: reviewRules(50 * time.Millisecond), reviews: rv})
	st, hdr, body := s.do(t, "DELETE", accountPath, "")
	if st != http.StatusGatewayTimeout || hdr.Get("Sluice-Review") != "rv_1" || !strings.Contains(body, "still pending") {
		t.Errorf("got %d %v %s", st, hdr, body)
	}
	if n := len(s.up.requests()); n != 0 {
		t.Errorf("the upstream saw %d requests", n)
	}
}
