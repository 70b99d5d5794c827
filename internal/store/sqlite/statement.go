package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

const insertStatement = `INSERT INTO statements (id, session_id, seq, text, params, class, decision,
    rule, started_at, duration_ns, row_count, tag, status, error)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// AddStatements records a batch of statements in one transaction: all of
// them or, on error, none. A statement whose session is unknown fails the
// batch with store.ErrNotFound.
func (d *DB) AddStatements(ctx context.Context, stmts []*sluice.StatementRecord) error {
	if len(stmts) == 0 {
		return nil
	}
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return fmt.Errorf("add statements: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	ins, err := tx.PrepareContext(ctx, insertStatement)
	if err != nil {
		return fmt.Errorf("add statements: %w", err)
	}
	defer ins.Close()
	for _, r := range stmts {
		if err := insertOne(ctx, ins, r); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add statements: commit: %w", err)
	}
	return nil
}

// insertOne inserts r with the prepared insertStatement.
func insertOne(ctx context.Context, ins *sql.Stmt, r *sluice.StatementRecord) error {
	if r == nil {
		return errors.New("add statements: nil record")
	}
	params, err := encodeList(r.Params)
	if err != nil {
		return fmt.Errorf("add statement %q: params: %w", r.ID, err)
	}
	started, err := encodeTime(r.StartedAt)
	if err != nil {
		return fmt.Errorf("add statement %q: %w", r.ID, err)
	}
	_, err = ins.ExecContext(ctx, r.ID, r.SessionID, r.Seq, r.Text, params, int64(r.Class), string(r.Decision),
		r.Rule, started, int64(r.Duration), r.Rows, r.Tag, r.Status, r.Error)
	switch {
	case isForeignKey(err):
		return fmt.Errorf("add statement %q: session %q: %w", r.ID, r.SessionID, store.ErrNotFound)
	case isDuplicate(err):
		return fmt.Errorf("add statement %q: the id is already in use: %w", r.ID, err)
	case err != nil:
		return fmt.Errorf("add statement %q: %w", r.ID, err)
	}
	return nil
}

// ListStatements returns the statements of a session ordered by seq, and
// statements with the same seq in the order they were added. It returns
// store.ErrNotFound for an unknown session.
func (d *DB) ListStatements(ctx context.Context, sessionID string) ([]*sluice.StatementRecord, error) {
	rows, err := d.read.QueryContext(ctx, `SELECT id, session_id, seq, text, params, class, decision,
        rule, started_at, duration_ns, row_count, tag, status, error
        FROM statements WHERE session_id = ? ORDER BY seq, rowid`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("list statements of %q: %w", sessionID, err)
	}
	defer rows.Close()
	var out []*sluice.StatementRecord
	for rows.Next() {
		var (
			r        sluice.StatementRecord
			params   sql.NullString
			class    int64
			started  sql.NullInt64
			duration int64
		)
		if err := rows.Scan(&r.ID, &r.SessionID, &r.Seq, &r.Text, &params, &class, &r.Decision,
			&r.Rule, &started, &duration, &r.Rows, &r.Tag, &r.Status, &r.Error); err != nil {
			return nil, fmt.Errorf("list statements of %q: %w", sessionID, err)
		}
		if r.Params, err = decodeList[*string](params); err != nil {
			return nil, fmt.Errorf("list statements of %q: statement %q params: %w", sessionID, r.ID, err)
		}
		r.Class = sluice.Class(class)
		r.StartedAt = decodeTime(started)
		r.Duration = time.Duration(duration)
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list statements of %q: %w", sessionID, err)
	}
	if len(out) == 0 {
		if err := d.sessionExists(ctx, sessionID); err != nil {
			return nil, fmt.Errorf("list statements of %q: %w", sessionID, err)
		}
	}
	return out, nil
}

// sessionExists returns nil if the session exists and store.ErrNotFound if not.
func (d *DB) sessionExists(ctx context.Context, id string) error {
	var one int
	err := d.read.QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}
