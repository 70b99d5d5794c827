package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
)

// ErrClosed is returned by Indexer.Record after Close.
var ErrClosed = errors.New("recorder is closed")

// Indexer turns the gate's audit events into state store rows (sessions and
// statements) off the request path: Record appends to a buffer, and one
// goroutine writes the buffer in batches, in order, every linger or when a
// batch is full. Record wakes nobody in the common case, which keeps the
// cost on the request path to a mutex and an append. It is safe for
// concurrent use.
type Indexer struct {
	st    Store
	log   *slog.Logger
	limit int // events buffered before Record blocks

	mu     sync.Mutex
	space  *sync.Cond // signalled when the writer takes the buffer
	buf    []*sluice.Event
	closed bool
	kick   chan struct{} // a full batch is waiting
	done   chan struct{}

	// decisions remembers each allowed request's decision until its result;
	// only the writer goroutine touches it.
	decisions map[string]*sluice.Decision
}

// Batching: the writer takes what is buffered every linger, or at once when
// maxBatch events are waiting, so that many statements share one
// transaction (SQLite's cost per commit is far larger than its cost per row).
const (
	maxBatch = 2048
	linger   = 20 * time.Millisecond
)

// NewIndexer returns an indexer writing to st that buffers up to limit
// events before Record blocks. Start must be called before Record.
func NewIndexer(st Store, log *slog.Logger, limit int) *Indexer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if limit < maxBatch {
		limit = maxBatch
	}
	ix := &Indexer{st: st, log: log, limit: limit, kick: make(chan struct{}, 1),
		done: make(chan struct{}), decisions: map[string]*sluice.Decision{}}
	ix.space = sync.NewCond(&ix.mu)
	return ix
}

// Start launches the writer goroutine.
func (ix *Indexer) Start() { go ix.loop() }

// Record buffers ev. It blocks while the buffer is full (the store is
// behind), which slows requests rather than losing their records.
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
	if len(ix.buf) == maxBatch {
		select {
		case ix.kick <- struct{}{}:
		default:
		}
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
		for batch := taken; len(batch) > 0; {
			n := min(len(batch), maxBatch)
			ix.write(batch[:n])
			batch = batch[n:]
		}
		clear(taken) // let the events be collected
		spare = taken[:0]
		if !open {
			ix.mu.Lock()
			rest := ix.buf
			ix.buf = nil
			ix.mu.Unlock()
			if len(rest) > 0 {
				ix.write(rest)
			}
			return
		}
	}
}

// write applies a batch in order, grouping consecutive statements.
func (ix *Indexer) write(batch []*sluice.Event) {
	ctx := context.Background()
	var stmts []*sluice.StatementRecord
	flush := func() {
		if len(stmts) == 0 {
			return
		}
		if err := ix.st.AddStatements(ctx, stmts); err != nil {
			// A batch is all or nothing: retry one by one so that one bad
			// record (say, of a session whose start failed to index) does
			// not take the others with it.
			for _, r := range stmts {
				if err := ix.st.AddStatements(ctx, []*sluice.StatementRecord{r}); err != nil {
					ix.log.Error("index statement", "statement", r.ID, "err", err)
				}
			}
		}
		stmts = stmts[:0]
	}
	for _, ev := range batch {
		switch ev.Type {
		case sluice.EventSessionStart:
			flush()
			s := &sluice.Session{ID: ev.Session, Connection: ev.Connection, Protocol: ev.Protocol,
				ClientAddr: ev.ClientAddr, StartedAt: ev.Time}
			if ev.Identity != nil {
				s.Identity = *ev.Identity
			}
			if err := ix.st.CreateSession(ctx, s); err != nil {
				ix.log.Error("index session start", "session", ev.Session, "err", err)
			}
		case sluice.EventSessionEnd:
			flush()
			if err := ix.st.EndSession(ctx, ev.Session, ev.Time, ev.Reason); err != nil {
				ix.log.Error("index session end", "session", ev.Session, "err", err)
			}
		case sluice.EventRequest:
			if ev.Decision == nil || ev.Request == nil {
				continue
			}
			if ev.Decision.Action == sluice.Allow {
				ix.decisions[ev.Request.ID] = ev.Decision
				continue
			}
			stmts = append(stmts, statement(ev.Request, ev.Decision, &sluice.Result{Status: sluice.StatusDenied, Error: ev.Decision.Message}))
		case sluice.EventResult:
			if ev.Request == nil || ev.Result == nil {
				continue
			}
			d := ix.decisions[ev.Request.ID]
			delete(ix.decisions, ev.Request.ID)
			if d == nil {
				d = &sluice.Decision{Action: sluice.Allow}
			}
			stmts = append(stmts, statement(ev.Request, d, ev.Result))
		}
	}
	flush()
}

func statement(req *sluice.Request, d *sluice.Decision, res *sluice.Result) *sluice.StatementRecord {
	return &sluice.StatementRecord{
		ID: req.ID, SessionID: req.SessionID, Seq: req.Seq, Text: req.Text, Params: req.Params,
		Class: req.Class, Decision: d.Action, Rule: ruleName(d), StartedAt: req.Time,
		Duration: res.Duration, Rows: res.Rows, Tag: res.Tag, Status: res.Status, Error: res.Error,
	}
}

func ruleName(d *sluice.Decision) string {
	if d.Policy == "" {
		return d.Rule
	}
	return d.Policy + "/" + d.Rule
}
