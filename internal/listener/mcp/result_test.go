package mcp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
)

func str(s string) *string { return &s }

// newResultSet is a result set with columns id (int4) and name (text).
func newResultSet(maxRows int, m RowMasker) *resultSet {
	return &resultSet{maxRows: maxRows, masker: m,
		cols:  []sluice.Column{{Name: "id", TypeOID: 23}, {Name: "name", TypeOID: 25}},
		types: []string{typeName(23), typeName(25)}}
}

func TestResultSetRowsAndText(t *testing.T) {
	rs := newResultSet(2, nil)
	for _, row := range [][][]byte{{[]byte("1"), []byte("Ada\nLovelace")}, {[]byte("2"), nil}, {[]byte("3"), []byte("Edsger")}} {
		if err := rs.add(row); err != nil {
			t.Fatal(err)
		}
	}
	rs.tag = "SELECT 3"
	out := rs.output("app")
	if out.RowCount != 3 || !out.Truncated || len(out.Rows) != 2 || *out.Rows[0][1] != "Ada\nLovelace" || out.Rows[1][1] != nil ||
		out.Columns[0] != (ColumnInfo{Name: "id", Type: "int4"}) || out.Columns[1].Type != "text" {
		t.Fatalf("output %+v", out)
	}
	want := "SELECT 3 on app (0s)\n" +
		"id | name\n" +
		"---+--------------\n" +
		"1  | Ada\\nLovelace\n" +
		"2  | NULL\n" +
		"(2 of 3 rows shown; pass max_rows (at most 1000) or narrow the query to see others)\n"
	if got := rs.text("", "app"); got != want {
		t.Fatalf("text\n got %q\nwant %q", got, want)
	}
	// The audit capture keeps what the agent got, within its own caps.
	c := rs.capture(1, 100)
	if len(c.Rows) != 1 || *c.Rows[0][0] != "1" || !c.Truncated || c.Bytes != 1+len("Ada\nLovelace") || c.Columns[1].Name != "name" {
		t.Fatalf("capture %+v", c)
	}
	if c := rs.capture(100, 5); len(c.Rows) != 0 || !c.Truncated {
		t.Fatalf("capture over the byte cap %+v", c)
	}
}

func TestResultSetLongValue(t *testing.T) {
	rs := newResultSet(10, nil)
	long := strings.Repeat("é", maxCellBytes) // 2 bytes each: the cut falls inside one
	if err := rs.add([][]byte{[]byte("1"), []byte("x" + long)}); err != nil {
		t.Fatal(err)
	}
	v := *rs.rows[0][1]
	if !utf8.ValidString(v) || !strings.HasSuffix(v, "more bytes]") || len(v) > maxCellBytes+40 || !rs.truncated {
		t.Fatalf("cut value: %d bytes, valid %v, suffix %q", len(v), utf8.ValidString(v), v[len(v)-20:])
	}
	if got := clip(strings.Repeat("a", 100)); utf8.RuneCountInString(got) != maxTextWidth || !strings.HasSuffix(got, "…") {
		t.Fatalf("clip: %q", got)
	}
}

// upperMasker masks the second column in capitals and counts rows; it
// fails on a row whose id is "bad".
type upperMasker struct{ rows int }

func (m *upperMasker) MaskRow(v [][]byte) ([][]byte, error) {
	m.rows++
	if string(v[0]) == "bad" {
		return nil, errors.New("detector failed")
	}
	if v[1] != nil {
		v[1] = bytes.ToUpper(v[1])
	}
	return v, nil
}

func TestResultSetMasks(t *testing.T) {
	m := &upperMasker{}
	rs := newResultSet(1, m)
	for _, id := range []string{"1", "2"} {
		if err := rs.add([][]byte{[]byte(id), []byte("ada")}); err != nil {
			t.Fatal(err)
		}
	}
	if got := *rs.rows[0][1]; got != "ADA" || m.rows != 1 {
		t.Fatalf("masked %q after %d rows: rows past max_rows are never shown, so never masked", got, m.rows)
	}
	if c := rs.capture(10, 100); *c.Rows[0][1] != "ADA" {
		t.Fatalf("the capture holds %q, not what the agent saw", *c.Rows[0][1])
	}
	rs = newResultSet(10, m)
	if err := rs.add([][]byte{[]byte("bad"), []byte("x")}); err == nil {
		t.Fatal("a masking failure must withhold the result")
	}
}

func TestDescribeSQL(t *testing.T) {
	q, err := describeSQL("", "o'brien")
	if err != nil || !strings.Contains(q, "c.relname = 'o''brien'") || !strings.Contains(q, "pg_table_is_visible") {
		t.Fatalf("quoted table:\n%s", q)
	}
	q, _ = describeSQL("", "crm.people")
	if !strings.Contains(q, "c.relname = 'people'") || !strings.Contains(q, "n.nspname = 'crm'") {
		t.Fatalf("schema.table:\n%s", q)
	}
	q, _ = describeSQL(`a\'b`, "")
	if !strings.Contains(q, `n.nspname = 'a\''b'`) || strings.Contains(q, "c.relname =") {
		t.Fatalf("schema:\n%s", q)
	}
	if _, err := describeSQL("x\x00", ""); err == nil {
		t.Fatal("NUL accepted")
	}
}

// TestCallCaptureKeepsTheCaps checks that what sluice's own calls answered
// is captured within the caps a query's result is: rows, bytes, none.
func TestCallCaptureKeepsTheCaps(t *testing.T) {
	cols := []string{"name", "type"}
	rows := [][]string{{"app", "postgres"}, {"billing", "postgres"}, {"claude", "http"}}
	cases := []struct {
		rows, bytes int
		want        int
		truncated   bool
	}{
		{100, 1 << 16, 3, false},
		{2, 1 << 16, 2, true},
		{100, 20, 1, true}, // 11 bytes, then 15 more would pass 20
		{0, 1 << 16, 0, true},
	}
	for _, c := range cases {
		s := &Server{CaptureRows: c.rows, CaptureBytes: c.bytes}
		got := s.callCapture(cols, rows)
		if len(got.Rows) != c.want || got.Truncated != c.truncated || len(got.Columns) != 2 || got.Columns[0].Name != "name" {
			t.Errorf("caps %d rows, %d bytes: captured %d rows, truncated %v, columns %v; want %d, %v",
				c.rows, c.bytes, len(got.Rows), got.Truncated, got.Columns, c.want, c.truncated)
		}
	}
}
