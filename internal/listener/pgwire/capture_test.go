package pgwire_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// waitResult waits for the result record of a request text.
func (e *env) waitResult(text string) *sluice.Result {
	e.t.Helper()
	var r *sluice.Result
	waitFor(e.t, 10*time.Second, "result of "+text, func() bool {
		r = e.rec.result(text)
		return r != nil
	})
	return r
}

func str(s string) *string { return &s }

func checkCapture(t *testing.T, got *sluice.Capture, cols []string, rows [][]*string, truncated bool) {
	t.Helper()
	if got == nil {
		t.Fatal("no capture")
	}
	if len(got.Columns) != len(cols) {
		t.Fatalf("columns %+v, want %v", got.Columns, cols)
	}
	for i, c := range cols {
		if got.Columns[i].Name != c {
			t.Fatalf("columns %+v, want %v", got.Columns, cols)
		}
	}
	if len(got.Rows) != len(rows) || got.Truncated != truncated {
		t.Fatalf("%d rows (truncated %v), want %d (truncated %v): %v", len(got.Rows), got.Truncated, len(rows), truncated, got.Rows)
	}
	for i := range rows {
		for j := range rows[i] {
			g, w := got.Rows[i][j], rows[i][j]
			if (g == nil) != (w == nil) || g != nil && *g != *w {
				t.Fatalf("row %d col %d = %v, want %v", i, j, deref(g), deref(w))
			}
		}
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// TestCapture checks that results are captured as the client received them,
// within the row and byte budgets, in both protocols and formats.
func TestCapture(t *testing.T) {
	e := newEnv(t, withCapture(3, 64))
	ctx := context.Background()
	c := e.connect(ctx)

	q1 := "select g as n, 'row ' || g as label, null::text as nothing from generate_series(1, 2) g"
	if _, err := c.Exec(ctx, q1, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	checkCapture(t, e.waitResult(q1).Capture, []string{"n", "label", "nothing"},
		[][]*string{{str("1"), str("row 1"), nil}, {str("2"), str("row 2"), nil}}, false)

	// More rows than the budget.
	q2 := "select g from generate_series(1, 10) g"
	if _, err := c.Exec(ctx, q2, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	r := e.waitResult(q2)
	checkCapture(t, r.Capture, []string{"g"}, [][]*string{{str("1")}, {str("2")}, {str("3")}}, true)
	if r.Rows != 10 {
		t.Fatalf("rows = %d, want 10 (all counted, 3 captured)", r.Rows)
	}

	// More bytes than the budget.
	q3 := "select repeat('x', 40) from generate_series(1, 3)"
	if _, err := c.Exec(ctx, q3, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	x40 := str("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
	checkCapture(t, e.waitResult(q3).Capture, []string{"repeat"}, [][]*string{{x40}}, true)

	// Extended protocol, prepared statement, binary results.
	q4 := "select $1::int4 as i, $2::text as t"
	var i int32
	var s string
	if err := c.QueryRow(ctx, q4, int32(258), "hi").Scan(&i, &s); err != nil {
		t.Fatal(err)
	}
	checkCapture(t, e.waitResult(q4).Capture, []string{"i", "t"}, [][]*string{{str(`\x00000102`), str("hi")}}, false)
	if cols := e.rec.result(q4).Capture.Columns; cols[0].Format != 1 || cols[0].TypeOID != 23 {
		t.Fatalf("column 0 = %+v, want binary int4", cols[0])
	}

	// A simple query with two result sets keeps the first, marked truncated.
	q5 := "select 1 as a; select 2 as b"
	if _, err := c.Exec(ctx, q5, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	checkCapture(t, e.waitResult(q5).Capture, []string{"a"}, [][]*string{{str("1")}}, true)
}

// TestCaptureOff checks that a zero budget captures nothing.
func TestCaptureOff(t *testing.T) {
	e := newEnv(t, withCapture(0, 0))
	ctx := context.Background()
	c := e.connect(ctx)
	q := "select 1 as one"
	if _, err := c.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	r := e.waitResult(q)
	if r.Capture == nil || len(r.Capture.Rows) != 0 || !r.Capture.Truncated || r.Rows != 1 {
		t.Fatalf("capture = %+v rows %d", r.Capture, r.Rows)
	}
}
