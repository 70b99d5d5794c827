package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
)

// ErrClosed is returned by Indexer.Record after Close.
var ErrClosed = errors.New("recorder is closed")

// IndexStore is the subset of Store that the Indexer uses.
type IndexStore interface {
	ApplyIndex(ctx context.Context, b *IndexBatch) error
}

var _ IndexStore = (Store)(nil)

// Indexer keeps the state store's index of the audit journal up to date off
// the request path: Record appends an event, which already carries its
// journal Seq, to a buffer, and one goroutine turns the buffer into
// IndexBatch updates (see NewIndexBatch), in order, every linger or when a
// batch is full. Record wakes nobody in the common case, which keeps the
// cost on the request path to a mutex and an append. It is safe for
// concurrent use.
//
// A failed write is logged; the indexer then applies the batch's records
// one at a time, so that one bad record loses only itself, and from then on
// stops advancing the indexed position. IndexedSeq thus stays at a point up
// to which the index is complete, and replaying the journal from there
// (ApplyIndex is idempotent) fills the hole.
type Indexer struct {
	st    IndexStore
	log   *slog.Logger
	limit int // events buffered before Record blocks

	mu       sync.Mutex
	space    *sync.Cond // signalled when the writer takes the buffer
	buf      []*sluice.Event
	recorded uint64        // events accepted by Record, ever
	written  uint64        // events the writer has finished with, ever
	progress chan struct{} // closed and replaced whenever written grows
	failFrom uint64        // the position of the first event of the first failed write
	failErr  error         // the first failed write's error, nil if none
	closed   bool
	kick     chan struct{} // a full batch or a Flush is waiting
	done     chan struct{}

	// Only the writer goroutine touches these.
	pending Pending
	stalled bool // a write failed: leave the indexed position where it is
}

// Batching: the writer takes what is buffered every linger, or at once when
// maxBatch events are waiting, so that many statements share one
// transaction (SQLite's cost per commit is far larger than its cost per row).
const (
	maxBatch = 2048
	linger   = 20 * time.Millisecond
	// writeTimeout bounds one ApplyIndex call.
	writeTimeout = time.Minute
)

// NewIndexer returns an indexer writing to st that buffers up to limit
// events before Record blocks. Start must be called before Record.
func NewIndexer(st IndexStore, log *slog.Logger, limit int) *Indexer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if limit < maxBatch {
		limit = maxBatch
	}
	ix := &Indexer{st: st, log: log, limit: limit, kick: make(chan struct{}, 1),
		done: make(chan struct{}), progress: make(chan struct{})}
	ix.space = sync.NewCond(&ix.mu)
	return ix
}

// Start launches the writer goroutine.
func (ix *Indexer) Start() { go ix.loop() }

// Record buffers ev, which must not be modified afterwards. It blocks while
// the buffer is full (the store is behind), which slows requests rather than
// losing their records. After Close it returns ErrClosed.
func (ix *Indexer) Record(_ context.Context, ev *sluice.Event) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for len(ix.buf) >= ix.limit && !ix.closed {
		ix.space.Wait()
	}
	if ix.closed {
		return ErrClosed
	}
	ix.buf = append(ix.buf, ev)
	ix.recorded++
	if len(ix.buf) == maxBatch {
		ix.wake()
	}
	return nil
}

// wake makes the writer take the buffer now rather than at the next linger.
// The caller holds mu, and the indexer is not closed.
func (ix *Indexer) wake() {
	select {
	case ix.kick <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Flush returns once every event recorded before the call has been written
// to the store, or ctx is done. It returns an error if any of those events
// could not be applied (the index then has a hole that only a replay of the
// journal fills), or ctx's error.
func (ix *Indexer) Flush(ctx context.Context) error {
	ix.mu.Lock()
	target := ix.recorded
	if ix.written < target && !ix.closed {
		ix.wake()
	}
	for ix.written < target {
		progress := ix.progress
		ix.mu.Unlock()
		select {
		case <-progress:
		case <-ctx.Done():
			return fmt.Errorf("flush index: %w", ctx.Err())
		}
		ix.mu.Lock()
	}
	defer ix.mu.Unlock()
	if ix.failErr != nil && ix.failFrom < target {
		return fmt.Errorf("flush index: events recorded since #%d are not all indexed: %w", ix.failFrom+1, ix.failErr)
	}
	return nil
}

// Close writes everything buffered and stops. It is idempotent.
func (ix *Indexer) Close() error {
	ix.mu.Lock()
	if !ix.closed {
		ix.closed = true
		close(ix.kick)
		ix.space.Broadcast()
	}
	ix.mu.Unlock()
	<-ix.done
	return nil
}

func (ix *Indexer) loop() {
	defer close(ix.done)
	tick := time.NewTicker(linger)
	defer tick.Stop()
	var spare []*sluice.Event
	for {
		open := true
		select {
		case <-tick.C:
		case _, open = <-ix.kick:
		}
		ix.mu.Lock()
		taken := ix.buf
		ix.buf = spare[:0]
		ix.space.Broadcast()
		ix.mu.Unlock()
		ix.writeAll(taken)
		clear(taken) // let the events be collected
		spare = taken[:0]
		if !open {
			// Record refuses events once closed is set, so what came in
			// since the buffer was taken is all there is.
			ix.mu.Lock()
			rest := ix.buf
			ix.buf = nil
			ix.mu.Unlock()
			ix.writeAll(rest)
			return
		}
	}
}

// writeAll writes events in batches of at most maxBatch, in order.
func (ix *Indexer) writeAll(events []*sluice.Event) {
	for len(events) > 0 {
		n := min(len(events), maxBatch)
		ix.write(events[:n])
		events = events[n:]
	}
}

// write applies one batch of events and reports the progress to Flush.
func (ix *Indexer) write(events []*sluice.Event) {
	b := NewIndexBatch(events, &ix.pending)
	if ix.stalled {
		b.Seq = 0
	}
	err := ix.apply(b)
	if err != nil {
		ix.stalled = true
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err != nil && ix.failErr == nil {
		ix.failFrom, ix.failErr = ix.written, err
	}
	ix.written += uint64(len(events))
	close(ix.progress)
	ix.progress = make(chan struct{})
}

// apply applies b. If that fails, it applies b's records one at a time, so
// that a bad record does not take the others with it, and reports the first
// failure; b's position is applied only if every record was.
func (ix *Indexer) apply(b *IndexBatch) error {
	err := ix.applyOne(b)
	if err == nil {
		return nil
	}
	ix.log.Error("index batch; retrying its records one at a time", "seq", b.Seq, "err", err)
	var first error
	fail := func(err error, attrs ...any) {
		ix.log.Error("index record", append(attrs, "err", err)...)
		if first == nil {
			first = err
		}
	}
	for _, s := range b.Sessions {
		if err := ix.applyOne(&IndexBatch{Sessions: []*sluice.Session{s}}); err != nil {
			fail(err, "session", s.ID)
		}
	}
	for _, e := range b.Ends {
		if err := ix.applyOne(&IndexBatch{Ends: []SessionEnd{e}}); err != nil {
			fail(err, "session_end", e.ID)
		}
	}
	for _, r := range b.Statements {
		if err := ix.applyOne(&IndexBatch{Statements: []*sluice.StatementRecord{r}}); err != nil {
			fail(err, "statement", r.ID)
		}
	}
	if first == nil && b.Seq > 0 {
		if err := ix.applyOne(&IndexBatch{Seq: b.Seq}); err != nil {
			fail(err, "seq", b.Seq)
		}
	}
	return first
}

// applyOne calls ApplyIndex with a deadline.
func (ix *Indexer) applyOne(b *IndexBatch) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return ix.st.ApplyIndex(ctx, b)
}

// Pending carries what NewIndexBatch needs from one batch to the next: the
// allowed requests whose results it has not seen yet. The zero value is
// empty and ready to use. It is not safe for concurrent use.
//
// It is one flat map rather than a map per session: a busy gateway adds
// and takes a request for every statement, and a per-session map would be
// made and dropped again for nearly each of them.
type Pending struct {
	reqs map[pendingKey]pendingRequest
	// ended and endedBefore keep the requests of sessions that ended
	// before their results came (a front door that closes its sessions
	// while their last requests finish): a result names its request and
	// needs its record. When ended grows past maxEnded it becomes
	// endedBefore, and what endedBefore held is forgotten.
	ended, endedBefore map[pendingKey]pendingRequest
}

// maxEnded bounds the requests Pending keeps for sessions that ended, to
// between maxEnded and twice as many: results come after their session's
// end only when a front door closes its sessions (at shutdown), and a
// request holds up to its captured body (capture_bytes).
const maxEnded = 512

// pendingKey names a request within its session.
type pendingKey struct{ session, id string }

// pendingRequest is what a result's statement takes from its request's record.
type pendingRequest struct {
	req      *sluice.Request
	seq      uint64 // the request record's journal position
	rule     string
	decision sluice.Action // allow, or review for a held request
	review   string        // the review that held it
}

// Len returns the number of requests of open sessions waiting for their
// results.
func (p *Pending) Len() int { return len(p.reqs) }

// NewIndexBatch turns events, in journal order, into one index update. It
// does no I/O, so that the gateway's Indexer and a rebuild of the index from
// a journal scan (`sluice audit reindex`) index events the same way:
//
//   - a session start becomes a session, StartSeq its Seq;
//   - a session end becomes an end;
//   - a request with a decision other than allow becomes a statement with
//     status denied, the decision's message as its error, RequestSeq its Seq
//     and ResultSeq 0;
//   - an allowed request becomes nothing yet: pending remembers it, and its
//     result becomes a statement with RequestSeq the request's Seq,
//     ResultSeq the result's Seq, and the rule that allowed it;
//   - so does a request held for review, and the hold's outcome, when it
//     is not an approval, becomes a statement with status denied, or held
//     when the request was left for its review (`sluice run`);
//   - other events (auth failures, decisions, reviews) index nothing.
//
// Statements name the requester (Subject, Groups, Connection) as the request
// does. The batch's Seq is the largest Seq among events, whether or not they
// produced a row. pending carries allowed requests across calls; pass the
// same one to consecutive calls. A session's end sets its requests still
// pending aside, for results that come after it (a bounded number). A
// result whose request was not seen (a rebuild that starts after it, or a
// nil pending) gets no rule, and only what the result says of its request:
// the request as journal.Requests joined it, or its ID.
func NewIndexBatch(events []*sluice.Event, pending *Pending) *IndexBatch {
	b := &IndexBatch{}
	for _, ev := range events {
		if ev == nil {
			continue
		}
		b.Seq = max(b.Seq, ev.Seq)
		switch ev.Type {
		case sluice.EventSessionStart:
			if ev.Session == "" {
				continue
			}
			s := &sluice.Session{ID: ev.Session, Connection: ev.Connection, Protocol: ev.Protocol,
				ClientAddr: ev.ClientAddr, StartedAt: ev.Time, StartSeq: ev.Seq}
			if ev.Identity != nil {
				s.Identity = *ev.Identity
			}
			b.Sessions = append(b.Sessions, s)
		case sluice.EventSessionEnd:
			if ev.Session == "" {
				continue
			}
			b.Ends = append(b.Ends, SessionEnd{ID: ev.Session, At: ev.Time, Reason: ev.Reason})
			pending.endSession(ev.Session)
		case sluice.EventRequest:
			if ev.Request == nil || ev.Decision == nil {
				continue
			}
			if ev.Decision.Action == sluice.ActionAllow || ev.Decision.Action == sluice.ActionReview {
				// Allowed now, or held for review: the row is written with
				// the result, or with the hold's outcome if it is refused.
				pending.add(sessionOf(ev), pendingRequest{req: ev.Request, seq: ev.Seq, rule: ruleName(ev.Decision),
					decision: ev.Decision.Action, review: ev.Decision.ReviewID})
				continue
			}
			r := statement(ev.Request, &sluice.Result{Status: sluice.StatusDenied, Error: ev.Decision.Message})
			r.Decision, r.Rule, r.RequestSeq = ev.Decision.Action, ruleName(ev.Decision), ev.Seq
			b.Statements = append(b.Statements, r)
		case sluice.EventDecision:
			// The outcome of a review hold; an approval waits for the result.
			if ev.Request == nil || ev.Decision == nil || ev.Decision.Action == sluice.ActionAllow {
				continue
			}
			p, ok := pending.take(sessionOf(ev), ev.Request.ID)
			if !ok {
				p = pendingRequest{req: ev.Request, rule: ruleName(ev.Decision), decision: sluice.ActionReview}
			}
			status := sluice.StatusDenied
			if ev.Decision.Action == sluice.ActionReview {
				status = sluice.StatusHeld // left for review (sluice run), not refused
			}
			r := statement(p.req, &sluice.Result{Status: status, Error: ev.Decision.Message})
			r.Decision, r.Rule, r.RequestSeq, r.ReviewID = p.decision, p.rule, p.seq, ev.Decision.ReviewID
			b.Statements = append(b.Statements, r)
		case sluice.EventResult:
			id := ev.RequestID()
			if id == "" || ev.Result == nil {
				continue
			}
			p, ok := pending.take(sessionOf(ev), id)
			req := p.req // the request's own record
			if !ok {
				req, p.seq = ev.Request, ev.RequestSeq
				if req == nil {
					req = &sluice.Request{ID: id, SessionID: ev.Session}
				}
			}
			r := statement(req, ev.Result)
			r.Decision, r.Rule, r.RequestSeq, r.ResultSeq, r.ReviewID = sluice.ActionAllow, p.rule, p.seq, ev.Seq, p.review
			if p.decision != "" {
				r.Decision = p.decision
			}
			b.Statements = append(b.Statements, r)
		}
	}
	return b
}

// sessionOf returns the session of a request or result event.
func sessionOf(ev *sluice.Event) string {
	if ev.Request != nil && ev.Request.SessionID != "" {
		return ev.Request.SessionID
	}
	return ev.Session
}

func (p *Pending) add(session string, r pendingRequest) {
	if p == nil {
		return
	}
	if p.reqs == nil {
		p.reqs = make(map[pendingKey]pendingRequest)
	}
	p.reqs[pendingKey{session, r.req.ID}] = r
}

func (p *Pending) take(session, id string) (pendingRequest, bool) {
	if p == nil {
		return pendingRequest{}, false
	}
	k := pendingKey{session, id}
	for _, m := range []map[pendingKey]pendingRequest{p.reqs, p.ended, p.endedBefore} {
		if r, ok := m[k]; ok {
			delete(m, k)
			return r, true
		}
	}
	return pendingRequest{}, false
}

// endSession sets aside the pending requests of a session that ended,
// for results that come after the end, within maxEnded. It walks every
// pending request, which are few: those whose results are still on their
// way and those held for review.
func (p *Pending) endSession(session string) {
	if p == nil {
		return
	}
	for k, r := range p.reqs {
		if k.session != session {
			continue
		}
		delete(p.reqs, k)
		if len(p.ended) >= maxEnded {
			p.endedBefore, p.ended = p.ended, nil
		}
		if p.ended == nil {
			p.ended = make(map[pendingKey]pendingRequest)
		}
		p.ended[k] = r
	}
}

// statement returns the statement record of req with the outcome res.
func statement(req *sluice.Request, res *sluice.Result) *sluice.StatementRecord {
	return &sluice.StatementRecord{
		ID: req.ID, SessionID: req.SessionID, Seq: req.Seq, Text: req.Text, Params: req.Params,
		Class: req.Class, StartedAt: req.Time, Duration: res.Duration, Rows: res.Rows, Tag: res.Tag,
		Status: res.Status, Error: res.Error, Subject: req.Subject, Groups: req.Groups,
		Connection: req.Connection,
	}
}

func ruleName(d *sluice.Decision) string {
	if d.Policy == "" {
		return d.Rule
	}
	return d.Policy + "/" + d.Rule
}
