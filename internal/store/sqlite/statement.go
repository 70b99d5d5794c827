package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

const statementColumns = `id, session_id, seq, text, params, class, decision, rule, started_at,
    duration_ns, row_count, tag, status, error, subject, group_names, connection, request_seq,
    result_seq, review_id`

// statementWidth is the number of statementColumns.
var statementWidth = strings.Count(statementColumns, ",") + 1

const insertStatement = `INSERT INTO statements (` + statementColumns + `)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// statementArgs appends the values of r for statementColumns to dst and
// returns the result. groups remembers the encoding of each session's
// groups across calls; nil encodes them every time.
func statementArgs(dst []any, r *sluice.StatementRecord, groups groupsMemo) ([]any, error) {
	if r == nil {
		return nil, errors.New("nil statement")
	}
	params, err := encodeList(r.Params)
	if err != nil {
		return nil, fmt.Errorf("statement %q: params: %w", r.ID, err)
	}
	groupNames, err := groups.encode(r.SessionID, r.Groups)
	if err != nil {
		return nil, fmt.Errorf("statement %q: groups: %w", r.ID, err)
	}
	started, err := encodeTime(r.StartedAt)
	if err != nil {
		return nil, fmt.Errorf("statement %q: %w", r.ID, err)
	}
	reqSeq, err := encodeSeq(r.RequestSeq)
	if err != nil {
		return nil, fmt.Errorf("statement %q: request seq: %w", r.ID, err)
	}
	resSeq, err := encodeSeq(r.ResultSeq)
	if err != nil {
		return nil, fmt.Errorf("statement %q: result seq: %w", r.ID, err)
	}
	return append(dst, r.ID, r.SessionID, r.Seq, r.Text, params, int64(r.Class), string(r.Decision), r.Rule, started,
		int64(r.Duration), r.Rows, r.Tag, r.Status, r.Error, r.Subject, groupNames, r.Connection, reqSeq,
		resSeq, r.ReviewID), nil
}

// groupsMemo maps a session id to the groups its last statement named and
// their encoding: a session's statements name the same groups, so a batch
// encodes them once per session rather than once per statement.
type groupsMemo map[string]encodedGroups

type encodedGroups struct {
	groups []string
	enc    any
}

// encode returns encodeList(groups), from the memo when the session's last
// statement named the same groups.
func (m groupsMemo) encode(session string, groups []string) (any, error) {
	if e, ok := m[session]; ok && (e.groups == nil) == (groups == nil) && slices.Equal(e.groups, groups) {
		return e.enc, nil
	}
	enc, err := encodeList(groups)
	if err == nil && m != nil {
		m[session] = encodedGroups{groups: groups, enc: enc}
	}
	return enc, err
}

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
	known := make(map[string]bool)
	for _, r := range stmts {
		if r == nil {
			return errors.New("add statements: nil record")
		}
		if !known[r.SessionID] {
			// No foreign key does this (the index keeps statements whose
			// session it lost), so check under the transaction's lock.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id = ?`, r.SessionID).Scan(&n); err != nil {
				return fmt.Errorf("add statement %q: %w", r.ID, err)
			}
			if n == 0 {
				return fmt.Errorf("add statement %q: session %q: %w", r.ID, r.SessionID, store.ErrNotFound)
			}
			known[r.SessionID] = true
		}
		args, err := statementArgs(nil, r, nil)
		if err != nil {
			return fmt.Errorf("add statements: %w", err)
		}
		_, err = ins.ExecContext(ctx, args...)
		switch {
		case isDuplicate(err):
			return fmt.Errorf("add statement %q: the id is already in use: %w", r.ID, err)
		case err != nil:
			return fmt.Errorf("add statement %q: %w", r.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add statements: commit: %w", err)
	}
	return nil
}

// ListStatements returns the statements of a session ordered by seq, and
// statements with the same seq in the order they were added. It returns
// store.ErrNotFound if neither the session nor any of its statements is
// stored.
func (d *DB) ListStatements(ctx context.Context, sessionID string) ([]*sluice.StatementRecord, error) {
	out, err := d.queryStatements(ctx, `SELECT `+statementColumns+`
        FROM statements WHERE session_id = ? ORDER BY seq, rowid`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("list statements of %q: %w", sessionID, err)
	}
	if len(out) == 0 {
		if err := d.sessionExists(ctx, sessionID); err != nil {
			return nil, fmt.Errorf("list statements of %q: %w", sessionID, err)
		}
	}
	return out, nil
}

// queryStatements runs a query of statementColumns and reads every row.
func (d *DB) queryStatements(ctx context.Context, q string, args ...any) ([]*sluice.StatementRecord, error) {
	rows, err := d.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*sluice.StatementRecord
	for rows.Next() {
		r, err := scanStatement(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// scanStatement reads one row of statementColumns.
func scanStatement(row scanner) (*sluice.StatementRecord, error) {
	var (
		r                     sluice.StatementRecord
		params, groups        sql.NullString
		class, duration       int64
		started               sql.NullInt64
		requestSeq, resultSeq int64
	)
	if err := row.Scan(&r.ID, &r.SessionID, &r.Seq, &r.Text, &params, &class, &r.Decision, &r.Rule,
		&started, &duration, &r.Rows, &r.Tag, &r.Status, &r.Error, &r.Subject, &groups, &r.Connection,
		&requestSeq, &resultSeq, &r.ReviewID); err != nil {
		return nil, err
	}
	var err error
	if r.Params, err = decodeList[*string](params); err != nil {
		return nil, fmt.Errorf("statement %q params: %w", r.ID, err)
	}
	if r.Groups, err = decodeList[string](groups); err != nil {
		return nil, fmt.Errorf("statement %q groups: %w", r.ID, err)
	}
	r.Class = sluice.Class(class)
	r.StartedAt = decodeTime(started)
	r.Duration = time.Duration(duration)
	r.RequestSeq, r.ResultSeq = uint64(requestSeq), uint64(resultSeq)
	return &r, nil
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
