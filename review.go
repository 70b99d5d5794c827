package sluice

import "time"

// ReviewStatus is where a review stands.
type ReviewStatus string

// The review statuses. A review starts pending; enough approvals make it
// approved, one denial makes it denied, and a pending review whose wait
// ended becomes expired only when its validity window passes too (an
// approval that arrives after the requester stopped waiting still lets the
// same subject run the same statement once). An approved review whose
// statement ran is executed.
const (
	ReviewPending  ReviewStatus = "pending"
	ReviewApproved ReviewStatus = "approved"
	ReviewDenied   ReviewStatus = "denied"
	ReviewExpired  ReviewStatus = "expired"
	ReviewExecuted ReviewStatus = "executed"
)

// Review is a request held for human approval. It is created by the gate
// when a rule says review, decided by approvers, and, once approved, lets
// exactly the held statement run once.
type Review struct {
	ID     string       `json:"id"`
	Status ReviewStatus `json:"status"`
	// Request is the held request: text, parameters, classes, tables,
	// requester (Subject, Groups), connection and session.
	Request Request `json:"request"`
	// Reasons explain the statement's classes ("DELETE without WHERE").
	Reasons []string `json:"reasons,omitempty"`
	// Policy and Rule name the rule that asked for the review.
	Policy string `json:"policy"`
	Rule   string `json:"rule"`
	// Approvers are subject patterns ("group:dba", "subject:alice") of who
	// may decide; MinApprovals approvals are needed.
	Approvers    []string `json:"approvers"`
	MinApprovals int      `json:"min_approvals"`
	// EstimatedRows is the planner's row estimate for the statement
	// (EXPLAIN, never run), or -1 when unknown; Impact says it in words.
	EstimatedRows int64  `json:"estimated_rows"`
	Impact        string `json:"impact,omitempty"`
	// StatementHash binds an approval to the exact statement: SHA-256 of
	// the connection, the text and the parameters.
	StatementHash string    `json:"statement_hash"`
	CreatedAt     time.Time `json:"created_at"`
	// WaitUntil is when the requester stops waiting; ValidUntil is when an
	// approval stops being usable.
	WaitUntil  time.Time `json:"wait_until"`
	ValidUntil time.Time `json:"valid_until"`
	// DecidedAt is when the review was approved or denied; ExecutedAt when
	// the approved statement ran.
	DecidedAt  time.Time `json:"decided_at"`
	ExecutedAt time.Time `json:"executed_at"`
	// Decisions are the approvers' votes, in order.
	Decisions []ReviewDecision `json:"decisions,omitempty"`
	// Tickets are references to where the review was announced (a Slack
	// message, a GitHub issue, a Jira ticket), by notifier name.
	Tickets map[string]string `json:"tickets,omitempty"`
}

// ReviewDecision is one approver's vote.
type ReviewDecision struct {
	By      string    `json:"by"` // the approver's subject
	Approve bool      `json:"approve"`
	Reason  string    `json:"reason,omitempty"`
	Via     string    `json:"via"` // cli, api, console, slack, github, jira, webhook
	At      time.Time `json:"at"`
}

// Approvals counts the approving votes.
func (r *Review) Approvals() int {
	n := 0
	for _, d := range r.Decisions {
		if d.Approve {
			n++
		}
	}
	return n
}
