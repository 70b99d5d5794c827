package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

// ApplyIndex applies b in one write transaction: sessions, then ends, then
// statements, then the indexed position. Rows whose id is stored already are
// left as they are, so applying a batch twice stores it once.
func (d *DB) ApplyIndex(ctx context.Context, b *store.IndexBatch) error {
	if b.Empty() {
		return nil
	}
	// Encode everything before taking the write lock, so that a bad record
	// fails the batch without holding up other writers.
	sessions := &rowSet{what: "session", sql: insertSession + ` ON CONFLICT (id) DO NOTHING`, width: sessionWidth}
	for _, s := range b.Sessions {
		args, err := sessionArgs(s)
		if err == nil {
			err = sessions.add(args)
		}
		if err != nil {
			return fmt.Errorf("apply index: %w", err)
		}
	}
	ends := &rowSet{what: "session end", sql: endSession, width: 3, idArg: 2}
	for _, e := range b.Ends {
		args, err := endArgs(e.ID, e.At, e.Reason)
		if err == nil {
			err = ends.add(args)
		}
		if err != nil {
			return fmt.Errorf("apply index: end of session %q: %w", e.ID, err)
		}
	}
	stmts := pooledRows("statement", insertStatement+` ON CONFLICT (session_id, id) DO NOTHING`,
		statementWidth, 0, len(b.Statements)*statementWidth)
	defer stmts.release()
	groups := groupsMemo{}
	var row []any
	for _, r := range b.Statements {
		var err error
		row, err = statementArgs(row[:0], r, groups)
		if err == nil {
			err = stmts.add(row)
		}
		if err != nil {
			return fmt.Errorf("apply index: %w", err)
		}
	}
	seq, err := encodeSeq(b.Seq)
	if err != nil {
		return fmt.Errorf("apply index: position: %w", err)
	}
	position := &rowSet{what: "position", sql: `UPDATE index_state SET seq = max(seq, ?) WHERE id = 1`, width: 1}
	if seq > 0 {
		position.add([]any{seq}) //nolint:errcheck // an int64 always fits
	}

	// The rows go to the driver directly: through database/sql each would
	// cost a conversion of its 20 values and their slice.
	conn, err := d.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("apply index: %w", err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error {
		return execRows(ctx, dc, []*rowSet{sessions, ends, stmts, position})
	}); err != nil {
		return fmt.Errorf("apply index: %w", err)
	}
	return nil
}

// IndexedSeq returns the journal position the index has reached.
func (d *DB) IndexedSeq(ctx context.Context) (uint64, error) {
	var seq int64
	if err := d.read.QueryRowContext(ctx, `SELECT seq FROM index_state WHERE id = 1`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read indexed position: %w", err)
	}
	return uint64(seq), nil
}

// ResetIndex deletes every session and statement and sets the indexed
// position to 0. Service tokens, reviews and token usage are kept.
func (d *DB) ResetIndex(ctx context.Context) error {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("reset index: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, q := range []string{
		`DELETE FROM statements`,
		`DELETE FROM sessions`,
		`UPDATE index_state SET seq = 0 WHERE id = 1`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("reset index: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("reset index: commit: %w", err)
	}
	return nil
}

// SearchStatements returns the statements matching f, newest first.
func (d *DB) SearchStatements(ctx context.Context, f store.StatementFilter) ([]*sluice.StatementRecord, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("search statements: negative limit %d", f.Limit)
	}
	var where []string
	var args []any
	add := func(cond string, arg ...any) {
		where, args = append(where, cond), append(args, arg...)
	}
	if f.Subject != "" {
		add("subject = ?", f.Subject)
	}
	if f.Group != "" {
		add(hasGroup("statements"), f.Group)
	}
	if f.Connection != "" {
		add("connection = ?", f.Connection)
	}
	if f.Session != "" {
		add("session_id = ?", f.Session)
	}
	if !f.Since.IsZero() {
		add("started_at >= ?", boundTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("started_at < ?", boundTime(f.Until))
	}
	// instr, unlike LIKE, gives no character a special meaning. SQLite's
	// lower folds ASCII letters only.
	if f.Text != "" {
		add("instr(lower(text), lower(?)) > 0", f.Text)
	}
	if f.Class != 0 {
		add("class & ? <> 0", int64(f.Class))
	}
	if f.Decision != "" {
		add("decision = ?", string(f.Decision))
	}
	switch f.Error {
	case "":
	case store.ErrorAny:
		add("error <> ''")
	default:
		add("instr(lower(error), lower(?)) > 0", f.Error)
	}
	if f.ReviewID != "" {
		// The second condition lets the partial index statements_review apply.
		add("review_id = ? AND review_id <> ''", f.ReviewID)
	}
	q := `SELECT ` + statementColumns + ` FROM statements`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit == 0 {
		limit = store.DefaultLimit
	}
	// SQLite sorts NULL below every value, so statements without a start
	// time come last.
	q += ` ORDER BY started_at DESC, request_seq DESC, rowid DESC LIMIT ?`
	args = append(args, limit)
	out, err := d.queryStatements(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("search statements: %w", err)
	}
	return out, nil
}
