package replay

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice"
)

// Rows is how a statement's rows on the sandbox differ from the rows the
// journal captured when it first ran. Values compare as text, exactly: the
// captured text of a text-format value, \x-prefixed hex of a binary one
// (the replay asks for the same formats), NULL only equal to NULL. Order
// does not matter.
type Rows struct {
	// Compared is how many captured rows were compared.
	Compared int `json:"compared"`
	// Missing are captured rows the sandbox did not return; Extra are rows
	// the sandbox returned that were not captured (not computed when the
	// capture was truncated); Changed pair a missing and an extra row with
	// the same first value (usually the key).
	Missing [][]*string `json:"missing,omitempty"`
	Extra   [][]*string `json:"extra,omitempty"`
	Changed []Change    `json:"changed,omitempty"`
}

// Change is a row whose first value is the same and whose other values
// differ.
type Change struct {
	Original []*string `json:"original"`
	Sandbox  []*string `json:"sandbox"`
	// Columns are the positions of the values that differ.
	Columns []int `json:"columns"`
}

// Same reports whether no row differs.
func (r *Rows) Same() bool {
	return len(r.Missing) == 0 && len(r.Extra) == 0 && len(r.Changed) == 0
}

// DiffRows compares captured rows with the rows the sandbox returned.
// With truncated set the capture holds only the first rows of the
// original result, so a sandbox row it lacks is not reported as extra
// (the original may have had it after the cut); a captured row the sandbox
// lacks is still missing.
func DiffRows(captured, sandbox [][]*string, truncated bool) *Rows {
	d := &Rows{Compared: len(captured)}
	left := map[string]int{} // sandbox rows not matched yet, by key
	for _, r := range sandbox {
		left[rowKey(r)]++
	}
	var missing [][]*string
	for _, r := range captured {
		k := rowKey(r)
		if left[k] > 0 {
			left[k]--
			continue
		}
		missing = append(missing, r)
	}
	var extra [][]*string
	for _, r := range sandbox {
		if k := rowKey(r); left[k] > 0 {
			left[k]--
			extra = append(extra, r)
		}
	}
	// Pair a missing and an extra row by their first value.
	used := make([]bool, len(extra))
	for _, m := range missing {
		j := -1
		if len(m) > 1 && m[0] != nil {
			for k, e := range extra {
				if !used[k] && len(e) == len(m) && e[0] != nil && *e[0] == *m[0] {
					j = k
					break
				}
			}
		}
		if j < 0 {
			d.Missing = append(d.Missing, m)
			continue
		}
		used[j] = true
		d.Changed = append(d.Changed, Change{Original: m, Sandbox: extra[j], Columns: differing(m, extra[j])})
	}
	if !truncated {
		for j, e := range extra {
			if !used[j] {
				d.Extra = append(d.Extra, e)
			}
		}
	}
	return d
}

// rowKey is a row as one comparable string: each value length-prefixed,
// NULL distinct from every string.
func rowKey(r []*string) string {
	var b strings.Builder
	for _, v := range r {
		if v == nil {
			b.WriteString("N;")
			continue
		}
		fmt.Fprintf(&b, "%d:%s;", len(*v), *v)
	}
	return b.String()
}

// differing returns the positions where two rows of the same width differ.
func differing(a, b []*string) []int {
	var out []int
	for i := range a {
		switch {
		case a[i] == nil && b[i] == nil:
		case a[i] == nil || b[i] == nil || *a[i] != *b[i]:
			out = append(out, i)
		}
	}
	return out
}

// Compare compares a statement's original result, as the journal holds
// it, with its result on the sandbox: cols and rows are the sandbox's first
// result set (rows as many as were kept; sandboxTruncated when some were
// left out). It returns the differences in words and the row differences
// (nil when no rows were captured to compare), with notes on what limits
// the comparison.
func Compare(orig, sandbox *sluice.Result, cols []sluice.Column, rows [][]*string, sandboxTruncated bool) (diffs []string, rd *Rows, notes []string) {
	if sandbox.Status != sluice.StatusOK {
		return []string{"failed on the sandbox: " + sandbox.Error}, nil, nil
	}
	if orig.Rows != sandbox.Rows {
		diffs = append(diffs, fmt.Sprintf("rows: %d originally, %d on the sandbox", orig.Rows, sandbox.Rows))
	}
	if orig.Tag != sandbox.Tag && tagVerbs(orig.Tag) != tagVerbs(sandbox.Tag) {
		diffs = append(diffs, fmt.Sprintf("command: %q originally, %q on the sandbox", orig.Tag, sandbox.Tag))
	}
	c := orig.Capture
	if c == nil || len(c.Columns) == 0 {
		return diffs, nil, notes
	}
	if a, b := columnNames(c.Columns), columnNames(cols); !slices.Equal(a, b) {
		diffs = append(diffs, fmt.Sprintf("columns: (%s) originally, (%s) on the sandbox", strings.Join(a, ", "), strings.Join(b, ", ")))
	}
	if c.Truncated {
		notes = append(notes, fmt.Sprintf("the original capture was truncated after %d rows: only those were compared, and rows the sandbox has beyond them are not reported as extra", len(c.Rows)))
	}
	if sandboxTruncated {
		notes = append(notes, fmt.Sprintf("the sandbox returned more rows than the %d compared", len(rows)))
	}
	if len(orig.Masked) > 0 {
		notes = append(notes, "the original rows were masked before they were captured ("+counts(orig.Masked)+"): masked values compare as masked")
	}
	if len(sandbox.Masked) > 0 {
		notes = append(notes, "the sandbox rows are masked by your policy on the sandbox ("+counts(sandbox.Masked)+")")
	}
	rd = DiffRows(c.Rows, rows, c.Truncated || sandboxTruncated)
	if !rd.Same() {
		var parts []string
		for _, p := range []struct {
			n    int
			what string
		}{{len(rd.Missing), "missing"}, {len(rd.Extra), "extra"}, {len(rd.Changed), "changed"}} {
			if p.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
			}
			if p.n > MaxShownRows {
				notes = append(notes, fmt.Sprintf("only the first %d of the %d %s rows are shown", MaxShownRows, p.n, p.what))
			}
		}
		diffs = append(diffs, "rows differ: "+strings.Join(parts, ", "))
		rd.Missing, rd.Extra = rd.Missing[:min(len(rd.Missing), MaxShownRows)], rd.Extra[:min(len(rd.Extra), MaxShownRows)]
		rd.Changed = rd.Changed[:min(len(rd.Changed), MaxShownRows)]
	}
	return diffs, rd, notes
}

// MaxShownRows caps the rows of each kind of difference a report lists.
const MaxShownRows = 20

// tagVerbs is a command tag without its counts ("UPDATE 3; SELECT 1" is
// "UPDATE; SELECT"), so that a difference only in counts is reported once,
// as rows.
func tagVerbs(tag string) string {
	parts := strings.Split(tag, "; ")
	for i, p := range parts {
		f := strings.Fields(p)
		for len(f) > 0 && isNumber(f[len(f)-1]) {
			f = f[:len(f)-1]
		}
		parts[i] = strings.Join(f, " ")
	}
	return strings.Join(parts, "; ")
}

func isNumber(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func columnNames(cols []sluice.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

func counts(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(keys, ", ")
}
