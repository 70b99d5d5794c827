package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

// copyThreshold is the batch size from which AddStatements uses COPY rather
// than a pipeline of INSERTs. COPY costs a round trip more but encodes rows
// more cheaply; it pays off from about this many rows.
const copyThreshold = 8

// statementColumnList are the columns of the statements table that the store
// writes, in the order of statementArgs.
var statementColumnList = []string{"id", "session_id", "seq", "text", "params", "class", "decision",
	"rule", "started_at", "duration_ns", "row_count", "tag", "status", "error", "subject", "group_names",
	"connection", "request_seq", "result_seq", "review_id"}

// statementColumns is statementColumnList for a query.
var statementColumns = strings.Join(statementColumnList, ", ")

var insertStatement = `INSERT INTO statements (` + statementColumns + `)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`

// statementArgs returns the values of r for statementColumnList, cleaned of
// what PostgreSQL cannot store.
func statementArgs(r *sluice.StatementRecord) ([]any, error) {
	if r == nil {
		return nil, errors.New("nil statement")
	}
	reqSeq, err := encodeSeq(r.RequestSeq)
	if err != nil {
		return nil, fmt.Errorf("statement %q: request seq: %w", r.ID, err)
	}
	resSeq, err := encodeSeq(r.ResultSeq)
	if err != nil {
		return nil, fmt.Errorf("statement %q: result seq: %w", r.ID, err)
	}
	return cleanArgs([]any{r.ID, r.SessionID, r.Seq, r.Text, r.Params, int32(r.Class), string(r.Decision),
		r.Rule, encodeTime(r.StartedAt), int64(r.Duration), r.Rows, r.Tag, r.Status, r.Error, r.Subject,
		r.Groups, r.Connection, reqSeq, resSeq, r.ReviewID}), nil
}

// AddStatements records a batch of statements in one transaction: all of
// them or, on error, none. Small batches go to the server as one pipeline of
// INSERTs, larger ones as one COPY. A statement whose session is unknown
// fails the batch with store.ErrNotFound.
func (d *DB) AddStatements(ctx context.Context, stmts []*sluice.StatementRecord) error {
	if len(stmts) == 0 {
		return nil
	}
	rows := make([][]any, len(stmts))
	var sessions []string
	for i, r := range stmts {
		if r == nil {
			return errors.New("add statements: nil record")
		}
		args, err := statementArgs(r)
		if err != nil {
			return fmt.Errorf("add statements: %w", err)
		}
		rows[i] = args
		sessions = append(sessions, args[1].(string))
	}
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		// No foreign key does this (the index keeps statements whose session
		// it lost). A session is never deleted but by ResetIndex, which
		// deletes the statements too, so checking first is enough.
		var missing []string
		if err := tx.QueryRow(ctx, `SELECT array(SELECT DISTINCT u FROM unnest($1::text[]) AS u
                WHERE NOT EXISTS (SELECT 1 FROM sessions WHERE id = u) ORDER BY u)`, sessions).Scan(&missing); err != nil {
			return fmt.Errorf("add statements: %w", err)
		}
		if len(missing) > 0 {
			return fmt.Errorf("add statements: session %q: %w", missing[0], store.ErrNotFound)
		}
		if len(rows) >= copyThreshold {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"statements"}, statementColumnList, pgx.CopyFromRows(rows))
			if err != nil {
				return statementError(fmt.Sprintf("add %d statements", len(rows)), err)
			}
			return nil
		}
		var b pgx.Batch
		for _, args := range rows {
			b.Queue(insertStatement, args...)
		}
		results := tx.SendBatch(ctx, &b)
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
	})
	return err
}

// statementError wraps an error from storing statements.
func statementError(what string, err error) error {
	if errorCode(err) == uniqueViolation {
		return fmt.Errorf("%s: the id is already in use: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// ListStatements returns the statements of a session ordered by seq, and
// statements with the same seq in the order they were added. It returns
// store.ErrNotFound if neither the session nor any of its statements is
// stored.
func (d *DB) ListStatements(ctx context.Context, sessionID string) ([]*sluice.StatementRecord, error) {
	rows, _ := d.query(ctx, `SELECT `+statementColumns+`
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

// scanStatement reads one row of statementColumns.
func scanStatement(row pgx.CollectableRow) (*sluice.StatementRecord, error) {
	var (
		r                     sluice.StatementRecord
		class                 int32
		decision              string
		started               *time.Time
		duration              int64
		requestSeq, resultSeq int64
	)
	if err := row.Scan(&r.ID, &r.SessionID, &r.Seq, &r.Text, &r.Params, &class, &decision,
		&r.Rule, &started, &duration, &r.Rows, &r.Tag, &r.Status, &r.Error, &r.Subject, &r.Groups,
		&r.Connection, &requestSeq, &resultSeq, &r.ReviewID); err != nil {
		return nil, err
	}
	r.Class, r.Decision = sluice.Class(class), sluice.Action(decision)
	r.StartedAt = decodeTime(started)
	r.Duration = time.Duration(duration)
	r.RequestSeq, r.ResultSeq = uint64(requestSeq), uint64(resultSeq)
	return &r, nil
}
