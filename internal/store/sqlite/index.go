package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sluicehq/sluice/internal/store"
)

// ApplyIndex applies b in one write transaction: sessions, then ends, then
// statements, then the indexed position. Rows whose id is stored already are
// left as they are, so applying a batch twice stores it once. A statement
// counts as stored when its session holds its id among the statements whose
// requests are at its request's journal position or later: a journal gives
// a statement one request position, so a batch applied again finds its
// statements where they were stored without reading the session's older
// chunks.
func (d *DB) ApplyIndex(ctx context.Context, b *store.IndexBatch) error {
	if b.Empty() {
		return nil
	}
	// Check everything that can be checked before taking the write lock,
	// so that a bad record fails the batch without holding up other writers.
	sessions := make([][]any, 0, len(b.Sessions))
	for _, s := range b.Sessions {
		args, err := sessionArgs(s)
		if err != nil {
			return fmt.Errorf("apply index: %w", err)
		}
		sessions = append(sessions, args)
	}
	ends := make([][]any, 0, len(b.Ends))
	for _, e := range b.Ends {
		args, err := endArgs(e.ID, e.At, e.Reason)
		if err != nil {
			return fmt.Errorf("apply index: end of session %q: %w", e.ID, err)
		}
		ends = append(ends, args)
	}
	for _, r := range b.Statements {
		if err := checkStatement(r); err != nil {
			return fmt.Errorf("apply index: %w", err)
		}
	}
	seq, err := encodeSeq(b.Seq)
	if err != nil {
		return fmt.Errorf("apply index: position: %w", err)
	}
	if err := d.applyIndex(ctx, sessions, ends, bySession(b.Statements), seq); err != nil {
		return fmt.Errorf("apply index: %w", err)
	}
	return nil
}

// applyIndex writes a checked index batch in one transaction.
func (d *DB) applyIndex(ctx context.Context, sessions, ends [][]any, groups []sessionStatements, seq int64) error {
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := execEach(ctx, tx, insertSession+` ON CONFLICT (id) DO NOTHING`, sessions, 0); err != nil {
		return fmt.Errorf("session %w", err)
	}
	if err := execEach(ctx, tx, endSession, ends, 2); err != nil {
		return fmt.Errorf("end of session %w", err)
	}
	if len(groups) > 0 {
		w, err := newChunkWriter(ctx, tx)
		if err != nil {
			return err
		}
		defer w.close()
		for _, g := range groups {
			fresh, err := w.unstored(ctx, g)
			if err != nil {
				return err
			}
			if err := w.write(ctx, fresh); err != nil {
				return err
			}
		}
	}
	if seq > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE index_state SET seq = max(seq, ?) WHERE id = 1`, seq); err != nil {
			return fmt.Errorf("position: %w", err)
		}
	}
	return tx.Commit()
}

// execEach runs q once for each row of values in tx. An error names the
// row by its value idArg.
func execEach(ctx context.Context, tx *sql.Tx, q string, rows [][]any, idArg int) error {
	if len(rows) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, args := range rows {
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return &rowError{id: args[idArg], err: err}
		}
	}
	return nil
}

// rowError is the error of one row of execEach.
type rowError struct {
	id  any
	err error
}

func (e *rowError) Error() string { return fmt.Sprintf("%v: %v", e.id, e.err) }
func (e *rowError) Unwrap() error { return e.err }

// unstored returns the part of g that its session does not hold yet: the
// first of each id in g.
func (w *chunkWriter) unstored(ctx context.Context, g sessionStatements) (sessionStatements, error) {
	from := int64(g.stmts[0].RequestSeq) // checkStatement let only int64s through
	for _, r := range g.stmts {
		from = min(from, int64(r.RequestSeq))
	}
	seen, err := w.storedIDs(ctx, g.session, from)
	if err != nil {
		return sessionStatements{}, err
	}
	fresh := sessionStatements{session: g.session}
	for i, r := range g.stmts {
		if !seen[r.ID] {
			seen[r.ID] = true
			fresh.stmts = append(fresh.stmts, r)
			fresh.ords = append(fresh.ords, g.ords[i])
		}
	}
	return fresh, nil
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
		`DELETE FROM statement_chunks`,
		`DELETE FROM statement_reviews`,
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
