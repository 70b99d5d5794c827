package audit

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
)

var errSessionEnd = errors.New("session end reached")

// SessionEvents reads one session's records from the journal, in order,
// from its start record to its end record (or the end of the journal for a
// session still open).
func SessionEvents(dir string, sess *sluice.Session) ([]*sluice.Event, error) {
	from := sess.StartSeq
	if from == 0 {
		from = 1
	}
	var out []*sluice.Event
	err := journal.Scan(dir, from, func(r *journal.Record) error {
		if r.Event.Session != sess.ID {
			return nil
		}
		ev := r.Event
		out = append(out, &ev)
		if ev.Type == sluice.EventSessionEnd {
			return errSessionEnd
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSessionEnd) {
		return out, fmt.Errorf("read journal: %w", err)
	}
	return out, nil
}
