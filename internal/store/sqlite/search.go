package sqlite

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

// SearchStatements returns the statements matching f, newest first: by
// start time, then request position, then the order they were stored;
// statements without a start time come last.
//
// The chunks that can hold a match are read newest first (by the latest
// start time among their statements), their statements matched one by one,
// and the best f.Limit kept; the scan stops at the first chunk whose
// statements all started before the last one kept.
func (d *DB) SearchStatements(ctx context.Context, f store.StatementFilter) ([]*sluice.StatementRecord, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("search statements: negative limit %d", f.Limit)
	}
	limit := f.Limit
	if limit == 0 {
		limit = store.DefaultLimit
	}
	var where []string
	var args []any
	add := func(cond string, arg ...any) {
		where, args = append(where, cond), append(args, arg...)
	}
	if f.Session != "" {
		add("session_id = ?", f.Session)
	}
	if !f.Since.IsZero() {
		add("max_started >= ?", boundTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("min_started < ?", boundTime(f.Until))
	}
	if f.Decision != "" {
		add("decisions & ? <> 0", decisionBit(f.Decision))
	}
	if f.ReviewID != "" {
		add("id IN (SELECT chunk_id FROM statement_reviews WHERE review_id = ?)", f.ReviewID)
	}
	cond := ""
	if len(where) > 0 {
		cond = ` WHERE ` + strings.Join(where, " AND ")
	}
	// SQLite sorts NULL below every value: chunks without a start time last.
	const order = ` ORDER BY max_started DESC, id DESC`

	s := &search{m: newMatcher(f), top: &topStatements{limit: limit}}
	var err error
	if f.Session != "" {
		// SQLite reads a session's chunks through statement_chunks_session
		// and sorts them: sort their references, not their blobs.
		err = d.searchSorted(ctx, s, `SELECT id, write_id, session_id, max_started FROM statement_chunks`+cond+order, args)
	} else {
		// statement_chunks_started gives the order: stream.
		err = d.searchStream(ctx, s, `SELECT id, write_id, session_id, max_started, data FROM statement_chunks`+cond+order, args)
	}
	if err != nil {
		return nil, fmt.Errorf("search statements: %w", err)
	}
	return s.top.sorted(), nil
}

// search is one search's matcher and the statements it keeps.
type search struct {
	m   *matcher
	top *topStatements
	v   stmtView
}

// chunkRef is a chunk's columns that a search orders and stops by.
type chunkRef struct {
	id, write int64
	session   string
	latest    sql.NullInt64
}

// match offers the matching statements of one chunk to the top.
func (s *search) match(ref chunkRef, blob []byte) error {
	cr, err := newChunkReader(blob)
	if err != nil {
		return fmt.Errorf("chunk %d: %w", ref.id, err)
	}
	for cr.next(&s.v) {
		if s.m.match(&s.v) {
			s.top.offer(sortKey{started: s.v.started, hasStarted: s.v.hasStarted, requestSeq: s.v.requestSeq,
				write: ref.write, ord: s.v.ord}, &s.v, ref.session)
		}
	}
	if cr.err != nil {
		return fmt.Errorf("chunk %d: %w", ref.id, cr.err)
	}
	return nil
}

// searchStream runs q, which returns chunkRef's columns and the blob in
// search order, and matches chunks until the top is complete.
func (d *DB) searchStream(ctx context.Context, s *search, q string, args []any) error {
	rows, err := d.read.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var ref chunkRef
		var blob sql.RawBytes
		if err := rows.Scan(&ref.id, &ref.write, &ref.session, &ref.latest, &blob); err != nil {
			return err
		}
		if !s.top.mayTake(ref.latest) {
			return nil
		}
		if err := s.match(ref, blob); err != nil {
			return err
		}
	}
	return rows.Err()
}

// searchSorted runs q, which returns chunkRef's columns in search order,
// and then reads and matches the chunks one at a time until the top is
// complete.
func (d *DB) searchSorted(ctx context.Context, s *search, q string, args []any) error {
	rows, err := d.read.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	var refs []chunkRef
	for rows.Next() {
		var ref chunkRef
		if err := rows.Scan(&ref.id, &ref.write, &ref.session, &ref.latest); err != nil {
			rows.Close()
			return err
		}
		refs = append(refs, ref)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ref := range refs {
		if !s.top.mayTake(ref.latest) {
			return nil
		}
		var blob []byte
		err := d.read.QueryRowContext(ctx, `SELECT data FROM statement_chunks WHERE id = ?`, ref.id).Scan(&blob)
		if errors.Is(err, sql.ErrNoRows) {
			continue // the index was reset since
		}
		if err != nil {
			return err
		}
		if err := s.match(ref, blob); err != nil {
			return err
		}
	}
	return nil
}

// matcher decides whether a statement matches a filter. SQLite's lower,
// which the row-per-statement search used, folds ASCII letters only, and so
// do the text matches here.
type matcher struct {
	f             store.StatementFilter
	since, till   int64
	text, errText []byte // lower-cased
}

func newMatcher(f store.StatementFilter) *matcher {
	m := &matcher{f: f, since: boundTime(f.Since), till: boundTime(f.Until)}
	if f.Text != "" {
		m.text = lowerASCII(f.Text)
	}
	if f.Error != "" && f.Error != store.ErrorAny {
		m.errText = lowerASCII(f.Error)
	}
	return m
}

func (m *matcher) match(v *stmtView) bool {
	f := &m.f
	switch {
	case f.Subject != "" && string(v.subject) != f.Subject,
		f.Connection != "" && string(v.connection) != f.Connection,
		f.Decision != "" && string(v.decision) != string(f.Decision),
		f.ReviewID != "" && string(v.reviewID) != f.ReviewID,
		f.Class != 0 && uint64(f.Class)&v.class == 0,
		!f.Since.IsZero() && (!v.hasStarted || v.started < m.since),
		!f.Until.IsZero() && (!v.hasStarted || v.started >= m.till),
		f.Error == store.ErrorAny && len(v.errText) == 0,
		m.errText != nil && !containsFold(v.errText, m.errText),
		m.text != nil && !containsFold(v.text, m.text),
		f.Group != "" && !v.hasGroup(f.Group):
		return false
	}
	return true
}

func lowerASCII(s string) []byte {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

// containsFold reports whether s holds lower, which is lower-cased, with
// ASCII letters compared without case. As with SQLite's instr, a match
// starts at the first byte or at a byte that starts a UTF-8 character.
func containsFold(s, lower []byte) bool {
	if len(lower) == 0 {
		return true
	}
	last := len(s) - len(lower) // the last position a match can start at
	first, upper := lower[0], lower[0]
	if 'a' <= first && first <= 'z' {
		upper = first - ('a' - 'A')
	}
	// The next positions at or after i of the needle's first byte in
	// either case, found again only once i has passed them, so that the
	// scans add up to one pass over s.
	nextLo, nextUp := -1, -1
	for i := 0; i <= last; {
		if nextLo < i {
			nextLo = indexFrom(s[:last+1], first, i)
		}
		if nextUp < i {
			nextUp = indexFrom(s[:last+1], upper, i)
		}
		j := min(nextLo, nextUp)
		if j > last {
			return false
		}
		if (j == 0 || s[j]&0xc0 != 0x80) && equalFold(s[j:j+len(lower)], lower) {
			return true
		}
		i = j + 1
	}
	return false
}

// indexFrom returns the first position at or after i of c in s, or len(s)
// if there is none.
func indexFrom(s []byte, c byte, i int) int {
	if k := bytes.IndexByte(s[i:], c); k >= 0 {
		return i + k
	}
	return len(s)
}

// equalFold reports whether a, folded to lower case in ASCII, is lower.
func equalFold(a, lower []byte) bool {
	for i, c := range a {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// sortKey orders statements as a search returns them: the greater key
// first.
type sortKey struct {
	started    int64
	hasStarted bool
	requestSeq uint64
	write      int64 // the write that stored it
	ord        uint64
}

func compareKeys(a, b sortKey) int {
	if a.hasStarted != b.hasStarted {
		if a.hasStarted {
			return 1
		}
		return -1
	}
	if c := cmp.Compare(a.started, b.started); c != 0 {
		return c
	}
	if c := cmp.Compare(a.requestSeq, b.requestSeq); c != 0 {
		return c
	}
	if c := cmp.Compare(a.write, b.write); c != 0 {
		return c
	}
	return cmp.Compare(a.ord, b.ord)
}

// topStatements keeps the limit greatest statements offered, in a heap
// with the least of them on top.
type topStatements struct {
	limit int
	items []keyed
}

type keyed struct {
	key sortKey
	r   *sluice.StatementRecord
}

func (t *topStatements) Len() int           { return len(t.items) }
func (t *topStatements) Less(i, j int) bool { return compareKeys(t.items[i].key, t.items[j].key) < 0 }
func (t *topStatements) Swap(i, j int)      { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *topStatements) Push(x any)         { t.items = append(t.items, x.(keyed)) }
func (t *topStatements) Pop() any {
	x := t.items[len(t.items)-1]
	t.items = t.items[:len(t.items)-1]
	return x
}

// mayTake reports whether a chunk whose latest start time is latest can
// hold a statement that the top would keep.
func (t *topStatements) mayTake(latest sql.NullInt64) bool {
	if len(t.items) < t.limit {
		return true
	}
	least := t.items[0].key
	if !least.hasStarted {
		return true // ties among statements without a start time
	}
	return latest.Valid && latest.Int64 >= least.started
}

// offer keeps v if it is among the limit greatest so far.
func (t *topStatements) offer(k sortKey, v *stmtView, session string) {
	if len(t.items) < t.limit {
		heap.Push(t, keyed{key: k, r: v.record(session)})
		return
	}
	if compareKeys(k, t.items[0].key) <= 0 {
		return
	}
	t.items[0] = keyed{key: k, r: v.record(session)}
	heap.Fix(t, 0)
}

// sorted returns the statements kept, greatest first.
func (t *topStatements) sorted() []*sluice.StatementRecord {
	slices.SortFunc(t.items, func(a, b keyed) int { return compareKeys(b.key, a.key) })
	out := make([]*sluice.StatementRecord, len(t.items))
	for i, it := range t.items {
		out[i] = it.r
	}
	return out
}
