package ocsf

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sluicehq/sluice"
)

// outcome is what a gate record (request, decision or result) says about
// its request: the OCSF status, the gate's verdict and the severity. Both
// Datastore Activity and API Activity events are built from it.
type outcome struct {
	status     int
	statusName string // overrides the caption for status Other
	code       string
	detail     string
	action     int
	disp       int
	severity   int
	// verb says what happened, for the message: "allowed", "denied",
	// "held", "approved", "ran", "failed", ...
	verb string
}

// apply sets the status, verdict and severity attributes of b.
func (o outcome) apply(b *base) {
	b.setStatus(o.status, o.code, o.detail)
	if o.statusName != "" {
		b.Status = o.statusName
	}
	b.setVerdict(o.action, o.disp, "")
	b.setSeverity(o.severity)
}

// classSeverity is the severity of a request of class c that the gate let
// through: informational for reads, medium for writes, DDL and what could
// not be classified, high for destructive and privileged requests.
func classSeverity(c sluice.Class) int {
	switch {
	case c&(sluice.ClassDestructive|sluice.ClassPrivileged) != 0:
		return sevHigh
	case c&(sluice.ClassWrite|sluice.ClassDDL|sluice.ClassUnknown) != 0:
		return sevMedium
	}
	return sevInformational
}

// gateOutcome returns the outcome of a request, decision or result record.
// ev.Request must not be nil.
func gateOutcome(ev *sluice.Event) outcome {
	cs := classSeverity(ev.Request.Class)
	switch ev.Type {
	case sluice.EventDecision:
		return decisionOutcome(ev.Decision, cs, true)
	case sluice.EventResult:
		return resultOutcome(ev.Result, cs)
	}
	return decisionOutcome(ev.Decision, cs, false)
}

// decisionOutcome maps the gate's decision. afterHold is set for the
// decision record written when a review hold ends.
func decisionOutcome(d *sluice.Decision, cs int, afterHold bool) outcome {
	if d == nil {
		return outcome{status: statusUnknown, severity: cs, verb: "recorded"}
	}
	switch d.Action {
	case sluice.ActionAllow:
		o := outcome{status: statusSuccess, action: actionAllowed, disp: dispAllowed, severity: cs, verb: "allowed"}
		if d.ReviewID != "" || afterHold {
			o.disp, o.verb = dispApproved, "approved"
			o.severity = max(cs, sevMedium)
			if d.ReviewID != "" {
				o.detail = "approved in review " + d.ReviewID
			}
		}
		return o
	case sluice.ActionDeny:
		msg := d.Message
		if msg == "" {
			msg = "denied by policy"
			if d.Policy != "" {
				msg += " " + d.Policy
			}
		}
		return outcome{status: statusFailure, detail: msg, action: actionDenied, disp: dispBlocked, severity: sevHigh, verb: "denied"}
	case sluice.ActionReview:
		return outcome{status: statusOther, statusName: "Pending", detail: "held for review " + orUnknown(d.ReviewID),
			action: actionAllowed, disp: dispDelayed, severity: max(cs, sevMedium), verb: "held"}
	}
	return outcome{status: statusUnknown, detail: string(d.Action), severity: cs, verb: "recorded"}
}

// resultOutcome maps the result of a forwarded request. The gate let it
// through, so the verdict is Allowed; the status says how it ended.
func resultOutcome(r *sluice.Result, cs int) outcome {
	o := outcome{action: actionAllowed, disp: dispAllowed, severity: cs}
	if r == nil {
		o.status, o.verb = statusUnknown, "finished"
		return o
	}
	switch r.Status {
	case sluice.StatusOK:
		o.status, o.detail, o.verb = statusSuccess, r.Tag, "ran"
	case sluice.StatusError:
		o.status, o.code, o.detail, o.verb = statusFailure, sqlState(r.Error), r.Error, "failed"
	case sluice.StatusSkipped:
		o.status, o.statusName, o.verb = statusOther, "Skipped", "was skipped"
		o.detail = "not run: an earlier statement in its batch failed"
	case sluice.StatusAborted:
		o.status, o.verb = statusFailure, "was aborted"
		o.detail = "aborted: the session ended before a response arrived"
	case sluice.StatusDenied:
		o.status, o.detail, o.verb = statusFailure, r.Error, "was denied"
		o.action, o.disp, o.severity = actionDenied, dispBlocked, sevHigh
	default:
		o.status, o.detail, o.verb = statusUnknown, r.Status, "finished"
	}
	if r.HTTP != nil && r.HTTP.Status != 0 {
		o.code = strconv.Itoa(r.HTTP.Status)
		if r.HTTP.Status >= 400 && o.status == statusSuccess {
			o.status, o.verb = statusFailure, "failed"
			if o.detail == "" {
				o.detail = o.code + " " + http.StatusText(r.HTTP.Status)
			}
		}
	}
	if o.status == statusFailure {
		o.severity = max(o.severity, sevLow)
	}
	return o
}

// sqlState returns the SQLSTATE at the start of a caller-facing error
// ("42P01: relation ... does not exist"), or "".
func sqlState(msg string) string {
	if len(msg) < 6 || msg[5] != ':' {
		return ""
	}
	for i := range 5 {
		c := msg[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z') {
			return ""
		}
	}
	return msg[:5]
}

// gateMessage is the one-line summary of a gate record about a request of
// the given noun ("statement", "request", "tool call").
func gateMessage(ev *sluice.Event, o outcome, noun string) string {
	req := ev.Request
	what := fmt.Sprintf("%s %s by %s on %s", classWords(req.Class), noun, orUnknown(req.Subject), orUnknown(req.Connection))
	var s string
	switch {
	case ev.Type == sluice.EventResult:
		s = what + " " + o.verb
		if o.detail != "" {
			s += ": " + o.detail
		}
		if ev.Result != nil {
			s += " in " + ev.Result.Duration.Round(time.Microsecond).String()
		}
	case o.verb == "held":
		s = "held " + what + " for review " + orUnknown(ev.Decision.ReviewID)
	case o.status == statusFailure:
		s = o.verb + " " + what + ": " + o.detail
	default:
		s = o.verb + " " + what
		if req.Text != "" {
			s += ": " + req.Text
		}
	}
	return oneLine(s, maxMessage)
}

// gateActor is the actor of a gate record: the requester and its session.
func gateActor(req *sluice.Request, sessionID string) actor {
	a := actor{User: requestUser(req)}
	if sessionID != "" {
		a.Session = &session{UID: sessionID, IsRemote: true}
	}
	if a.User == nil && a.Session == nil {
		a.User = &user{Name: unknownName}
	}
	return a
}

// gatePolicy is the policy that decided, or nil.
func gatePolicy(d *sluice.Decision) *policy {
	if d == nil || d.Policy == "" {
		return nil
	}
	return &policy{Name: d.Policy}
}

// unmapGate adds what a gate record holds beyond the OCSF attributes.
func (b *base) unmapGate(ev *sluice.Event) {
	req := ev.Request
	b.unmap("request_id", req.ID)
	b.unmap("classes", req.Class.Names())
	b.unmap("tables", req.Tables)
	b.unmap("fingerprint", req.Fingerprint)
	if len(req.Params) > 0 {
		b.unmap("params", req.Params)
	}
	b.unmap("statement", req.Statement)
	b.unmap("function_oid", req.FunctionOID)
	if d := ev.Decision; d != nil {
		b.unmap("decision", string(d.Action))
		b.unmap("rule", d.Rule)
		b.unmap("review_id", d.ReviewID)
		b.unmap("approvers", d.Approvers)
		b.unmap("min_approvals", d.MinApprovals)
		if d.Wait > 0 {
			b.unmap("wait_seconds", d.Wait.Seconds())
		}
	}
	if r := ev.Result; r != nil {
		b.unmap("result_status", r.Status)
		b.unmap("command_tag", r.Tag)
		b.unmap("rows", r.Rows)
		b.unmap("duration_us", r.Duration.Microseconds())
		b.unmap("masked", r.Masked)
		b.unmap("unmasked", r.Unmasked)
		if r.Capture != nil {
			b.unmap("captured_rows", len(r.Capture.Rows))
			b.unmap("captured_bytes", r.Capture.Bytes)
			b.unmap("capture_truncated", r.Capture.Truncated)
		}
		if h := r.HTTP; h != nil {
			b.unmap("response_body_truncated", h.BodyTruncated)
			b.unmap("sse_events", h.Events)
			if h.Usage != nil {
				b.unmap("usage", h.Usage)
			}
		}
	}
}

// durationMillis returns the result's duration in milliseconds, or nil.
func durationMillis(r *sluice.Result) *int64 {
	if r == nil {
		return nil
	}
	ms := r.Duration.Milliseconds()
	return &ms
}
