package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

const endSession = `UPDATE sessions
    SET end_reason = CASE WHEN ended_at IS NULL THEN $1 ELSE end_reason END,
        ended_at = coalesce(ended_at, $2)
    WHERE id = $3`

// ApplyIndex applies b in one transaction, sent as one pipeline: sessions,
// then ends, then statements, then the indexed position. Rows whose id is
// stored already are left as they are, so applying a batch twice, even from
// two processes at once, stores it once.
func (d *DB) ApplyIndex(ctx context.Context, b *store.IndexBatch) error {
	if b.Empty() {
		return nil
	}
	var (
		batch pgx.Batch
		what  []string // names each queued query for errors
	)
	for _, s := range b.Sessions {
		args, err := sessionArgs(s)
		if err != nil {
			return fmt.Errorf("apply index: %w", err)
		}
		batch.Queue(insertSession+` ON CONFLICT (id) DO NOTHING`, args...)
		what = append(what, fmt.Sprintf("session %q", s.ID))
	}
	for _, e := range b.Ends {
		if e.At.IsZero() {
			return fmt.Errorf("apply index: end of session %q: the end time is zero", e.ID)
		}
		batch.Queue(endSession, cleanArgs([]any{e.Reason, e.At, e.ID})...)
		what = append(what, fmt.Sprintf("end of session %q", e.ID))
	}
	for _, r := range b.Statements {
		args, err := statementArgs(r)
		if err != nil {
			return fmt.Errorf("apply index: %w", err)
		}
		batch.Queue(insertStatement+` ON CONFLICT (id) DO NOTHING`, args...)
		what = append(what, fmt.Sprintf("statement %q", r.ID))
	}
	seq, err := encodeSeq(b.Seq)
	if err != nil {
		return fmt.Errorf("apply index: position: %w", err)
	}
	if seq > 0 {
		batch.Queue(`UPDATE index_state SET seq = greatest(seq, $1) WHERE id = 1`, seq)
		what = append(what, "position")
	}
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		results := tx.SendBatch(ctx, &batch)
		for _, w := range what {
			if _, err := results.Exec(); err != nil {
				results.Close()
				return fmt.Errorf("%s: %w", w, err)
			}
		}
		return results.Close()
	})
	if err != nil {
		return fmt.Errorf("apply index: %w", err)
	}
	return nil
}

// IndexedSeq returns the journal position the index has reached.
func (d *DB) IndexedSeq(ctx context.Context) (uint64, error) {
	var seq int64
	if err := d.pool.QueryRow(ctx, `SELECT seq FROM index_state WHERE id = 1`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read indexed position: %w", err)
	}
	return uint64(seq), nil
}

// ResetIndex deletes every session and statement and sets the indexed
// position to 0. Service tokens, reviews and token usage are kept.
func (d *DB) ResetIndex(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		for _, q := range []string{
			`DELETE FROM statements`,
			`DELETE FROM sessions`,
			`UPDATE index_state SET seq = 0 WHERE id = 1`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reset index: %w", err)
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
	// add appends a condition whose ? (at most one) is the argument arg.
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Subject != "" {
		add("subject = ?", f.Subject)
	}
	if f.Group != "" {
		add("group_names @> ARRAY[?::text]", f.Group)
	}
	if f.Connection != "" {
		add("connection = ?", f.Connection)
	}
	if f.Session != "" {
		add("session_id = ?", f.Session)
	}
	if !f.Since.IsZero() {
		add("started_at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		add("started_at < ?", f.Until)
	}
	// strpos, unlike LIKE, gives no character a special meaning.
	if f.Text != "" {
		add("strpos(lower(text), lower(?::text)) > 0", f.Text)
	}
	if f.Class != 0 {
		add("class & ?::integer <> 0", int32(f.Class))
	}
	if f.Decision != "" {
		add("decision = ?", string(f.Decision))
	}
	switch f.Error {
	case "":
	case store.ErrorAny:
		where = append(where, "error <> ''")
	default:
		add("strpos(lower(error), lower(?::text)) > 0", f.Error)
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
	args = append(args, limit)
	q += ` ORDER BY started_at DESC NULLS LAST, request_seq DESC, n DESC LIMIT $` + strconv.Itoa(len(args))
	rows, _ := d.query(ctx, q, args...)
	out, err := pgx.CollectRows(rows, scanStatement)
	if err != nil {
		return nil, fmt.Errorf("search statements: %w", err)
	}
	return out, nil
}
