package notify

import (
	"context"
	"net/http"

	"github.com/sluicehq/sluice"
)

// Notifier announces reviews somewhere approvers look. Implementations are
// safe for concurrent use.
type Notifier interface {
	// Name is the key under which the review service stores the
	// announcement's reference in Review.Tickets.
	Name() string
	// Opened announces a new pending review and returns a reference to the
	// announcement (Slack "channel:ts", GitHub issue number, Jira issue key)
	// that the service stores in Review.Tickets[Name()].
	Opened(ctx context.Context, r *sluice.Review, links Links) (ref string, err error)
	// Closed updates the announcement named by ref with the outcome
	// (approved, denied, expired or executed, by whom, why) and closes
	// tickets. It may be called more than once for one review (approved,
	// then executed).
	Closed(ctx context.Context, r *sluice.Review, ref string) error
}

// Links tell approvers where else they can act on a review.
type Links struct {
	// Review is the console URL of the review; it may be empty.
	Review string `json:"review,omitempty"`
	// CLI is the command that decides the review, for example
	// "sluice reviews approve ID --reason ...".
	CLI string `json:"cli,omitempty"`
}

// Decider is what inbound callbacks call. The review service implements it
// and enforces who may approve (approver lists, no self-approval, N of M).
// Decide returns the review as it stands after the vote. An error that is a
// *sluice.Error has a Message that may be shown to the person who voted;
// any other error is reported to them only as a failure.
type Decider interface {
	Decide(ctx context.Context, reviewID, approverSubject string, approve bool, reason, via string) (*sluice.Review, error)
}

// ReviewLookup may be implemented by a Decider as well (review.Service's Get
// has this signature). When it is, inbound notifiers check that the message
// or ticket a decision arrived on is the one recorded in
// Review.Tickets[Name()] before deciding, so that a ticket someone else
// created (or edited) to name a review cannot decide it. Without it the
// review id the ticket carries is trusted.
type ReviewLookup interface {
	Get(ctx context.Context, id string) (*sluice.Review, error)
}

// Inbound notifiers also take decisions from outside. Handler returns the
// http.Handler the gateway mounts at /hooks/<name>; it authenticates every
// request itself, so the path needs no other authentication.
type Inbound interface {
	Handler(d Decider) http.Handler
}
