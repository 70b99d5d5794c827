package console

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
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

// TestOlderPages pages through search results and sessions three at a
// time: every row is reached, newest first, and rows that share a start
// time with a page's last row are shown again rather than skipped.
func TestOlderPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b := &store.IndexBatch{}
	var want []string
	for i := range 8 {
		at := t0.Add(time.Duration(i) * time.Second)
		if i == 5 {
			at = t0.Add(4 * time.Second) // shares its start with row 4
		}
		sid := fmt.Sprintf("20260301T1200%02d-page%02d", i, i)
		b.Sessions = append(b.Sessions, &sluice.Session{ID: sid, Identity: sluice.Identity{Subject: "pager"},
			Connection: "shop", Protocol: sluice.ProtoPostgres, StartedAt: at})
		b.Statements = append(b.Statements, &sluice.StatementRecord{ID: sid + "/1", SessionID: sid, Seq: 1,
			Text: fmt.Sprintf("select %d", i), StartedAt: at, Subject: "pager", Connection: "shop",
			Decision: sluice.ActionAllow, Status: sluice.StatusOK})
		want = append(want, sid)
	}
	must(t, f.store.ApplyIndex(ctx, b))
	br := f.browser()
	br.devLogin("sam", "security")
	rowID := regexp.MustCompile(`data-testid="(?:search|session)-row" data-session-id="([^"]+)"`)
	older := regexp.MustCompile(`href="([^"]+)" rel="next" data-testid="older-link"`)
	for _, start := range []string{"/console/search?subject=pager&limit=3", "/console/sessions?subject=pager&limit=3"} {
		seen := map[string]int{}
		var order []string
		next, pages := start, 0
		for next != "" {
			pages++
			if pages > 10 {
				t.Fatalf("%s: more than 10 pages", start)
			}
			p := br.get(html.UnescapeString(next))
			if p.StatusCode != 200 {
				t.Fatalf("%s: %d\n%s", next, p.StatusCode, p.Body)
			}
			for _, m := range rowID.FindAllStringSubmatch(p.Body, -1) {
				if seen[m[1]] == 0 {
					order = append(order, m[1])
				}
				seen[m[1]]++
			}
			next = ""
			if m := older.FindStringSubmatch(p.Body); m != nil {
				next = m[1]
			}
		}
		// Newest first: the reverse of want, where rows 4 and 5 share
		// their start time and may come in either order.
		var rev []string
		for i := len(want) - 1; i >= 0; i-- {
			rev = append(rev, want[i])
		}
		if len(order) != len(want) {
			t.Fatalf("%s: reached %v in %d pages, want all of %v", start, order, pages, rev)
		}
		for i := range order {
			if order[i] != rev[i] && !(i == 2 || i == 3) {
				t.Errorf("%s: row %d is %s, want %s (order %v)", start, i, order[i], rev[i], order)
			}
		}
		if pages < 3 {
			t.Errorf("%s: %d pages for 8 rows three at a time", start, pages)
		}
	}
}
