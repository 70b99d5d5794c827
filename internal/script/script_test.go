package script

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestApprovedText runs only the script a review approved: its own copy
// when that is exactly what was approved, or the same text passed again.
func TestApprovedText(t *testing.T) {
	const script = "update t set secret = 'sk-live-1234' where id = 1"
	approved := sluice.Request{Connection: "orders", Text: script}
	rv := &sluice.Review{ID: "rv_1", StatementHash: approved.Hash(), Request: approved}
	masked := *rv
	masked.Request.Text, masked.Request.Masked = "update t set secret = '[secret]' where id = 1", true
	other := *rv
	other.Request.Connection = "billing" // the same text approved for another connection

	cases := []struct {
		name  string
		rv    *sluice.Review
		given string
		want  string // the text to run, or part of the error
	}{
		{"the review's own copy", rv, "", script},
		{"the same text again", rv, script, script},
		{"another text", rv, script + ";", "differs from the one review rv_1 approved"},
		{"a masked copy", &masked, "", "pass the script again"},
		{"a masked copy and the script", &masked, script, script},
		{"bound to its connection", &other, script, "differs"},
	}
	for _, c := range cases {
		got, err := approvedText(c.rv, c.given)
		if err != nil {
			got = err.Error()
			if e := sluice.AsError(err); e.Code != sluice.EConflict {
				t.Errorf("%s: error code %s", c.name, e.Code)
			}
		}
		if !strings.Contains(got, c.want) || err == nil && got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
