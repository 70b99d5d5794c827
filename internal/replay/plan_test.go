package replay

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestPlan(t *testing.T) {
	var evs []*sluice.Event
	seq := int64(0)
	req := func(text string, d sluice.Action, parent string) *sluice.Request {
		seq++
		r := &sluice.Request{ID: "s/" + string(rune('0'+seq)), Seq: seq, Kind: sluice.KindSQL, Text: text, Parent: parent}
		evs = append(evs, &sluice.Event{Type: sluice.EventRequest, Request: r, Decision: &sluice.Decision{Action: d, Message: "no"}})
		return r
	}
	result := func(r *sluice.Request, status, errText string) {
		evs = append(evs, &sluice.Event{Type: sluice.EventResult, Request: r, Result: &sluice.Result{Status: status, Error: errText}})
	}
	sel := req("select * from t", sluice.ActionAllow, "")
	result(sel, sluice.StatusOK, "")
	req("drop table t", sluice.ActionDeny, "")
	held := req("delete from t", sluice.ActionReview, "")
	evs = append(evs, &sluice.Event{Type: sluice.EventDecision, Request: held,
		Decision: &sluice.Decision{Action: sluice.ActionDeny, Message: "denied by alice in review rv_1"}})
	bad := req("select * from nope", sluice.ActionAllow, "")
	result(bad, sluice.StatusError, `42P01: relation "nope" does not exist`)
	begin := req("BEGIN", sluice.ActionAllow, "")
	result(begin, sluice.StatusOK, "")
	multi := req("update t set a = 1 where b = 2; commit", sluice.ActionAllow, "")
	result(multi, sluice.StatusOK, "")
	script := req("insert into t values (1); insert into t values (2)", sluice.ActionAllow, "")
	part := req("insert into t values (1)", sluice.ActionAllow, script.ID)
	result(part, sluice.StatusOK, "")
	result(script, sluice.StatusOK, "")
	cp := req("copy t from stdin", sluice.ActionAllow, "")
	result(cp, sluice.StatusOK, "")
	req("select pg_sleep(10)", sluice.ActionAllow, "") // the session ended before its result

	want := []string{
		"",
		"denied: no",
		"not run: denied by alice in review rv_1",
		`failed originally: 42P01: relation "nope" does not exist`,
		"transaction control (BEGIN): the replay runs in one transaction of its own",
		"transaction control (COMMIT): the replay runs in one transaction of its own",
		"a script (sluice run): its statements are replayed one by one",
		"",
		"COPY: its data is not in the journal",
		"no result recorded (the session ended before it finished)",
	}
	steps := plan(evs)
	if len(steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(steps), len(want))
	}
	for i, st := range steps {
		if st.skip != want[i] {
			t.Errorf("step %d (%s): skip %q, want %q", i+1, st.req.Text, st.skip, want[i])
		}
	}
}

func TestReportPrint(t *testing.T) {
	s := func(v string) *string { return &v }
	rep := &Report{Session: "20261127T120000-aaaaaaaaaaaa", Subject: "agent-7", Connection: "orders", Against: "staging",
		Replay: "20261127T130000-bbbbbbbbbbbb", Outcome: "rolled back: the sandbox is unchanged", Replayed: 2, Skipped: 1, Differing: 1,
		Statements: []Statement{
			{Request: "x/1", Seq: 1, Text: "select id, status\n  from orders order by id", Replay: "y/3",
				Original:    &Side{Status: "ok", Tag: "SELECT 2", Rows: 2, Columns: []string{"id", "status"}, Captured: 2, Duration: time.Millisecond},
				Sandbox:     &Side{Status: "ok", Tag: "SELECT 2", Rows: 2, Columns: []string{"id", "status"}, Captured: 2},
				Differences: []string{"rows differ: 1 missing, 1 extra, 1 changed"},
				Rows: &Rows{Compared: 2, Missing: [][]*string{{s("3"), s("open")}}, Extra: [][]*string{{s("4"), nil}},
					Changed: []Change{{Original: []*string{s("1"), s("open")}, Sandbox: []*string{s("1"), s("shipped")}, Columns: []int{1}}}},
				Notes: []string{"the original capture was truncated after 2 rows"}},
			{Request: "x/2", Seq: 2, Text: "update orders set status = 'x' where id = 1", Replay: "y/6",
				Original: &Side{Status: "ok", Tag: "UPDATE 1", Rows: 1}, Sandbox: &Side{Status: "ok", Tag: "UPDATE 1", Rows: 1}},
			{Request: "x/3", Seq: 3, Text: "drop table orders", Skipped: "denied: schema changes go through migrations"},
		}}
	var b bytes.Buffer
	rep.Print(&b)
	golden := filepath.Join("testdata", "report.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("report:\n%s\nwant:\n%s", b.Bytes(), want)
	}
}

// TestPlanSkipsRecordsWithoutTheirRequest plans a damaged or hand-made
// journal whose request or decision record names a request (request_id)
// without holding it: only a result may do that, so the record is skipped
// rather than read.
func TestPlanSkipsRecordsWithoutTheirRequest(t *testing.T) {
	for _, typ := range []sluice.EventType{sluice.EventRequest, sluice.EventDecision} {
		steps := plan([]*sluice.Event{{Seq: 1, Type: typ, Session: "s", RequestRef: "s/1", Decision: &sluice.Decision{Action: sluice.ActionDeny}}})
		if len(steps) != 0 {
			t.Errorf("%s record without its request planned as %d steps", typ, len(steps))
		}
	}
}
