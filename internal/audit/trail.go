// Package audit joins the tamper-evident journal and its search index into
// the one recorder the gate writes to, keeps the index caught up with the
// journal, and applies retention.
package audit

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/store"
)

// Trail is the gate's recorder: each event goes to the journal first
// (write-ahead: the gate forwards a request only once Record returned nil)
// and then to the index, which is derived from the journal and may lag it.
// It is safe for concurrent use.
type Trail struct {
	j     *journal.Journal
	index *store.Indexer
	log   *slog.Logger
}

// NewTrail returns a trail over an open journal and a started indexer.
func NewTrail(j *journal.Journal, index *store.Indexer, log *slog.Logger) *Trail {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Trail{j: j, index: index, log: log}
}

// Record appends ev to the journal, durably unless it is a result (a
// result is written with the next group write, within milliseconds; the
// request it belongs to was durable before it was forwarded), then indexes
// it. Only a journal failure is an error.
func (t *Trail) Record(ctx context.Context, ev *sluice.Event) error {
	if _, err := t.j.Append(ctx, ev, ev.Type != sluice.EventResult); err != nil {
		return err
	}
	if err := t.index.Record(ctx, ev); err != nil {
		t.log.Warn("index event", "seq", ev.Seq, "err", err)
	}
	return nil
}

// Healthy reports nil when the journal can write.
func (t *Trail) Healthy() error { return t.j.Err() }

// catchUpWindow is how far before the index's position catch-up starts
// reading, so that results whose requests were indexed just before a crash
// find their request again (re-applied records are ignored); a result
// whose request is older than that is joined to it from the journal.
const catchUpWindow = 10000

// CatchUp indexes the journal records the index has not seen, for example
// after a crash between a journal write and its indexing. Run it before the
// gateway takes requests.
func CatchUp(ctx context.Context, dir string, st store.Store, index *store.Indexer) (int, error) {
	pos, err := st.IndexedSeq(ctx)
	if err != nil {
		return 0, fmt.Errorf("index position: %w", err)
	}
	from := uint64(1)
	if pos > catchUpWindow {
		from = pos - catchUpWindow
	}
	n := 0
	reqs := journal.NewRequests(dir)
	err = journal.Scan(dir, from, func(r *journal.Record) error {
		ev := r.Event
		n++
		if err := reqs.Join(&ev); err != nil {
			return err
		}
		return index.Record(ctx, &ev)
	})
	if err != nil {
		return n, fmt.Errorf("read journal: %w", err)
	}
	return n, index.Flush(ctx)
}

// Reindex rebuilds the index from the whole journal.
func Reindex(ctx context.Context, dir string, st store.Store, log *slog.Logger) (int, error) {
	if err := st.ResetIndex(ctx); err != nil {
		return 0, fmt.Errorf("reset index: %w", err)
	}
	ix := store.NewIndexer(st, log, 0)
	ix.Start()
	n, err := CatchUp(ctx, dir, st, ix)
	if cerr := ix.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return n, err
}
