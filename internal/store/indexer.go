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
// statements) off the request path: Record queues, one goroutine writes in
// batches, in order. It is safe for concurrent use.
type Indexer struct {
	st  Store
	log *slog.Logger
	ch  chan *sluice.Event

	mu     sync.RWMutex // held for reading while sending on ch, for writing to close it
	closed bool
	done   chan struct{}

	// decisions remembers each allowed request's decision until its result.
	decisions map[string]*sluice.Decision
}

// NewIndexer returns an indexer writing to st with room for queue events.
// Start must be called before Record.
func NewIndexer(st Store, log *slog.Logger, queue int) *Indexer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if queue < 1 {
		queue = 4096
	}
	return &Indexer{st: st, log: log, ch: make(chan *sluice.Event, queue),
		done: make(chan struct{}), decisions: map[string]*sluice.Decision{}}
}

// Start launches the writer goroutine.
func (ix *Indexer) Start() { go ix.loop() }

// Record queues ev. It blocks while the queue is full, until ctx ends.
func (ix *Indexer) Record(ctx context.Context, ev *sluice.Event) error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return ErrClosed
	}
	select {
	case ix.ch <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes everything queued and stops. It is idempotent.
func (ix *Indexer) Close() error {
	ix.mu.Lock()
	if !ix.closed {
		ix.closed = true
		close(ix.ch)
	}
	ix.mu.Unlock()
	<-ix.done
	return nil
}

// Batching: the writer waits up to linger after the first event of a batch
// so that many statements share one transaction (SQLite's cost per commit is
// far larger than its cost per row).
const (
	maxBatch = 2048
	linger   = 20 * time.Millisecond
)

func (ix *Indexer) loop() {
	defer close(ix.done)
	batch := make([]*sluice.Event, 0, maxBatch)
	timer := time.NewTimer(linger)
	timer.Stop()
	for ev := range ix.ch {
		batch = append(batch[:0], ev)
		timer.Reset(linger)
	fill:
		for len(batch) < maxBatch {
			select {
			case ev, ok := <-ix.ch:
				if !ok {
					break fill
				}
				batch = append(batch, ev)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		ix.write(batch)
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
