package export

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/internal/journal"
)

// DefaultBatch is how many records an event sink gets per Send.
const DefaultBatch = 500

// errBatchFull stops a scan once a batch is full.
var errBatchFull = errors.New("batch full")

// Events ships journal records one by one to an EventSink, formatted (OCSF
// or raw JSON), in batches.
type Events struct {
	Sink   EventSink
	Dir    string
	Format func(*journal.Record) ([]byte, error)
	// Batch caps the records of one Send; default DefaultBatch.
	Batch int
	// Join gives Format each result's Event with its request
	// (journal.Requests), for formats whose events stand alone (OCSF).
	// Without it Format gets the records as written.
	Join bool

	reqs    *journal.Requests
	reqsEnd uint64 // the last record reqs saw
}

// Resume returns 0: a SIEM cannot say what it holds, so the cursor alone
// says where to go on.
func (e *Events) Resume(context.Context) (uint64, error) { return 0, nil }

// Export sends one batch of the records from seq from through to and
// returns the last sequence number sent (from-1 when none).
func (e *Events) Export(ctx context.Context, from, to uint64) (uint64, error) {
	batch := e.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	var items []Item
	if e.Join && (e.reqs == nil || e.reqsEnd != from-1) {
		e.reqs = journal.NewRequests(e.Dir) // a new start, or a batch sent again
	}
	err := journal.Scan(e.Dir, from, func(r *journal.Record) error {
		if r.Seq > to {
			return errBatchFull
		}
		if e.Join {
			if err := e.reqs.Join(&r.Event); err != nil {
				return fmt.Errorf("record %d: %w", r.Seq, err)
			}
			e.reqsEnd = r.Seq
		}
		data, err := e.Format(r)
		if err != nil {
			return fmt.Errorf("format record %d: %w", r.Seq, err)
		}
		items = append(items, Item{Seq: r.Seq, Data: data})
		if len(items) >= batch {
			return errBatchFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errBatchFull) {
		return from - 1, err
	}
	if len(items) == 0 {
		return from - 1, nil
	}
	if err := e.Sink.Send(ctx, items); err != nil {
		return from - 1, err
	}
	return items[len(items)-1].Seq, nil
}

// Close closes the sink.
func (e *Events) Close() error { return e.Sink.Close() }
