package review

import (
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/policy"
)

// MayView reports whether id may see review r: its requester, its
// approvers (those MayDecide lets decide) and auditors. The admin API and
// the web console show reviews by this rule.
func MayView(r *sluice.Review, id *sluice.Identity, auditors []policy.Subject) bool {
	if r.Request.Subject == id.Subject || MayDecide(r, id) == nil {
		return true
	}
	for _, a := range auditors {
		if a.Matches(id) {
			return true
		}
	}
	return false
}
