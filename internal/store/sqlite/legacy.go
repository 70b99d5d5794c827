package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
)

// Before migration 0006 the index kept a row per statement. The migration
// renames that table statements_by_row; convertRowStatements then moves its
// rows into chunks.

const rowStatementColumns = `id, session_id, seq, text, params, class, decision, rule, started_at,
    duration_ns, row_count, tag, status, error, subject, group_names, connection, request_seq,
    result_seq, review_id`

// rowTableExists counts the tables named statements_by_row: 0 or 1.
const rowTableExists = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'statements_by_row'`

// convertBatch is how many rows of statements_by_row one transaction moves.
const convertBatch = 5000

// convertRowStatements moves the rows of statements_by_row into chunks, a
// batch per write transaction, in the order they were stored, and drops the
// table once it is empty. It is safe to run from several processes at once
// and to interrupt: each batch deletes the rows it moved in the same
// transaction.
func (d *DB) convertRowStatements(ctx context.Context) error {
	// A look without the write lock first: most opens find nothing to do.
	var tables int
	if err := d.write.QueryRowContext(ctx, rowTableExists).Scan(&tables); err != nil {
		return fmt.Errorf("move statements into chunks: %w", err)
	}
	if tables == 0 {
		return nil
	}
	for {
		done, err := d.convertRows(ctx)
		if err != nil {
			return fmt.Errorf("move statements into chunks: %w", err)
		}
		if done {
			return nil
		}
	}
}

// convertRows moves one batch and reports whether none was left.
func (d *DB) convertRows(ctx context.Context) (done bool, err error) {
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var tables int
	if err := tx.QueryRowContext(ctx, rowTableExists).Scan(&tables); err != nil {
		return false, err
	}
	if tables == 0 {
		return true, nil
	}
	stmts, last, err := readRowStatements(ctx, tx)
	if err != nil {
		return false, err
	}
	if len(stmts) == 0 {
		if _, err := tx.ExecContext(ctx, `DROP TABLE statements_by_row`); err != nil {
			return false, err
		}
		return true, tx.Commit()
	}
	w, err := newChunkWriter(ctx, tx)
	if err != nil {
		return false, err
	}
	defer w.close()
	for _, g := range bySession(stmts) {
		if err := w.write(ctx, g); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM statements_by_row WHERE rowid <= ?`, last); err != nil {
		return false, err
	}
	return false, tx.Commit()
}

// readRowStatements reads the first convertBatch rows of statements_by_row
// and returns them and the last one's rowid.
func readRowStatements(ctx context.Context, tx *sql.Tx) ([]*sluice.StatementRecord, int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT rowid, `+rowStatementColumns+`
        FROM statements_by_row ORDER BY rowid LIMIT ?`, convertBatch)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*sluice.StatementRecord
	var last int64
	for rows.Next() {
		var (
			r                     sluice.StatementRecord
			params, groups        sql.NullString
			class, duration       int64
			started               sql.NullInt64
			requestSeq, resultSeq int64
		)
		if err := rows.Scan(&last, &r.ID, &r.SessionID, &r.Seq, &r.Text, &params, &class, &r.Decision, &r.Rule,
			&started, &duration, &r.Rows, &r.Tag, &r.Status, &r.Error, &r.Subject, &groups, &r.Connection,
			&requestSeq, &resultSeq, &r.ReviewID); err != nil {
			return nil, 0, err
		}
		if r.Params, err = decodeList[*string](params); err != nil {
			return nil, 0, fmt.Errorf("statement %q params: %w", r.ID, err)
		}
		if r.Groups, err = decodeList[string](groups); err != nil {
			return nil, 0, fmt.Errorf("statement %q groups: %w", r.ID, err)
		}
		r.Class = sluice.Class(class)
		r.StartedAt = decodeTime(started)
		r.Duration = time.Duration(duration)
		r.RequestSeq, r.ResultSeq = uint64(requestSeq), uint64(resultSeq)
		if err := checkStatement(&r); err != nil {
			return nil, 0, err
		}
		out = append(out, &r)
	}
	return out, last, rows.Err()
}
