package notify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
)

// Caps on what is shown of a request's parameters.
const (
	maxParams     = 20
	maxParamBytes = 200
	maxTitle      = 200
)

// fact is one labelled line of a review summary.
type fact struct{ label, value string }

// reviewFacts returns what an approver needs to know about a review, in
// display order. Values are single lines with invisible characters made
// visible.
func reviewFacts(r *sluice.Review) []fact {
	req := r.Request
	facts := []fact{
		{"Requester", requester(req)},
	}
	if req.Note != "" {
		facts = append(facts, fact{"Requester's reason", line(req.Note)})
	}
	facts = append(facts, []fact{
		{"Connection", line(orDefault(req.Connection, "(none)"))},
		{"Classes", classes(req.Class)},
	}...)
	if len(req.Tables) > 0 {
		facts = append(facts, fact{"Tables", line(strings.Join(req.Tables, ", "))})
	}
	rows := "unknown"
	if r.EstimatedRows >= 0 {
		rows = strconv.FormatInt(r.EstimatedRows, 10)
	}
	if r.Impact != "" {
		rows += " (" + line(r.Impact) + ")"
	}
	facts = append(facts, fact{"Estimated rows", rows})
	if len(r.Reasons) > 0 {
		facts = append(facts, fact{"Why", line(strings.Join(r.Reasons, "; "))})
	}
	facts = append(facts, fact{"Approvals needed", approvalsNeeded(r)})
	if r.Policy != "" || r.Rule != "" {
		facts = append(facts, fact{"Rule", line(strings.TrimSpace(r.Policy + " rule " + r.Rule))})
	}
	if !r.WaitUntil.IsZero() {
		facts = append(facts, fact{"Requester waits until", stamp(r.WaitUntil)})
	}
	facts = append(facts, fact{"Review", line(r.ID)})
	return facts
}

func requester(req sluice.Request) string {
	s := orDefault(req.Subject, "(unknown)")
	if len(req.Groups) > 0 {
		s += " (groups: " + strings.Join(req.Groups, ", ") + ")"
	}
	return line(s)
}

func classes(c sluice.Class) string {
	if n := c.Names(); len(n) > 0 {
		return strings.Join(n, ", ")
	}
	return "unclassified"
}

func approvalsNeeded(r *sluice.Review) string {
	n := max(r.MinApprovals, 1)
	s := strconv.Itoa(n)
	if len(r.Approvers) > 0 {
		s += " from " + strings.Join(r.Approvers, ", ")
	}
	return line(s)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// noun names what a request is: a statement, an HTTP request, a tool call.
func noun(k sluice.RequestKind) string {
	switch k {
	case sluice.KindHTTP:
		return "request"
	case sluice.KindTool:
		return "tool call"
	}
	return "statement"
}

// title is the one-line name of a review for ticket titles and headers; it
// starts with the marker "[sluice <id>]".
func title(r *sluice.Review) string {
	req := r.Request
	t := fmt.Sprintf("[sluice %s] %s %s on %s by %s", r.ID, classes(req.Class), noun(req.Kind),
		orDefault(req.Connection, "(none)"), orDefault(req.Subject, "(unknown)"))
	return truncate(line(t), maxTitle)
}

// statementText returns the held request as approvers should read it: the
// exact text, then bound parameters as SQL comments, with invisible
// characters made visible, cut to at most max bytes on a character boundary
// with a note saying so.
func statementText(req sluice.Request, max int) string {
	var b strings.Builder
	b.WriteString(visible(req.Text, true))
	if len(req.Params) > 0 {
		b.WriteString("\n\n-- parameters")
		for i, p := range req.Params {
			if i == maxParams {
				fmt.Fprintf(&b, "\n-- … %d more", len(req.Params)-maxParams)
				break
			}
			v := "NULL"
			if p != nil {
				v = "'" + truncate(line(*p), maxParamBytes) + "'"
			}
			fmt.Fprintf(&b, "\n-- $%d = %s", i+1, v)
		}
	}
	s := b.String()
	if strings.TrimSpace(s) == "" {
		return "(empty)"
	}
	if len(s) <= max {
		return s
	}
	note := fmt.Sprintf("\n… (truncated; %d bytes in all)", len(s))
	return truncate(s, max-len(note)) + note
}

// truncate cuts s to at most n bytes without splitting a character; a cut
// string ends in "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ell = "…"
	if n < len(ell) {
		return ""
	}
	cut := n - len(ell)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ell
}

// line returns s on one line with invisible characters made visible.
func line(s string) string { return visible(s, false) }

// visible replaces what a reader cannot see or that changes how text reads
// (control characters, bidirectional overrides, zero-width characters,
// invalid UTF-8) with a visible escape such as <U+202E>, so that an
// approver reads the statement that will run. Newlines and tabs are kept
// when multiline; otherwise a newline becomes a space.
func visible(s string, multiline bool) string {
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, "<0x%02X>", s[i])
		case r == '\n' || r == '\t':
			if multiline {
				b.WriteRune(r)
			} else {
				b.WriteByte(' ')
			}
		case r == '\r':
			if !multiline {
				b.WriteByte(' ')
			}
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, "<U+%04X>", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// errStillPending refuses to close the announcement of an undecided review.
var errStillPending = errors.New("review is still pending")

// checkClosable checks that a review may be reported as ended.
func checkClosable(r *sluice.Review) error {
	if r == nil {
		return errors.New("no review")
	}
	if r.Status == sluice.ReviewPending || r.Status == "" {
		return errStillPending
	}
	return nil
}

// outcome says how a review ended: a headline, and one line per vote.
func outcome(r *sluice.Review) (headline string, votes []string) {
	switch r.Status {
	case sluice.ReviewApproved:
		headline = "Approved"
	case sluice.ReviewExecuted:
		headline = "Approved and executed"
		if !r.ExecutedAt.IsZero() {
			headline += " at " + stamp(r.ExecutedAt)
		}
	case sluice.ReviewDenied:
		headline = "Denied"
	case sluice.ReviewExpired:
		headline = fmt.Sprintf("Expired with %d of %d approvals", r.Approvals(), max(r.MinApprovals, 1))
	default:
		headline = "Pending"
	}
	return headline, voteLines(r)
}

// voteLines describes each vote: "approved by alice via slack at ...: why".
func voteLines(r *sluice.Review) []string {
	var out []string
	for _, d := range r.Decisions {
		verb := "denied"
		if d.Approve {
			verb = "approved"
		}
		s := fmt.Sprintf("%s by %s via %s", verb, d.By, orDefault(d.Via, "unknown"))
		if !d.At.IsZero() {
			s += " at " + stamp(d.At)
		}
		if d.Reason != "" {
			s += ": " + d.Reason
		}
		out = append(out, line(s))
	}
	return out
}

// statusEmoji marks a review's status in chat messages.
func statusEmoji(s sluice.ReviewStatus) string {
	switch s {
	case sluice.ReviewApproved, sluice.ReviewExecuted:
		return "✅"
	case sluice.ReviewDenied:
		return "⛔"
	case sluice.ReviewExpired:
		return "⌛"
	}
	return "⏳"
}
