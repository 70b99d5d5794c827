package gate_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/review"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// failingCreate is a review store whose CreateReview fails.
type failingCreate struct{ review.Store }

func (failingCreate) CreateReview(context.Context, *sluice.Review) error {
	return errors.New("database is locked")
}

// heldGate is scriptGate with the real review flow, journaling to the
// gate's recorder; broken makes storing a review fail.
func heldGate(t *testing.T, broken bool) (*memRecorder, *review.Service, func(text string) (sluice.Decision, error)) {
	t.Helper()
	g, rec, _ := scriptGate(t)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := &review.Service{Store: st, Recorder: rec}
	if broken {
		svc.Store = failingCreate{st}
	}
	g.Reviews = svc
	s := openScript(t, g)
	return rec, svc, func(text string) (sluice.Decision, error) {
		return s.Begin(context.Background(), &sluice.Request{Kind: sluice.KindSQL, Text: text})
	}
}

func TestHoldJournalsTheRequestBeforeItsReview(t *testing.T) {
	rec, _, begin := heldGate(t, false)
	d, err := begin("update t set a = 2 where a = 1")
	if err != nil || d.Action != sluice.ActionReview || d.ReviewID == "" {
		t.Fatalf("Begin = %+v, %v; want held for a review", d, err)
	}
	// The same statement again joins the review, and is recorded too.
	if d2, err := begin("update t set a = 2 where a = 1"); err != nil || d2.ReviewID != d.ReviewID {
		t.Fatalf("second Begin = %+v, %v; want to join %s", d2, err, d.ReviewID)
	}
	var got []string
	for _, ev := range rec.events {
		switch ev.Type {
		case sluice.EventRequest:
			got = append(got, "request "+string(ev.Decision.Action)+" "+ev.Decision.ReviewID)
		case sluice.EventReview:
			got = append(got, "review "+ev.Reason+" "+ev.Review.ID)
		}
	}
	want := []string{"request review " + d.ReviewID, "review created " + d.ReviewID, "request review " + d.ReviewID}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("journal:\n got %q\nwant %q", got, want)
	}
}

func TestHoldWithoutAReviewDenies(t *testing.T) {
	// Storing the review fails after the request was recorded naming it:
	// a decision that refuses the request follows, and the caller is told.
	rec, _, begin := heldGate(t, true)
	d, err := begin("update t set a = 2 where a = 1")
	if sluice.ErrorCode(err) != sluice.EForbidden || !strings.Contains(sluice.AsError(err).Message, "could not open a review") {
		t.Fatalf("Begin = %+v, %v; want a denial saying no review could be opened", d, err)
	}
	if d.Action != sluice.ActionDeny {
		t.Errorf("decision %s, want deny", d.Action)
	}
	n := len(rec.events)
	if n < 2 {
		t.Fatalf("journal holds %d events", n)
	}
	req, out := rec.events[n-2], rec.events[n-1]
	if req.Type != sluice.EventRequest || req.Decision.Action != sluice.ActionReview || req.Decision.ReviewID == "" {
		t.Errorf("request record %s %+v, want the hold naming its review", req.Type, req.Decision)
	}
	if out.Type != sluice.EventDecision || out.Decision.Action != sluice.ActionDeny || out.Request != req.Request {
		t.Errorf("then %s %+v, want a denial of the same request", out.Type, out.Decision)
	}
	for _, ev := range rec.events {
		if ev.Type == sluice.EventReview {
			t.Errorf("journaled review step %q for a review that was not stored", ev.Reason)
		}
	}
}

func TestHoldNotRecordedOpensNoReview(t *testing.T) {
	// The journal refuses the request's record: no review is opened, and
	// the caller gets the journal's failure, not a hold.
	rec, svc, begin := heldGate(t, false)
	rec.fail = true
	_, err := begin("update t set a = 2 where a = 1")
	if sluice.ErrorCode(err) != sluice.EUnavailable {
		t.Fatalf("Begin with a failing journal = %v, want unavailable", err)
	}
	list, err := svc.List(context.Background(), store.ReviewFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("%d reviews opened for a request the journal refused", len(list))
	}
}
