package journal

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// requestEvent is an allowed request of session s with its own text.
func requestEvent(s string, i int, action sluice.Action) *sluice.Event {
	ev := testEvent("")
	ev.Session = s
	r := *ev.Request
	r.ID, r.SessionID, r.Seq = fmt.Sprintf("%s/%d", s, i), s, int64(i)
	r.Text = fmt.Sprintf("SELECT %d FROM orders", i)
	ev.Request, ev.Decision = &r, &sluice.Decision{Action: action}
	return ev
}

// resultEvent is the result of req, naming its record at seq.
func resultEvent(req *sluice.Request, seq uint64, rows int64) *sluice.Event {
	return &sluice.Event{Type: sluice.EventResult, Session: req.SessionID, RequestRef: req.ID, RequestSeq: seq,
		Result: &sluice.Result{Rows: rows, Status: sluice.StatusOK}}
}

// writeRequests journals n allowed requests of session s, each followed by
// a denied request and then by the first one's result (rows i), over
// several segments, and returns the journal's directory.
func writeRequests(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	j := openJournal(t, testOptions(dir))
	ctx := context.Background()
	for i := range n {
		req := requestEvent("s", i, sluice.ActionAllow)
		seq, err := j.Append(ctx, req, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := j.Append(ctx, requestEvent("s", 1000+i, sluice.ActionDeny), true); err != nil {
			t.Fatal(err)
		}
		if _, err := j.Append(ctx, resultEvent(req.Request, seq, int64(i)), false); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// joinFrom scans dir from seq, joining each result, and returns the text
// of each result's request by its rows.
func joinFrom(t *testing.T, dir string, from uint64, q *Requests) map[int64]string {
	t.Helper()
	texts := map[int64]string{}
	err := Scan(dir, from, func(r *Record) error {
		ev := r.Event
		if err := q.Join(&ev); err != nil {
			return err
		}
		if ev.Type == sluice.EventResult {
			texts[ev.Result.Rows] = ev.Request.Text
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return texts
}

func TestRequestsJoinResults(t *testing.T) {
	const n = 60
	dir := writeRequests(t, n)
	if len(segmentFiles(t, dir)) < 3 {
		t.Fatalf("the test needs several segments, got %d", len(segmentFiles(t, dir)))
	}

	// From the start every request is seen before its result, and none is
	// left waiting: the denied ones were never remembered.
	q := NewRequests(dir)
	texts := joinFrom(t, dir, 1, q)
	for i := range n {
		if want := fmt.Sprintf("SELECT %d FROM orders", i); texts[int64(i)] != want {
			t.Errorf("result %d joined to %q, want %q", i, texts[int64(i)], want)
		}
	}
	if len(q.waiting) != 0 || q.bytes != 0 {
		t.Errorf("%d requests (%d bytes) still waiting after all results", len(q.waiting), q.bytes)
	}

	// A scan that starts between a request and its result reads the
	// request from the journal.
	recs := scanAll(t, dir)
	var from uint64
	for _, r := range recs {
		if r.Event.Type == sluice.EventResult && r.Event.Result.Rows == 40 {
			from = r.Seq
		}
	}
	texts = joinFrom(t, dir, from, NewRequests(dir))
	if texts[40] != "SELECT 40 FROM orders" || len(texts) != n-40 {
		t.Errorf("joined from record %d: %d results, result 40 %q", from, len(texts), texts[40])
	}

	// Once retention removed a request's segment, its result keeps the
	// request's ID and session.
	removed, err := Retain(dir, func(first, last *Record) bool { return first.Seq > 1 })
	if err != nil || removed != 1 {
		t.Fatalf("Retain: removed %d, %v", removed, err)
	}
	ev := resultEvent(recs[0].Event.Request, 1, 0)
	if err := NewRequests(dir).Join(ev); err != nil {
		t.Fatalf("join a result whose request is gone: %v", err)
	}
	if ev.Request == nil || ev.Request.ID != "s/0" || ev.Request.SessionID != "s" || ev.Request.Text != "" {
		t.Errorf("result of a removed request got %+v", ev.Request)
	}

	// A result that names a record which is not its request is an error.
	last := recs[len(recs)-1]
	for _, bad := range []*sluice.Event{
		resultEvent(&sluice.Request{ID: "s/7", SessionID: "s"}, last.Seq-2, 7),     // another request's record
		resultEvent(&sluice.Request{ID: "s/59", SessionID: "s"}, last.Seq, 59),     // a result's record
		resultEvent(&sluice.Request{ID: "s/59", SessionID: "s"}, last.Seq+100, 59), // past the end
	} {
		err := NewRequests(dir).Join(bad)
		if err == nil || bad.Request != nil {
			t.Errorf("result naming record %d as %s: err %v, request %+v", bad.RequestSeq, bad.RequestRef, err, bad.Request)
		}
	}
}

func TestRequestsForget(t *testing.T) {
	// No journal: every join below must come from memory.
	q := NewRequests(t.TempDir())
	held := requestEvent("a", 1, sluice.ActionReview)
	held.Seq = 1
	refused := requestEvent("a", 2, sluice.ActionReview)
	refused.Seq = 2
	open := requestEvent("b", 1, sluice.ActionAllow)
	open.Seq = 3
	for _, ev := range []*sluice.Event{held, refused, open,
		{Type: sluice.EventDecision, Request: refused.Request, Decision: &sluice.Decision{Action: sluice.ActionDeny}},
		{Type: sluice.EventDecision, Request: held.Request, Decision: &sluice.Decision{Action: sluice.ActionAllow}},
	} {
		if err := q.Join(ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := q.waiting["a/2"]; ok || len(q.waiting) != 2 {
		t.Fatalf("after a refusal and an approval: waiting %v, want a/1 and b/1", keys(q.waiting))
	}
	res := resultEvent(held.Request, 1, 1)
	if err := q.Join(res); err != nil || res.Request != held.Request {
		t.Fatalf("approved request's result: %v, request %+v", err, res.Request)
	}
	// A result after its session's end (a front door closing sessions
	// while their last requests finish) still joins from memory.
	if err := q.Join(&sluice.Event{Type: sluice.EventSessionEnd, Session: "b"}); err != nil {
		t.Fatal(err)
	}
	res = resultEvent(open.Request, 3, 1)
	if err := q.Join(res); err != nil || res.Request != open.Request {
		t.Fatalf("result after its session's end: %v, request %+v", err, res.Request)
	}
	if len(q.waiting) != 0 || q.bytes != 0 {
		t.Errorf("after every result: waiting %v (%d bytes)", keys(q.waiting), q.bytes)
	}
}

func TestRequestsStayBounded(t *testing.T) {
	q := NewRequests(t.TempDir())
	big := strings.Repeat("x", 64<<10)
	for i := range 3 * maxWaiting {
		ev := requestEvent("s", i, sluice.ActionAllow)
		ev.Seq = uint64(i + 1)
		ev.Request.HTTP = &sluice.HTTPRequest{Body: big}
		if err := q.Join(ev); err != nil {
			t.Fatal(err)
		}
		if len(q.waiting) > maxWaiting || q.bytes > maxWaitingBytes {
			t.Fatalf("after %d requests: %d waiting, %d bytes", i+1, len(q.waiting), q.bytes)
		}
	}
	// The newest are the ones kept.
	n := 3 * maxWaiting
	if _, ok := q.waiting[fmt.Sprintf("s/%d", n-1)]; !ok {
		t.Errorf("the newest request was forgotten")
	}
	if _, ok := q.waiting["s/0"]; ok {
		t.Errorf("the oldest request is still remembered")
	}
}

func keys(m map[string]waitingRequest) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
