package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
)

// rowSet is one SQL statement and the rows it is run for, their values kept
// flat, ready for the driver: a batch of index rows then costs one slice
// rather than a slice per row and another that database/sql makes to
// convert it for every execution.
type rowSet struct {
	what  string // what a row is, for errors
	sql   string
	width int // values per row
	idArg int // the value that names the row, for errors
	vals  []driver.NamedValue
}

// add appends a row. Its values must be driver.Values, which the store's
// encoders return.
func (s *rowSet) add(row []any) error {
	if len(row) != s.width {
		return fmt.Errorf("%s: %d values for %d columns", s.what, len(row), s.width)
	}
	for i, v := range row {
		if !driver.IsValue(v) {
			return fmt.Errorf("%s: value %d has type %T, which the driver does not take", s.what, i+1, v)
		}
	}
	for i, v := range row {
		s.vals = append(s.vals, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	return nil
}

// valuesPool keeps the value buffers of statement batches between batches:
// at 20 values of 40 bytes per statement, a batch's buffer would otherwise
// be the index's largest allocation per statement.
var valuesPool sync.Pool // of *[]driver.NamedValue

// pooledRows returns a rowSet whose buffer comes from valuesPool and holds
// n values without growing; release returns the buffer.
func pooledRows(what, sql string, width, idArg, n int) *rowSet {
	s := &rowSet{what: what, sql: sql, width: width, idArg: idArg}
	if p, ok := valuesPool.Get().(*[]driver.NamedValue); ok && cap(*p) >= n {
		s.vals = (*p)[:0]
	} else {
		s.vals = make([]driver.NamedValue, 0, n)
	}
	return s
}

// release clears the set's values, so that the pool keeps no statement
// text alive, and returns its buffer to valuesPool. The set must not be
// used after.
func (s *rowSet) release() {
	clear(s.vals)
	v := s.vals[:0]
	s.vals = nil
	valuesPool.Put(&v)
}

// driverConn is what execRows needs of the driver's connection.
type driverConn interface {
	driver.ConnBeginTx
	driver.ConnPrepareContext
}

// execRows runs every set's statement for each of its rows in one
// transaction on the driver connection dc (from sql.Conn.Raw): all of them
// or, on error, none. Rows run under a context that cannot end, because the
// driver watches one that can with a goroutine per statement it runs; ctx
// still bounds the batch, which stops at the first row after ctx ended.
func execRows(ctx context.Context, dc any, sets []*rowSet) (err error) {
	c, ok := dc.(driverConn)
	if !ok {
		return errors.New("the SQLite driver's connection does not take contexts")
	}
	tx, err := c.BeginTx(ctx, driver.TxOptions{}) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback() //nolint:errcheck // the batch failed already
		}
	}()
	rowCtx := context.WithoutCancel(ctx)
	for _, s := range sets {
		if len(s.vals) == 0 {
			continue
		}
		if err := execSet(ctx, rowCtx, c, s); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// execSet runs s's statement for each of its rows.
func execSet(ctx, rowCtx context.Context, c driverConn, s *rowSet) error {
	st, err := c.PrepareContext(ctx, s.sql)
	if err != nil {
		return err
	}
	defer st.Close()
	ex, ok := st.(driver.StmtExecContext)
	if !ok {
		return errors.New("the SQLite driver's statements do not take contexts")
	}
	for i := 0; i < len(s.vals); i += s.width {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := ex.ExecContext(rowCtx, s.vals[i:i+s.width]); err != nil {
			return fmt.Errorf("%s %v: %w", s.what, s.vals[i+s.idArg].Value, err)
		}
	}
	return nil
}
