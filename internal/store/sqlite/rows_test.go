package sqlite

import (
	"context"
	"strings"
	"testing"
)

// TestExecRowsAllOrNothing checks that a row failing in SQLite, after rows
// before it ran, rolls the whole batch back, and that a batch whose context
// ended stores nothing.
func TestExecRowsAllOrNothing(t *testing.T) {
	d := openTemp(t)
	ctx := context.Background()
	if _, err := d.write.ExecContext(ctx, `CREATE TABLE small (x INTEGER NOT NULL CHECK (x < 3)) STRICT`); err != nil {
		t.Fatal(err)
	}
	run := func(ctx context.Context, xs ...int64) error {
		set := &rowSet{what: "small", sql: `INSERT INTO small (x) VALUES (?)`, width: 1}
		for _, x := range xs {
			if err := set.add([]any{x}); err != nil {
				t.Fatal(err)
			}
		}
		conn, err := d.write.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error { return execRows(ctx, dc, []*rowSet{set}) })
	}
	count := func() int {
		var n int
		if err := d.read.QueryRowContext(ctx, `SELECT count(*) FROM small`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	err := run(ctx, 1, 2, 3, 1)
	if err == nil || !strings.Contains(err.Error(), "small 3: ") || !strings.Contains(err.Error(), "CHECK") {
		t.Errorf("batch with a failing third row: err = %v, want the CHECK failure", err)
	}
	if n := count(); n != 0 {
		t.Errorf("a failed batch left %d rows, want 0", n)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := run(canceled, 1, 2); err == nil {
		t.Error("batch with an ended context succeeded")
	}
	if n := count(); n != 0 {
		t.Errorf("a canceled batch left %d rows, want 0", n)
	}

	if err := run(ctx, 1, 2, 1); err != nil {
		t.Fatalf("good batch: %v", err)
	}
	if n := count(); n != 3 {
		t.Errorf("good batch stored %d rows, want 3", n)
	}
}

// TestRowSetRejectsBadValues checks that add refuses a row of the wrong
// width or with a value the driver cannot take, rather than failing later
// under the write lock.
func TestRowSetRejectsBadValues(t *testing.T) {
	set := &rowSet{what: "pair", width: 2}
	if err := set.add([]any{int64(1)}); err == nil {
		t.Error("add took 1 value for 2 columns")
	}
	if err := set.add([]any{int64(1), struct{}{}}); err == nil {
		t.Error("add took a struct value")
	}
	if err := set.add([]any{int64(1), "x"}); err != nil {
		t.Fatalf("add of a good row: %v", err)
	}
	if len(set.vals) != 2 || set.vals[1].Ordinal != 2 || set.vals[1].Value != "x" {
		t.Errorf("vals = %+v, want the good row's two values only", set.vals)
	}
}

// TestPooledRowsForgetValues checks that a pooled buffer goes back to the
// pool without the values of its batch, so the pool keeps no statement text
// alive, and that a buffer is large enough for the rows asked for.
func TestPooledRowsForgetValues(t *testing.T) {
	for range 3 { // the later rounds may take a buffer from the pool
		s := pooledRows("statement", "INSERT", 2, 0, 4)
		if cap(s.vals) < 4 || len(s.vals) != 0 {
			t.Fatalf("buffer of len %d cap %d, want empty with room for 4", len(s.vals), cap(s.vals))
		}
		for i := range 2 {
			if err := s.add([]any{"select 'secret'", int64(i)}); err != nil {
				t.Fatal(err)
			}
		}
		used := s.vals
		s.release()
		for i, v := range used {
			if v.Value != nil || v.Ordinal != 0 {
				t.Fatalf("value %d still held after release: %+v", i, v)
			}
		}
		if s.vals != nil {
			t.Fatal("the released set still points at its buffer")
		}
	}
}
