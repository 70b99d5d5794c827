package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/internal/journal"
)

// Retain removes journal segments whose newest record is older than keep,
// as of now. What remains still verifies from the signed checkpoint at the
// cut; the newest segment is never removed.
func Retain(dir string, keep time.Duration, now time.Time) (int, error) {
	cutoff := now.Add(-keep)
	return journal.Retain(dir, func(_, last *journal.Record) bool { return !last.Time.Before(cutoff) })
}

// RetainEvery applies Retain every interval until ctx ends.
func RetainEvery(ctx context.Context, dir string, keep, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := Retain(dir, keep, time.Now()); err != nil {
			log.Error("journal retention", "err", err)
		} else if n > 0 {
			log.Info("journal retention removed old segments", "segments", n, "older_than", keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
