package sqlite

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice"
)

// The index keeps a session's statements in chunks: one row of
// statement_chunks holds the statements of one session that one write
// stored, encoded one after another in a blob (format below). A busy
// gateway's index batch then costs SQLite a few rows rather than a row of 20
// values and three B-tree entries per statement, which on a gateway with one
// core took a sixth to a quarter of its CPU (docs/benchmarks.md). The
// chunk's columns (session, the latest request position, the start-time
// range, the decisions present) narrow a search to the chunks that can
// match; the statements in them are then matched in Go.
//
// A chunk's blob is chunkVersion followed by its statements, each its
// fields in this order: id, seq, text, params, class, decision, rule,
// started, duration, rows, tag, status, error, subject, groups, connection,
// request seq, result seq, review id, and its position in the write that
// stored it (see chunkWriter). Each field is written against the same
// field of the statement before it in the chunk (of a zero statement for
// the first), since a session's statements mostly repeat their neighbours'
// text, requester and outcome, and their ids and journal positions count
// up:
//
//   - a string is a uvarint p, the length of the prefix it shares with the
//     one before, a uvarint n and n bytes that follow that prefix: the
//     same text again takes two bytes, an id "S/8" after "S/7" three;
//   - a list is 0 when it equals the one before, or 1 and then the list: a
//     uvarint, 0 for a nil list or its length plus one, then its items,
//     each a uvarint, 0 for a nil item or its length plus one, and the
//     bytes;
//   - seq, started and the two journal positions are the difference from
//     the one before, modulo 2^64, as a zig-zag varint; started is preceded
//     by a byte, 1 when a time follows as unix nanoseconds and 0 for the
//     zero time (which is not a difference's base);
//   - class is a uvarint, duration and rows varints, and the position a
//     uvarint.
//
// Version 1, which the index wrote before, had each field whole: strings a
// uvarint length and the bytes, the list without its marker, the class and
// the journal positions uvarints, started's time and the other integers
// varints. Chunks of either version are read.
const (
	chunkVersion1 = 1
	chunkVersion  = 2
)

// Chunks hold at most maxChunkStatements statements and, once past
// maxChunkBytes, end after the statement that crossed it, so that a search
// or a list never decodes much more than it needs.
const (
	maxChunkStatements = 512
	maxChunkBytes      = 1 << 20
)

// Bits of statement_chunks.decisions: which decisions the chunk's
// statements carry.
const (
	decidedAllow int64 = 1 << iota
	decidedDeny
	decidedReview
	decidedOther
)

// decisionBit returns the bit of statement_chunks.decisions for a.
func decisionBit(a sluice.Action) int64 {
	switch a {
	case sluice.ActionAllow:
		return decidedAllow
	case sluice.ActionDeny:
		return decidedDeny
	case sluice.ActionReview:
		return decidedReview
	}
	return decidedOther
}

// chunk is one row of statement_chunks being built.
type chunk struct {
	session                string
	n                      int
	maxRequest             int64         // the largest journal position of a statement's request
	minStarted, maxStarted sql.NullInt64 // unix nanoseconds; NULL when no statement has a start time
	decisions              int64
	reviews                []string // review ids of the statements, in order, with repeats
	data                   []byte
	prev                   *sluice.StatementRecord // the statement added last, which the next is encoded against
}

// checkStatement returns an error if r holds what a chunk's columns cannot:
// a start time outside an int64 of nanoseconds, or a journal position
// outside SQLite's signed integers.
func checkStatement(r *sluice.StatementRecord) error {
	if r == nil {
		return errors.New("nil statement")
	}
	if _, err := encodeTime(r.StartedAt); err != nil {
		return fmt.Errorf("statement %q: %w", r.ID, err)
	}
	if _, err := encodeSeq(r.RequestSeq); err != nil {
		return fmt.Errorf("statement %q: request seq: %w", r.ID, err)
	}
	if _, err := encodeSeq(r.ResultSeq); err != nil {
		return fmt.Errorf("statement %q: result seq: %w", r.ID, err)
	}
	return nil
}

// add encodes r at the end of c, with its position in the write. The
// caller has checked r with checkStatement.
func (c *chunk) add(r *sluice.StatementRecord, ord int) {
	if c.n == 0 {
		c.data = append(c.data[:0], chunkVersion)
		c.maxRequest = 0
		c.prev = &sluice.StatementRecord{}
	}
	c.n++
	c.maxRequest = max(c.maxRequest, int64(r.RequestSeq))
	if !r.StartedAt.IsZero() {
		ns := r.StartedAt.UnixNano()
		if !c.minStarted.Valid || ns < c.minStarted.Int64 {
			c.minStarted = sql.NullInt64{Int64: ns, Valid: true}
		}
		if !c.maxStarted.Valid || ns > c.maxStarted.Int64 {
			c.maxStarted = sql.NullInt64{Int64: ns, Valid: true}
		}
	}
	c.decisions |= decisionBit(r.Decision)
	if r.ReviewID != "" {
		c.reviews = append(c.reviews, r.ReviewID)
	}
	c.data = appendStatement(c.data, r, c.prev)
	c.data = binary.AppendUvarint(c.data, uint64(ord))
	c.prev = r
}

// full reports whether c takes no more statements.
func (c *chunk) full() bool {
	return c.n >= maxChunkStatements || len(c.data) >= maxChunkBytes
}

// appendStatement appends the encoding of r, written against prev, to b.
func appendStatement(b []byte, r, prev *sluice.StatementRecord) []byte {
	b = appendString(b, r.ID, prev.ID)
	b = appendDelta(b, uint64(r.Seq), uint64(prev.Seq))
	b = appendString(b, r.Text, prev.Text)
	b = appendParams(b, r.Params, prev.Params)
	b = binary.AppendUvarint(b, uint64(r.Class))
	b = appendString(b, string(r.Decision), string(prev.Decision))
	b = appendString(b, r.Rule, prev.Rule)
	if r.StartedAt.IsZero() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendDelta(b, uint64(r.StartedAt.UnixNano()), uint64(lastStarted(prev)))
	}
	b = binary.AppendVarint(b, int64(r.Duration))
	b = binary.AppendVarint(b, r.Rows)
	b = appendString(b, r.Tag, prev.Tag)
	b = appendString(b, r.Status, prev.Status)
	b = appendString(b, r.Error, prev.Error)
	b = appendString(b, r.Subject, prev.Subject)
	b = appendGroups(b, r.Groups, prev.Groups)
	b = appendString(b, r.Connection, prev.Connection)
	b = appendDelta(b, r.RequestSeq, prev.RequestSeq)
	b = appendDelta(b, r.ResultSeq, prev.ResultSeq)
	return appendString(b, r.ReviewID, prev.ReviewID)
}

// lastStarted is the start time a statement after r is written against:
// r's, or for a statement with the zero time, 0.
func lastStarted(r *sluice.StatementRecord) int64 {
	if r.StartedAt.IsZero() {
		return 0
	}
	return r.StartedAt.UnixNano()
}

// appendString appends s as the prefix it shares with prev and the rest.
func appendString(b []byte, s, prev string) []byte {
	p := 0
	for p < len(s) && p < len(prev) && s[p] == prev[p] {
		p++
	}
	b = binary.AppendUvarint(b, uint64(p))
	b = binary.AppendUvarint(b, uint64(len(s)-p))
	return append(b, s[p:]...)
}

// appendDelta appends v as its difference from prev, modulo 2^64.
func appendDelta(b []byte, v, prev uint64) []byte {
	return binary.AppendVarint(b, int64(v-prev))
}

func appendParams(b []byte, ps, prev []*string) []byte {
	if (ps == nil) == (prev == nil) && slices.EqualFunc(ps, prev, func(a, b *string) bool {
		return (a == nil) == (b == nil) && (a == nil || *a == *b)
	}) {
		return append(b, 0)
	}
	return appendList(append(b, 1), ps == nil, len(ps), func(i int) (string, bool) {
		if p := ps[i]; p != nil {
			return *p, true
		}
		return "", false
	})
}

func appendGroups(b []byte, gs, prev []string) []byte {
	if (gs == nil) == (prev == nil) && slices.Equal(gs, prev) {
		return append(b, 0)
	}
	return appendList(append(b, 1), gs == nil, len(gs), func(i int) (string, bool) { return gs[i], true })
}

// appendList appends a list of n items, or a nil list when null; item
// returns the i-th item, and false for a nil one.
func appendList(b []byte, null bool, n int, item func(i int) (string, bool)) []byte {
	if null {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(n)+1)
	for i := range n {
		s, ok := item(i)
		if !ok {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(s))+1)
		b = append(b, s...)
	}
	return b
}

// stmtView is one decoded statement of a chunk whose byte fields point into
// the chunk's blob, or into the reader's buffers for a string rebuilt from
// the one before: a search matches views and copies out only the statements
// it returns. A view is valid until its reader's next call.
type stmtView struct {
	id, text, decision, rule, tag, status, errText, subject, connection, reviewID []byte
	params, groups                                                                []byte // encoded lists
	seq, duration, rows                                                           int64
	class                                                                         uint64
	started                                                                       int64
	hasStarted                                                                    bool
	requestSeq, resultSeq                                                         uint64
	ord                                                                           uint64
}

// errChunk reports a blob that does not decode.
var errChunk = errors.New("malformed statement chunk")

// chunkReader decodes the statements of a chunk's blob one at a time.
type chunkReader struct {
	b       []byte
	err     error
	version byte
	// Version 2: the statement before, which the next is written
	// against, and for each string field the buffer its value was last
	// rebuilt in and a spare one.
	prev stmtView
	bufs [stringFields][2][]byte
}

// The string fields of a statement, in the order of stmtView, for
// chunkReader.bufs.
const (
	fID = iota
	fText
	fDecision
	fRule
	fTag
	fStatus
	fError
	fSubject
	fConnection
	fReviewID
	stringFields
)

// newChunkReader returns a reader of blob, or an error if blob is not a
// chunk of a version it reads.
func newChunkReader(blob []byte) (*chunkReader, error) {
	if len(blob) == 0 || (blob[0] != chunkVersion && blob[0] != chunkVersion1) {
		return nil, fmt.Errorf("%w: unknown version", errChunk)
	}
	return &chunkReader{b: blob[1:], version: blob[0]}, nil
}

// next decodes the next statement into v. It returns false at the end of
// the blob or on an error, which err then returns.
func (cr *chunkReader) next(v *stmtView) bool {
	if cr.err != nil || len(cr.b) == 0 {
		return false
	}
	if cr.version == chunkVersion1 {
		cr.nextV1(v)
	} else {
		cr.nextV2(v)
	}
	if v.class > 0xffff {
		cr.fail()
	}
	return cr.err == nil
}

// nextV2 decodes a statement written against the one before.
func (cr *chunkReader) nextV2(v *stmtView) {
	p := &cr.prev
	p.id = cr.str(fID, p.id)
	p.seq = int64(cr.delta(uint64(p.seq)))
	p.text = cr.str(fText, p.text)
	p.params = cr.sameOrList(p.params)
	p.class = cr.uvarint()
	p.decision = cr.str(fDecision, p.decision)
	p.rule = cr.str(fRule, p.rule)
	base := p.started // the statement before's, 0 for the zero time
	p.hasStarted = cr.flag()
	p.started = 0
	if p.hasStarted {
		p.started = int64(cr.delta(uint64(base)))
	}
	p.duration = cr.varint()
	p.rows = cr.varint()
	p.tag = cr.str(fTag, p.tag)
	p.status = cr.str(fStatus, p.status)
	p.errText = cr.str(fError, p.errText)
	p.subject = cr.str(fSubject, p.subject)
	p.groups = cr.sameOrList(p.groups)
	p.connection = cr.str(fConnection, p.connection)
	p.requestSeq = cr.delta(p.requestSeq)
	p.resultSeq = cr.delta(p.resultSeq)
	p.reviewID = cr.str(fReviewID, p.reviewID)
	p.ord = cr.uvarint()
	*v = *p
}

// nextV1 decodes a statement of a version 1 chunk.
func (cr *chunkReader) nextV1(v *stmtView) {
	v.id = cr.bytes()
	v.seq = cr.varint()
	v.text = cr.bytes()
	v.params = cr.list()
	v.class = cr.uvarint()
	v.decision = cr.bytes()
	v.rule = cr.bytes()
	v.hasStarted = cr.flag()
	v.started = 0
	if v.hasStarted {
		v.started = cr.varint()
	}
	v.duration = cr.varint()
	v.rows = cr.varint()
	v.tag = cr.bytes()
	v.status = cr.bytes()
	v.errText = cr.bytes()
	v.subject = cr.bytes()
	v.groups = cr.list()
	v.connection = cr.bytes()
	v.requestSeq = cr.uvarint()
	v.resultSeq = cr.uvarint()
	v.reviewID = cr.bytes()
	v.ord = cr.uvarint()
}

// str reads string field f written against prev: the prefix of prev it
// shares, then the rest. A value that is neither all prefix nor all rest is
// rebuilt in the field's spare buffer, which no view holds: the values
// since the field's last rebuild are the blob's or the other buffer's.
func (cr *chunkReader) str(f int, prev []byte) []byte {
	p := cr.uvarint()
	if p > uint64(len(prev)) {
		cr.fail()
		return nil
	}
	rest := cr.bytes()
	switch {
	case len(rest) == 0:
		return prev[:p:p]
	case p == 0:
		return rest
	}
	b := &cr.bufs[f]
	b[1] = append(append(b[1][:0], prev[:p]...), rest...)
	b[0], b[1] = b[1], b[0]
	return b[0][:len(b[0]):len(b[0])]
}

// delta reads a value written as its difference from prev.
func (cr *chunkReader) delta(prev uint64) uint64 {
	return prev + uint64(cr.varint())
}

// sameOrList reads a list written against prev: prev again, or a list.
func (cr *chunkReader) sameOrList(prev []byte) []byte {
	switch b := cr.uvarint(); b {
	case 0:
		return prev
	case 1:
		return cr.list()
	}
	cr.fail()
	return nil
}

func (cr *chunkReader) fail() {
	if cr.err == nil {
		cr.err = errChunk
	}
	cr.b = nil
}

func (cr *chunkReader) uvarint() uint64 {
	n, k := binary.Uvarint(cr.b)
	if k <= 0 {
		cr.fail()
		return 0
	}
	cr.b = cr.b[k:]
	return n
}

// varint reads what binary.AppendVarint wrote: a zig-zag encoded uvarint.
func (cr *chunkReader) varint() int64 {
	u := cr.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (cr *chunkReader) flag() bool {
	if len(cr.b) == 0 || cr.b[0] > 1 {
		cr.fail()
		return false
	}
	f := cr.b[0] == 1
	cr.b = cr.b[1:]
	return f
}

// take returns the next n bytes.
func (cr *chunkReader) take(n uint64) []byte {
	if n > uint64(len(cr.b)) {
		cr.fail()
		return nil
	}
	s := cr.b[:n:n]
	cr.b = cr.b[n:]
	return s
}

func (cr *chunkReader) bytes() []byte {
	return cr.take(cr.uvarint())
}

// list returns an encoded list whole, for listItems to read later, or nil
// for a nil list.
func (cr *chunkReader) list() []byte {
	start := cr.b
	n := cr.uvarint()
	if n == 0 {
		return nil
	}
	if n-1 > uint64(len(cr.b)) { // every item takes a byte at least
		cr.fail()
		return nil
	}
	for i := uint64(1); i < n && cr.err == nil; i++ {
		if k := cr.uvarint(); k > 0 {
			cr.take(k - 1)
		}
	}
	if cr.err != nil {
		return nil
	}
	return start[:len(start)-len(cr.b)]
}

// listItems calls f with each item of an encoded list (checked by list),
// nil for a nil item.
func listItems(list []byte, f func(item []byte, null bool)) {
	cr := chunkReader{b: list}
	n := cr.uvarint()
	for range max(n, 1) - 1 {
		k := cr.uvarint()
		if k == 0 {
			f(nil, true)
			continue
		}
		f(cr.take(k-1), false)
	}
}

// record copies v out of its blob as the statement record of session.
func (v *stmtView) record(session string) *sluice.StatementRecord {
	r := &sluice.StatementRecord{
		ID: string(v.id), SessionID: session, Seq: v.seq, Text: string(v.text), Class: sluice.Class(v.class),
		Decision: sluice.Action(v.decision), Rule: string(v.rule), Duration: time.Duration(v.duration),
		Rows: v.rows, Tag: string(v.tag), Status: string(v.status), Error: string(v.errText),
		Subject: string(v.subject), Connection: string(v.connection), RequestSeq: v.requestSeq,
		ResultSeq: v.resultSeq, ReviewID: string(v.reviewID),
	}
	if v.hasStarted {
		r.StartedAt = time.Unix(0, v.started).UTC()
	}
	if v.params != nil {
		r.Params = []*string{}
		listItems(v.params, func(item []byte, null bool) {
			if null {
				r.Params = append(r.Params, nil)
				return
			}
			s := string(item)
			r.Params = append(r.Params, &s)
		})
	}
	if v.groups != nil {
		r.Groups = []string{}
		listItems(v.groups, func(item []byte, _ bool) { r.Groups = append(r.Groups, string(item)) })
	}
	return r
}

// hasGroup reports whether the statement names group g.
func (v *stmtView) hasGroup(g string) bool {
	found := false
	listItems(v.groups, func(item []byte, _ bool) { found = found || string(item) == g })
	return found
}
