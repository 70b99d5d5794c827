package replay

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is what a replay found: per statement of the original session,
// what it returned then and on the sandbox, and how that differs.
type Report struct {
	// Session is the session replayed; Subject and Connection say whose
	// and where it ran.
	Session    string `json:"session"`
	Subject    string `json:"subject"`
	Connection string `json:"connection"`
	// Against is the sandbox connection; Replay is the replay's own
	// session there, in the journal like any other.
	Against string `json:"against"`
	Replay  string `json:"replay_session"`
	// Commit is set when the replay's transaction was to be committed;
	// Outcome says what happened to it.
	Commit  bool   `json:"commit"`
	Outcome string `json:"outcome"`
	// Replayed, Skipped and Differing count the statements.
	Replayed   int         `json:"replayed"`
	Skipped    int         `json:"skipped"`
	Differing  int         `json:"differing"`
	Statements []Statement `json:"statements"`
}

// Statement is one request of the original session.
type Statement struct {
	// Request is the original request's id, Seq its number in its
	// session.
	Request string `json:"request"`
	Seq     int64  `json:"seq"`
	Text    string `json:"text"`
	// Skipped says why the statement was not replayed; empty when it was.
	Skipped string `json:"skipped,omitempty"`
	// Replay is the id of the replayed request in the journal.
	Replay   string `json:"replay,omitempty"`
	Original *Side  `json:"original,omitempty"`
	Sandbox  *Side  `json:"sandbox,omitempty"`
	// Differences say, in words, how the sandbox's result differs; Rows
	// holds the rows that differ.
	Differences []string `json:"differences,omitempty"`
	Rows        *Rows    `json:"rows,omitempty"`
	// Notes say what limits the comparison.
	Notes []string `json:"notes,omitempty"`
}

// Side is one run of a statement: the original, or the sandbox's.
type Side struct {
	Status   string        `json:"status"`
	Tag      string        `json:"tag,omitempty"`
	Rows     int64         `json:"rows"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
	Columns  []string      `json:"columns,omitempty"`
	// Captured is how many rows were kept to compare.
	Captured int `json:"captured"`
}

// Print writes the report for a person to read.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "replay of session %s (%s on %s) against sandbox %s\n", r.Session, r.Subject, r.Connection, r.Against)
	fmt.Fprintf(w, "%d statements replayed, %d skipped, %d with differences; %s\n", r.Replayed, r.Skipped, r.Differing, r.Outcome)
	if r.Replay != "" {
		fmt.Fprintf(w, "the replay is journaled as session %s\n", r.Replay)
	}
	for _, st := range r.Statements {
		fmt.Fprintf(w, "\n#%d %s\n", st.Seq, oneLine(st.Text, 100))
		if st.Skipped != "" {
			fmt.Fprintf(w, "   not replayed: %s\n", st.Skipped)
			continue
		}
		fmt.Fprintf(w, "   original: %s\n", st.Original.summary())
		fmt.Fprintf(w, "   sandbox:  %s\n", st.Sandbox.summary())
		if len(st.Differences) == 0 {
			fmt.Fprintln(w, "   same")
		}
		for _, d := range st.Differences {
			fmt.Fprintf(w, "   DIFFERS: %s\n", d)
		}
		if rd := st.Rows; rd != nil {
			for _, m := range rd.Missing {
				fmt.Fprintf(w, "     - %s\n", renderRow(m))
			}
			for _, e := range rd.Extra {
				fmt.Fprintf(w, "     + %s\n", renderRow(e))
			}
			for _, c := range rd.Changed {
				fmt.Fprintf(w, "     ~ %s -> %s\n", renderRow(c.Original), renderRow(c.Sandbox))
			}
		}
		for _, n := range st.Notes {
			fmt.Fprintf(w, "   note: %s\n", n)
		}
	}
}

func (s *Side) summary() string {
	if s == nil {
		return "(none)"
	}
	out := s.Status
	if s.Tag != "" {
		out = s.Tag
	}
	if s.Error != "" {
		out += ": " + s.Error
	}
	if len(s.Columns) > 0 {
		out += fmt.Sprintf(" (%d rows kept to compare)", s.Captured)
	}
	return out
}

// renderRow shows a row on one line: (1, 'open', NULL).
func renderRow(row []*string) string {
	parts := make([]string, len(row))
	for i, v := range row {
		if v == nil {
			parts[i] = "NULL"
		} else {
			parts[i] = "'" + oneLine(*v, 60) + "'"
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// oneLine squeezes whitespace and cuts s to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
