package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/sluicehq/sluice"
)

// maxHookBody caps the body of an inbound callback.
const maxHookBody = 2 << 20

// readHookBody reads the body of a POST of at most maxHookBody bytes. When
// the method is wrong or the body too large it answers the request itself
// and returns false.
func readHookBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "cannot read body", http.StatusBadRequest)
		}
		return nil, false
	}
	return body, true
}

// answer writes a short plain-text answer; GitHub and Jira show it in their
// webhook delivery logs, which helps whoever sets the hook up.
func answer(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// vote is one decision taken outside sluice, ready for the Decider.
type vote struct {
	reviewID string
	subject  string
	approve  bool
	reason   string
	via      string
}

func (v vote) noun() string {
	if v.approve {
		return "approval"
	}
	return "denial"
}

// cast passes the vote to the Decider. It first checks, when the Decider
// can say, that ref is the announcement recorded for the review under
// name; a mismatch is errWrongTicket.
func cast(ctx context.Context, d Decider, name, ref string, v vote) (*sluice.Review, error) {
	if lk, ok := d.(ReviewLookup); ok {
		r, err := lk.Get(ctx, v.reviewID)
		if err != nil {
			return nil, fmt.Errorf("look up review: %w", err)
		}
		if r == nil || r.Tickets[name] != ref {
			return nil, errWrongTicket
		}
	}
	r, err := d.Decide(ctx, v.reviewID, v.subject, v.approve, v.reason, v.via)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errors.New("decider returned no review")
	}
	return r, nil
}

// errWrongTicket is a decision made on a message or ticket that is not the
// recorded announcement of the review it names.
var errWrongTicket = sluice.Errorf(sluice.EForbidden, "this is not where the review was announced; decide on the original announcement")

// refusal is what the person whose vote failed is told: the caller-facing
// message of a *sluice.Error, or a generic sentence for anything else, whose
// text may hold internal details.
func refusal(err error) string {
	var se *sluice.Error
	if errors.As(err, &se) && se.Message != "" {
		return line(se.Message)
	}
	return "the review service could not record it; try again or use the sluice CLI"
}

// progress describes a review after a vote for the person who cast it.
func progress(r *sluice.Review) string {
	if r.Status == sluice.ReviewPending {
		return fmt.Sprintf("review %s has %d of %d approvals needed", line(r.ID), r.Approvals(), max(r.MinApprovals, 1))
	}
	return fmt.Sprintf("review %s is now %s", line(r.ID), r.Status)
}

// verb is "approved" or "denied".
func (v vote) verb() string {
	if v.approve {
		return "approved"
	}
	return "denied"
}
