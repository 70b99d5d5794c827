package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

// copyThreshold is the batch size from which AddStatements uses COPY rather
// than a pipeline of INSERTs. COPY costs a round trip more but encodes rows
// more cheaply; it pays off from about this many rows.
const copyThreshold = 8

// statementColumns are the columns AddStatements writes, in the order of
// statementValues.
var statementColumns = []string{"id", "session_id", "seq", "text", "params", "class", "decision",
	"rule", "started_at", "duration_ns", "row_count", "tag", "status", "error"}

const insertStatement = `INSERT INTO statements (id, session_id, seq, text, params, class, decision,
    rule, started_at, duration_ns, row_count, tag, status, error)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`

// statementValues returns the values of r for statementColumns, cleaned
// of what PostgreSQL cannot store.
func statementValues(r *sluice.StatementRecord) []any {
	return cleanArgs([]any{r.ID, r.SessionID, r.Seq, r.Text, r.Params, int32(r.Class), string(r.Decision),
		r.Rule, encodeTime(r.StartedAt), int64(r.Duration), r.Rows, r.Tag, r.Status, r.Error})
}

// AddStatements records a batch of statements in one transaction: all of
// them or, on error, none. Small batches go to the server as one pipeline of
// INSERTs, which PostgreSQL runs as one implicit transaction; larger ones as
// one COPY. A statement whose session is unknown fails the batch with
// store.ErrNotFound.
func (d *DB) AddStatements(ctx context.Context, stmts []*sluice.StatementRecord) error {
	if len(stmts) == 0 {
		return nil
	}
	for _, r := range stmts {
		if r == nil {
			return errors.New("add statements: nil record")
		}
	}
	if len(stmts) >= copyThreshold {
		return d.copyStatements(ctx, stmts)
	}
	var b pgx.Batch
	for _, r := range stmts {
		b.Queue(insertStatement, statementValues(r)...)
	}
	results := d.pool.SendBatch(ctx, &b)
	for _, r := range stmts {
		if _, err := results.Exec(); err != nil {
			results.Close()
			return statementError(fmt.Sprintf("add statement %q", r.ID), err)
		}
	}
	if err := results.Close(); err != nil {
		return fmt.Errorf("add statements: %w", err)
	}
	return nil
}

// copyStatements stores stmts with one COPY, which is atomic by itself.
func (d *DB) copyStatements(ctx context.Context, stmts []*sluice.StatementRecord) error {
	_, err := d.pool.CopyFrom(ctx, pgx.Identifier{"statements"}, statementColumns,
		pgx.CopyFromSlice(len(stmts), func(i int) ([]any, error) { return statementValues(stmts[i]), nil }))
	if err != nil {
		return statementError(fmt.Sprintf("add %d statements", len(stmts)), err)
	}
	return nil
}

// statementError wraps an error from storing statements, turning a foreign
// key violation (an unknown session) into store.ErrNotFound.
func statementError(what string, err error) error {
	switch errorCode(err) {
	case foreignKeyViolation:
		return fmt.Errorf("%s: unknown session: %w", what, store.ErrNotFound)
	case uniqueViolation:
		return fmt.Errorf("%s: the id is already in use: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// ListStatements returns the statements of a session ordered by seq, and
// statements with the same seq in the order they were added. It returns
// store.ErrNotFound for an unknown session.
func (d *DB) ListStatements(ctx context.Context, sessionID string) ([]*sluice.StatementRecord, error) {
	rows, _ := d.query(ctx, `SELECT id, session_id, seq, text, params, class, decision,
        rule, started_at, duration_ns, row_count, tag, status, error
        FROM statements WHERE session_id = $1 ORDER BY seq, n`, sessionID)
	out, err := pgx.CollectRows(rows, scanStatement)
	if err != nil {
		return nil, fmt.Errorf("list statements of %q: %w", sessionID, err)
	}
	if len(out) == 0 {
		var exists bool
		if err := d.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1)`, sessionID).Scan(&exists); err != nil {
			return nil, fmt.Errorf("list statements of %q: %w", sessionID, err)
		}
		if !exists {
			return nil, fmt.Errorf("list statements of %q: %w", sessionID, store.ErrNotFound)
		}
	}
	return out, nil
}

// scanStatement reads one row of a statements query.
func scanStatement(row pgx.CollectableRow) (*sluice.StatementRecord, error) {
	var (
		r        sluice.StatementRecord
		class    int32
		decision string
		started  *time.Time
		duration int64
	)
	if err := row.Scan(&r.ID, &r.SessionID, &r.Seq, &r.Text, &r.Params, &class, &decision,
		&r.Rule, &started, &duration, &r.Rows, &r.Tag, &r.Status, &r.Error); err != nil {
		return nil, err
	}
	r.Class, r.Decision = sluice.Class(class), sluice.Action(decision)
	r.StartedAt = decodeTime(started)
	r.Duration = time.Duration(duration)
	return &r, nil
}
