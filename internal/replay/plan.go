package replay

import (
	"slices"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/sqlclass"
)

// step is one request of the original session, with its outcome and, when
// it is not replayed, why.
type step struct {
	req    *sluice.Request
	result *sluice.Result
	skip   string
}

// txControl are the statement kinds that would end or nest the replay's
// own transaction.
var txControl = []string{"begin", "start_transaction", "commit", "rollback", "savepoint", "release",
	"rollback_to_savepoint", "prepare_transaction", "commit_prepared", "rollback_prepared"}

// plan lists a session's requests in order, from its journal events, and
// says which are replayed: those that were forwarded and succeeded. It
// skips, saying why, what was denied or refused in review, what failed or
// never finished, what is not SQL, scripts (`sluice run`: their statements
// are replayed one by one), transaction control (the replay is one
// transaction of its own) and COPY (its data is not in the journal).
func plan(events []*sluice.Event) []*step {
	var steps []*step
	byID := map[string]*step{}
	parents := map[string]bool{}
	for _, ev := range events {
		if ev.RequestID() == "" || ev.Type != sluice.EventResult && ev.Request == nil {
			continue // only a result may name its request without holding it
		}
		switch ev.Type {
		case sluice.EventRequest:
			st := &step{req: ev.Request}
			steps = append(steps, st)
			byID[ev.Request.ID] = st
			if ev.Request.Parent != "" {
				parents[ev.Request.Parent] = true
			}
			if d := ev.Decision; d != nil && d.Action == sluice.ActionDeny {
				st.skip = "denied: " + orDefault(d.Message, "by policy "+d.Policy)
			}
		case sluice.EventDecision:
			if st := byID[ev.Request.ID]; st != nil && ev.Decision != nil && ev.Decision.Action != sluice.ActionAllow && st.skip == "" {
				st.skip = "not run: " + ev.Decision.Message
			}
		case sluice.EventResult:
			if st := byID[ev.RequestID()]; st != nil {
				st.result = ev.Result
			}
		}
	}
	for _, st := range steps {
		if st.skip == "" {
			st.skip = skipReason(st, parents)
		}
	}
	return steps
}

// skipReason says why a forwarded request is not replayed, or "".
func skipReason(st *step, parents map[string]bool) string {
	req, res := st.req, st.result
	switch {
	case parents[req.ID]:
		return "a script (sluice run): its statements are replayed one by one"
	case req.Kind != sluice.KindSQL && req.Kind != "":
		return "not SQL"
	case req.FunctionOID != 0:
		return "a function call by OID, which has no SQL text to replay"
	case res == nil:
		return "no result recorded (the session ended before it finished)"
	case res.Status != sluice.StatusOK:
		msg := "failed originally"
		if res.Error != "" {
			msg += ": " + res.Error
		}
		return msg
	}
	a := sqlclass.Classify(req.Text)
	if a.Err != nil {
		return ""
	}
	for _, s := range a.Statements {
		switch {
		case slices.Contains(txControl, s.Kind):
			return "transaction control (" + strings.ToUpper(strings.ReplaceAll(s.Kind, "_", " ")) +
				"): the replay runs in one transaction of its own"
		case strings.HasPrefix(s.Kind, "copy"):
			return "COPY: its data is not in the journal"
		}
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
