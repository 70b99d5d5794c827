package replay

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// rows builds rows from "a,b" strings; "~" is NULL.
func rows(specs ...string) [][]*string {
	var out [][]*string
	for _, spec := range specs {
		var row []*string
		for _, v := range strings.Split(spec, ",") {
			if v == "~" {
				row = append(row, nil)
				continue
			}
			row = append(row, &v)
		}
		out = append(out, row)
	}
	return out
}

func render(rs [][]*string) string {
	var out []string
	for _, r := range rs {
		out = append(out, renderRow(r))
	}
	return strings.Join(out, " ")
}

func TestDiffRows(t *testing.T) {
	cases := []struct {
		name              string
		captured, sandbox [][]*string
		truncated         bool
		missing, extra    string
		changed           string // "orig->sandbox@cols"
		same              bool
		compared          int
	}{
		{name: "same rows, other order", captured: rows("1,a", "2,b"), sandbox: rows("2,b", "1,a"), same: true, compared: 2},
		{name: "duplicates count", captured: rows("1,a", "1,a"), sandbox: rows("1,a"), missing: "('1', 'a')", compared: 2},
		{name: "changed by first value", captured: rows("1,open,x", "2,open,y"), sandbox: rows("1,open,x", "2,shipped,y"),
			changed: "('2', 'open', 'y')->('2', 'shipped', 'y')@[1]", compared: 2},
		{name: "missing and extra", captured: rows("1,a", "2,b"), sandbox: rows("1,a", "3,c"),
			missing: "('2', 'b')", extra: "('3', 'c')", compared: 2},
		{name: "NULL is not the text ~ nor empty", captured: rows("1,~"), sandbox: rows("1,"),
			changed: "('1', NULL)->('1', '')@[1]", compared: 1},
		{name: "NULL equals NULL", captured: rows("~,~"), sandbox: rows("~,~"), same: true, compared: 1},
		{name: "a NULL first value pairs nothing", captured: rows("~,a"), sandbox: rows("~,b"),
			missing: "(NULL, 'a')", extra: "(NULL, 'b')", compared: 1},
		{name: "one column rows are missing or extra", captured: rows("a"), sandbox: rows("b"),
			missing: "('a')", extra: "('b')", compared: 1},
		{name: "values that join alike stay apart", captured: rows("a;b,c"), sandbox: rows("a,b;c"),
			missing: "('a;b', 'c')", extra: "('a', 'b;c')", compared: 1},
		{name: "truncated capture reports no extra", captured: rows("1,a"), sandbox: rows("1,a", "2,b", "3,c"),
			truncated: true, same: true, compared: 1},
		{name: "truncated capture still finds missing and changed", captured: rows("1,a", "2,b"), sandbox: rows("1,z", "9,q"),
			truncated: true, missing: "('2', 'b')", changed: "('1', 'a')->('1', 'z')@[1]", compared: 2},
		{name: "empty sandbox", captured: rows("1,a"), sandbox: nil, missing: "('1', 'a')", compared: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := DiffRows(c.captured, c.sandbox, c.truncated)
			var changed []string
			for _, ch := range d.Changed {
				changed = append(changed, fmt.Sprintf("%s->%s@%v", renderRow(ch.Original), renderRow(ch.Sandbox), ch.Columns))
			}
			if got := render(d.Missing); got != c.missing {
				t.Errorf("missing %s, want %s", got, c.missing)
			}
			if got := render(d.Extra); got != c.extra {
				t.Errorf("extra %s, want %s", got, c.extra)
			}
			if got := strings.Join(changed, " "); got != c.changed {
				t.Errorf("changed %s, want %s", got, c.changed)
			}
			if d.Same() != c.same || d.Compared != c.compared {
				t.Errorf("same %v compared %d, want %v %d", d.Same(), d.Compared, c.same, c.compared)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	cols := []sluice.Column{{Name: "id"}, {Name: "status"}}
	ok := func(tag string, n int64, rs [][]*string, truncated bool) *sluice.Result {
		r := &sluice.Result{Status: sluice.StatusOK, Tag: tag, Rows: n}
		if rs != nil {
			r.Capture = &sluice.Capture{Columns: cols, Rows: rs, Truncated: truncated}
		}
		return r
	}
	cases := []struct {
		name          string
		orig, sandbox *sluice.Result
		sbCols        []sluice.Column
		sbRows        [][]*string
		diffs, notes  []string
	}{
		{name: "same", orig: ok("SELECT 2", 2, rows("1,a", "2,b"), false), sandbox: ok("SELECT 2", 2, nil, false),
			sbCols: cols, sbRows: rows("2,b", "1,a")},
		{name: "fewer rows updated", orig: ok("UPDATE 3", 3, nil, false), sandbox: ok("UPDATE 1", 1, nil, false),
			diffs: []string{"rows: 3 originally, 1 on the sandbox"}},
		{name: "failed on the sandbox", orig: ok("UPDATE 3", 3, nil, false),
			sandbox: &sluice.Result{Status: sluice.StatusError, Error: `42P01: relation "t" does not exist`},
			diffs:   []string{`failed on the sandbox: 42P01: relation "t" does not exist`}},
		{name: "other command", orig: ok("INSERT 0 1", 1, nil, false), sandbox: ok("UPDATE 1", 1, nil, false),
			diffs: []string{`command: "INSERT 0 1" originally, "UPDATE 1" on the sandbox`}},
		{name: "rows and columns differ", orig: ok("SELECT 2", 2, rows("1,a", "2,b"), false), sandbox: ok("SELECT 2", 2, nil, false),
			sbCols: []sluice.Column{{Name: "id"}, {Name: "state"}}, sbRows: rows("1,a", "2,c"),
			diffs: []string{"columns: (id, status) originally, (id, state) on the sandbox", "rows differ: 1 changed"}},
		{name: "truncated and masked", orig: func() *sluice.Result {
			r := ok("SELECT 5", 5, rows("1,a"), true)
			r.Masked = map[string]uint64{"email": 2}
			return r
		}(), sandbox: ok("SELECT 5", 5, nil, false), sbCols: cols, sbRows: rows("1,a", "2,b"),
			notes: []string{"the original capture was truncated after 1 rows: only those were compared, and rows the sandbox has beyond them are not reported as extra",
				"the original rows were masked before they were captured (email: 2): masked values compare as masked"}},
	}
	many := make([]string, 30)
	for i := range many {
		many[i] = fmt.Sprintf("%d,x", i+100)
	}
	cases = append(cases, struct {
		name          string
		orig, sandbox *sluice.Result
		sbCols        []sluice.Column
		sbRows        [][]*string
		diffs, notes  []string
	}{name: "many extra rows are counted, not all listed", orig: ok("SELECT 1", 1, rows("1,a"), false), sandbox: ok("SELECT 31", 31, nil, false),
		sbCols: cols, sbRows: append(rows("1,a"), rows(many...)...),
		diffs: []string{"rows: 1 originally, 31 on the sandbox", "rows differ: 30 extra"},
		notes: []string{"only the first 20 of the 30 extra rows are shown"}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			diffs, rd, notes := Compare(c.orig, c.sandbox, c.sbCols, c.sbRows, false)
			if rd != nil && len(rd.Extra) > MaxShownRows {
				t.Errorf("%d extra rows listed", len(rd.Extra))
			}
			if !reflect.DeepEqual(diffs, c.diffs) || !reflect.DeepEqual(notes, c.notes) {
				t.Errorf("Compare =\n  %q\n  %q\nwant\n  %q\n  %q", diffs, notes, c.diffs, c.notes)
			}
		})
	}
}

func TestTagVerbs(t *testing.T) {
	for in, want := range map[string]string{"INSERT 0 3": "INSERT", "SELECT 1; UPDATE 2": "SELECT; UPDATE", "CREATE TABLE": "CREATE TABLE", "": ""} {
		if got := tagVerbs(in); got != want {
			t.Errorf("tagVerbs(%q) = %q, want %q", in, got, want)
		}
	}
}
