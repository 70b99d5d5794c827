package console

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

func TestBuildTimelineReviewHold(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	sess := &sluice.Session{ID: "s1", StartedAt: t0}
	req := &sluice.Request{ID: "s1/1", Seq: 1, Text: "delete from t where id = 1", Time: t0}
	rv := &sluice.Review{ID: "rv_1", Request: *req}
	events := []*sluice.Event{
		{Seq: 1, Type: sluice.EventSessionStart, Session: "s1", Time: t0},
		{Seq: 2, Type: sluice.EventReview, Session: "s1", Review: rv, Reason: "created", Time: t0},
		{Seq: 3, Type: sluice.EventRequest, Session: "s1", Request: req, Time: t0,
			Decision: &sluice.Decision{Action: sluice.ActionReview, Policy: "p", Rule: "rule 2", ReviewID: "rv_1"}},
		{Seq: 4, Type: sluice.EventReview, Session: "s1", Review: rv, Reason: "approved by alice via console", Time: t0.Add(time.Second)},
		{Seq: 5, Type: sluice.EventDecision, Session: "s1", Request: req, Time: t0.Add(time.Second),
			Decision: &sluice.Decision{Action: sluice.ActionAllow, ReviewID: "rv_1"}},
		{Seq: 6, Type: sluice.EventResult, Session: "s1", Request: req, Time: t0.Add(2 * time.Second), Result: &sluice.Result{Status: "ok", Rows: 1}},
		{Seq: 7, Type: sluice.EventReview, Session: "s1", Review: &sluice.Review{ID: "rv_9", Request: sluice.Request{ID: "other/1"}}, Reason: "expired"},
		{Seq: 8, Type: sluice.EventSessionEnd, Session: "s1", Reason: sluice.EndClient, Time: t0.Add(3 * time.Second)},
	}
	tl := buildTimeline(sess, events)
	if tl.Steps != 1 || len(tl.Entries) != 4 {
		t.Fatalf("timeline: %d steps, %d entries", tl.Steps, len(tl.Entries))
	}
	st := tl.Entries[1].Step
	if st == nil || st.ReqSeq != 3 || st.OutcomeSeq != 5 || st.ResultSeq != 6 || len(st.Reviews) != 2 ||
		st.Reviews[0].Seq != 2 || st.Final() != sluice.ActionAllow || st.Anchor() != "seq-3" {
		t.Fatalf("step %+v", st)
	}
	if tl.Entries[0].Marker == nil || tl.Entries[2].Marker == nil || tl.Entries[2].Marker.Event.Seq != 7 || tl.Entries[3].Marker.Event.Seq != 8 {
		t.Fatalf("markers %+v", tl.Entries)
	}
}
