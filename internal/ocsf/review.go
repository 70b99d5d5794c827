package ocsf

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice"
)

// reviewActivity maps a review step (EventReview) to an API Activity event.
//
// OCSF has no class for an approval workflow. A review step is an operation
// on a sluice resource, the review, by the requester (created, executed),
// an approver (vote, approved, denied) or sluice itself (notified,
// expired), so it is an API Activity on that resource: api.operation is
// "review.<step>", resources names the review, and the verdict follows the
// review's status.
func (m *mapper) reviewActivity() any {
	ev := m.ev
	rv := ev.Review
	if rv == nil {
		rv = &sluice.Review{}
	}
	step := reviewStep(ev.Reason, rv.Status)
	b := m.newBase(classAPIActivity, reviewActivityOf(step))

	switch {
	case step == "notify_failed":
		b.setStatus(statusFailure, "", ev.Reason)
	case ev.Review == nil:
		b.setStatus(statusUnknown, "", ev.Reason)
	default:
		b.setStatus(statusSuccess, "", ev.Reason)
	}
	action, disp, dispName := reviewVerdict(rv.Status)
	b.setVerdict(action, disp, dispName)
	sev := max(classSeverity(rv.Request.Class), sevMedium)
	if step == "notified" {
		sev = sevInformational
	}
	b.setSeverity(sev)
	if rv.Policy != "" {
		b.Policy = &policy{Name: rv.Policy}
	}
	b.Message = reviewMessage(ev, rv)
	b.unmapReview(ev, rv)

	e := apiActivity{
		base:        b,
		API:         api{Operation: "review." + orUnknown(step)},
		DstEndpoint: connectionEndpoint(rv.Request.Connection),
	}
	if rv.ID != "" {
		e.Resources = []resource{{UID: rv.ID, Type: "review"}}
	}
	e.Actor, e.SrcEndpoint = m.reviewActor(step, rv)
	return e
}

// reviewActor returns who took a review step and from where: the approver
// for votes and decisions, the requester for the review's creation and its
// statement's run, and sluice for notices and expiry.
func (m *mapper) reviewActor(step string, rv *sluice.Review) (actor, endpoint) {
	switch step {
	case "vote", "approved", "denied":
		if n := len(rv.Decisions); n > 0 {
			d := rv.Decisions[n-1]
			return actor{User: &user{UID: orUnknown(d.By)}, AppName: d.Via}, endpoint{Name: orUnknown(d.Via)}
		}
	case "created", "executed":
		if rv.Request.Subject != "" || rv.Request.SessionID != "" {
			return gateActor(&rv.Request, rv.Request.SessionID), clientEndpoint(rv.Request.ClientAddr)
		}
	}
	return actor{AppName: m.product.Name}, endpoint{Name: m.product.Name}
}

// reviewStep returns the step a review record's reason names, as a word:
// "created", "notified", "notify_failed", "vote", "approved", "denied",
// "executed", "expired". A record without a reason takes the review's
// status.
func reviewStep(reason string, status sluice.ReviewStatus) string {
	head := reason
	if i := strings.IndexByte(head, ':'); i >= 0 {
		head = head[:i]
	} else if i := strings.IndexByte(head, ' '); i >= 0 {
		head = head[:i]
	}
	if head == "" {
		head = string(status)
	}
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(head)) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '_':
			b.WriteRune(r)
		case r == ' ' || r == '-':
			b.WriteByte('_')
		}
	}
	return b.String()
}

// reviewActivityOf maps a review step to an API Activity activity: the
// review's creation is a Create, every later step an Update of it.
func reviewActivityOf(step string) activity {
	switch step {
	case "":
		return activityUnknown
	case "created":
		return apiCreate
	case "notified", "notify_failed", "vote", "approved", "denied", "executed", "expired", "pending":
		return apiUpdate
	}
	return activityOther
}

// reviewVerdict maps a review's status to the action and disposition of
// its held request: pending is Delayed, approved and executed are
// Approved, denied is Blocked, expired (the approval can no longer be used)
// is Denied with disposition Other "Expired".
func reviewVerdict(s sluice.ReviewStatus) (action, disp int, dispName string) {
	switch s {
	case sluice.ReviewPending:
		return actionAllowed, dispDelayed, ""
	case sluice.ReviewApproved, sluice.ReviewExecuted:
		return actionAllowed, dispApproved, ""
	case sluice.ReviewDenied:
		return actionDenied, dispBlocked, ""
	case sluice.ReviewExpired:
		return actionDenied, dispOther, "Expired"
	}
	return actionUnknown, dispUnknown, ""
}

// reviewMessage is the one-line summary of a review step.
func reviewMessage(ev *sluice.Event, rv *sluice.Review) string {
	req := rv.Request
	noun := "statement"
	switch req.Kind {
	case sluice.KindHTTP:
		noun = "request"
	case sluice.KindTool:
		noun = "tool call"
	}
	step := ev.Reason
	if step == "" {
		step = string(rv.Status)
	}
	s := fmt.Sprintf("review %s %s: %s %s by %s on %s", orUnknown(rv.ID), orUnknown(step),
		classWords(req.Class), noun, orUnknown(req.Subject), orUnknown(req.Connection))
	if req.Text != "" {
		s += ": " + req.Text
	}
	return oneLine(s, maxMessage)
}

// unmapReview adds what a review record holds beyond the OCSF attributes.
func (b *base) unmapReview(ev *sluice.Event, rv *sluice.Review) {
	b.unmap("review_id", rv.ID)
	b.unmap("review_status", string(rv.Status))
	b.unmap("request_id", rv.Request.ID)
	b.unmap("request_kind", string(rv.Request.Kind))
	b.unmap("statement", rv.Request.Text)
	if len(rv.Request.Params) > 0 {
		b.unmap("params", rv.Request.Params)
	}
	b.unmap("requester", rv.Request.Subject)
	b.unmap("classes", rv.Request.Class.Names())
	b.unmap("tables", rv.Request.Tables)
	b.unmap("reasons", rv.Reasons)
	b.unmap("rule", rv.Rule)
	b.unmap("approvers", rv.Approvers)
	b.unmap("min_approvals", rv.MinApprovals)
	b.unmap("approvals", rv.Approvals())
	if len(rv.Decisions) > 0 {
		b.unmap("decisions", rv.Decisions)
	}
	if rv.EstimatedRows >= 0 && rv.ID != "" {
		b.set("estimated_rows", rv.EstimatedRows) // 0 is an estimate too
	}
	b.unmap("impact", rv.Impact)
	b.unmap("statement_hash", rv.StatementHash)
	b.unmap("tickets", rv.Tickets)
	b.unmap("wait_until", millis(rv.WaitUntil))
	b.unmap("valid_until", millis(rv.ValidUntil))
}
