package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

// AddStatements records a batch of statements in one transaction: all of
// them or, on error, none. A statement whose session is unknown fails the
// batch with store.ErrNotFound; an id the session holds already, or that
// the batch holds twice, fails it with an error saying so.
func (d *DB) AddStatements(ctx context.Context, stmts []*sluice.StatementRecord) error {
	if len(stmts) == 0 {
		return nil
	}
	for _, r := range stmts {
		if err := checkStatement(r); err != nil {
			return fmt.Errorf("add statements: %w", err)
		}
	}
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return fmt.Errorf("add statements: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	w, err := newChunkWriter(ctx, tx)
	if err != nil {
		return fmt.Errorf("add statements: %w", err)
	}
	defer w.close()
	for _, g := range bySession(stmts) {
		// No foreign key does this (the index keeps statements whose
		// session it lost), so check under the transaction's lock.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id = ?`, g.session).Scan(&n); err != nil {
			return fmt.Errorf("add statement %q: %w", g.stmts[0].ID, err)
		}
		if n == 0 {
			return fmt.Errorf("add statement %q: session %q: %w", g.stmts[0].ID, g.session, store.ErrNotFound)
		}
		seen, err := w.storedIDs(ctx, g.session, math.MinInt64)
		if err != nil {
			return fmt.Errorf("add statements: %w", err)
		}
		for _, r := range g.stmts {
			if seen[r.ID] {
				return fmt.Errorf("add statement %q: the id is already in use", r.ID)
			}
			seen[r.ID] = true
		}
		if err := w.write(ctx, g); err != nil {
			return fmt.Errorf("add statements: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add statements: commit: %w", err)
	}
	return nil
}

// sessionStatements is a session's share of a batch, in the batch's order,
// with each statement's position in the batch.
type sessionStatements struct {
	session string
	stmts   []*sluice.StatementRecord
	ords    []int
}

// bySession splits stmts, none of them nil, by session, in the order each
// session first appears.
func bySession(stmts []*sluice.StatementRecord) []sessionStatements {
	var out []sessionStatements
	at := make(map[string]int)
	for ord, r := range stmts {
		i, ok := at[r.SessionID]
		if !ok {
			i = len(out)
			at[r.SessionID] = i
			out = append(out, sessionStatements{session: r.SessionID})
		}
		out[i].stmts = append(out[i].stmts, r)
		out[i].ords = append(out[i].ords, ord)
	}
	return out
}

// chunkWriter stores statements as chunks within one write transaction.
// The chunks of one write share its id, the first chunk's, and each
// statement keeps its position in the write: together they order the
// statements of a write as they were given, across sessions.
type chunkWriter struct {
	tx              *sql.Tx
	insert, reviews *sql.Stmt
	writeID, nextID int64
	c               chunk
}

func newChunkWriter(ctx context.Context, tx *sql.Tx) (*chunkWriter, error) {
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM statement_chunks`).Scan(&last); err != nil {
		return nil, err
	}
	insert, err := tx.PrepareContext(ctx, `INSERT INTO statement_chunks
        (id, write_id, session_id, n, max_request_seq, min_started, max_started, decisions, data)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	reviews, err := tx.PrepareContext(ctx, `INSERT INTO statement_reviews (review_id, chunk_id)
        VALUES (?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		insert.Close()
		return nil, err
	}
	return &chunkWriter{tx: tx, insert: insert, reviews: reviews, writeID: last + 1, nextID: last + 1}, nil
}

func (w *chunkWriter) close() {
	w.insert.Close()
	w.reviews.Close()
}

// write stores the statements of g, which checkStatement accepts, in as
// few chunks as the limits allow.
func (w *chunkWriter) write(ctx context.Context, g sessionStatements) error {
	w.c = chunk{session: g.session, data: w.c.data[:0]}
	for i, r := range g.stmts {
		w.c.add(r, g.ords[i])
		if w.c.full() {
			if err := w.flush(ctx); err != nil {
				return err
			}
		}
	}
	return w.flush(ctx)
}

// flush stores the chunk being built, if it holds a statement, and starts
// the next one.
func (w *chunkWriter) flush(ctx context.Context) error {
	c := &w.c
	if c.n == 0 {
		return nil
	}
	id := w.nextID
	if _, err := w.insert.ExecContext(ctx, id, w.writeID, c.session, c.n, c.maxRequest, c.minStarted,
		c.maxStarted, c.decisions, c.data); err != nil {
		return fmt.Errorf("statements of session %q: %w", c.session, err)
	}
	w.nextID++
	for _, rv := range c.reviews {
		if _, err := w.reviews.ExecContext(ctx, rv, id); err != nil {
			return fmt.Errorf("review %q of session %q: %w", rv, c.session, err)
		}
	}
	*c = chunk{session: c.session, data: c.data[:0]}
	return nil
}

// storedIDs returns the ids of the statements of session stored in chunks
// that hold a statement whose request is at journal position from or later.
func (w *chunkWriter) storedIDs(ctx context.Context, session string, from int64) (map[string]bool, error) {
	rows, err := w.tx.QueryContext(ctx, `SELECT data FROM statement_chunks
        WHERE session_id = ? AND max_request_seq >= ?`, session, from)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := make(map[string]bool)
	for rows.Next() {
		var blob sql.RawBytes
		if err := rows.Scan(&blob); err != nil {
			return nil, err
		}
		cr, err := newChunkReader(blob)
		if err != nil {
			return nil, fmt.Errorf("statements of session %q: %w", session, err)
		}
		var v stmtView
		for cr.next(&v) {
			ids[string(v.id)] = true
		}
		if cr.err != nil {
			return nil, fmt.Errorf("statements of session %q: %w", session, cr.err)
		}
	}
	return ids, rows.Err()
}

// ListStatements returns the statements of a session ordered by seq, and
// statements with the same seq in the order they were added. It returns
// store.ErrNotFound if neither the session nor any of its statements is
// stored.
func (d *DB) ListStatements(ctx context.Context, sessionID string) ([]*sluice.StatementRecord, error) {
	var out []*sluice.StatementRecord
	err := d.scanChunks(ctx, func(_ int64, v *stmtView) bool {
		out = append(out, v.record(sessionID))
		return true
	}, `SELECT id, data FROM statement_chunks WHERE session_id = ? ORDER BY id`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("list statements of %q: %w", sessionID, err)
	}
	if len(out) == 0 {
		if err := d.sessionExists(ctx, sessionID); err != nil {
			return nil, fmt.Errorf("list statements of %q: %w", sessionID, err)
		}
	}
	slices.SortStableFunc(out, func(a, b *sluice.StatementRecord) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

// scanChunks runs q, whose rows are a chunk's id and blob and possibly more
// columns before them, and calls f with every statement of every row, in
// order, until f returns false.
func (d *DB) scanChunks(ctx context.Context, f func(chunkID int64, v *stmtView) bool, q string, args ...any) error {
	rows, err := d.read.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var v stmtView
	for rows.Next() {
		var id int64
		var blob sql.RawBytes
		if err := rows.Scan(&id, &blob); err != nil {
			return err
		}
		cr, err := newChunkReader(blob)
		if err != nil {
			return fmt.Errorf("chunk %d: %w", id, err)
		}
		for cr.next(&v) {
			if !f(id, &v) {
				return nil
			}
		}
		if cr.err != nil {
			return fmt.Errorf("chunk %d: %w", id, cr.err)
		}
	}
	return rows.Err()
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
