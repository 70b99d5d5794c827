package sluice

import "time"

// RunStatus is where a script submitted with `sluice run` stands.
type RunStatus string

// The run statuses. A run the policy allows outright runs at once and ends
// succeeded or failed; one that needs approval is pending until its review
// is decided, then approved (ready to run once), denied or expired; an
// approved run that ran is succeeded or failed, and its review executed.
const (
	RunPending   RunStatus = "pending"
	RunApproved  RunStatus = "approved"
	RunDenied    RunStatus = "denied"
	RunExpired   RunStatus = "expired"
	RunExecuted  RunStatus = "executed" // the approval was used by an earlier run
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
)

// Run is a script submitted with `sluice run`: how the gate classified and
// decided each statement, the review that holds it, and, once it ran, each
// statement's result. It is what the admin API answers and the CLI prints.
type Run struct {
	// ID is the review's id when the script needs approval; empty for a
	// script that ran at once.
	ID         string    `json:"id,omitempty"`
	Status     RunStatus `json:"status"`
	Connection string    `json:"connection"`
	// Session is the gate session that submitted or ran the script; its
	// records are in the journal (`sluice audit replay SESSION`).
	Session string `json:"session,omitempty"`
	// Class is the union of the statements' classes.
	Class Class `json:"class"`
	// Decision is the gate's decision on the script as a whole.
	Decision   *Decision      `json:"decision,omitempty"`
	Review     *Review        `json:"review,omitempty"`
	Statements []RunStatement `json:"statements,omitempty"`
	// Error says why the run was denied, expired or failed; Detail and
	// Hint add to it.
	Error  string `json:"error,omitempty"`
	Detail string `json:"detail,omitempty"`
	Hint   string `json:"hint,omitempty"`
}

// RunStatement is one statement of a run.
type RunStatement struct {
	Text    string   `json:"text"`
	Kind    string   `json:"kind,omitempty"`
	Class   Class    `json:"class"`
	Tables  []string `json:"tables,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	// Decision is what the policy decides for this statement alone.
	Decision Action `json:"decision,omitempty"`
	// Result is set once the statement ran; nil for statements not run.
	Result *RunResult `json:"result,omitempty"`
}

// RunResult is what one statement of a run returned, masked like any
// result the caller's policy masks.
type RunResult struct {
	// Request is the id of the statement's request in the journal.
	Request  string        `json:"request"`
	Status   string        `json:"status"` // ok or error
	Tag      string        `json:"tag,omitempty"`
	Rows     int64         `json:"rows"`
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"`
	// Columns and Values are the first result set's columns and its
	// first rows (text, nil for NULL); Truncated says rows were left out.
	Columns   []string    `json:"columns,omitempty"`
	Values    [][]*string `json:"values,omitempty"`
	Truncated bool        `json:"truncated,omitempty"`
}
