package export

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Exporter ships journal records somewhere: an Archive or Events.
type Exporter interface {
	// Resume returns the highest sequence number the destination is known
	// to hold, so that a cursor lost in a crash does not ship twice.
	Resume(ctx context.Context) (uint64, error)
	// Export ships records from seq from on, at most through to, and
	// returns the last sequence number shipped (from-1 when none).
	Export(ctx context.Context, from, to uint64) (uint64, error)
	Close() error
}

// Cursors keeps each sink's cursor durably (the state store).
type Cursors interface {
	ExportCursor(ctx context.Context, key string) (uint64, error)
	SetExportCursor(ctx context.Context, key string, seq uint64) error
}

// Defaults of a Runner.
const (
	DefaultInterval   = time.Second
	DefaultLagWarning = 10000
	maxBackoff        = time.Minute
)

// Runner runs one sink: it ships what the journal has beyond the sink's
// cursor, every Interval, retrying with backoff while the destination
// fails. It reads the journal's files only, so the requests that write the
// journal never wait for it.
type Runner struct {
	Name string
	// Key identifies the cursor in Cursors: the sink and the journal.
	Key      string
	Exporter Exporter
	Cursors  Cursors
	// Size returns the number of records in the journal.
	Size     func() uint64
	Interval time.Duration
	// LagWarning is the lag, in records, past which Health warns.
	LagWarning uint64
	// MinBackoff is the first retry's delay (default 1s); each failure
	// doubles it, up to a minute.
	MinBackoff time.Duration
	Log        *slog.Logger

	cursor   atomic.Uint64
	errors   atomic.Uint64
	lastErr  atomic.Pointer[string]
	wake     chan struct{}
	initOnce sync.Once
}

func (r *Runner) init() {
	r.initOnce.Do(func() {
		if r.Interval <= 0 {
			r.Interval = DefaultInterval
		}
		if r.MinBackoff <= 0 {
			r.MinBackoff = time.Second
		}
		if r.LagWarning == 0 {
			r.LagWarning = DefaultLagWarning
		}
		if r.Log == nil {
			r.Log = slog.New(slog.DiscardHandler)
		}
		r.wake = make(chan struct{}, 1)
	})
}

// Cursor returns the last sequence number shipped.
func (r *Runner) Cursor() uint64 { return r.cursor.Load() }

// Lag returns how many journal records are not shipped yet.
func (r *Runner) Lag() uint64 {
	size, cur := r.Size(), r.cursor.Load()
	if size < cur {
		return 0
	}
	return size - cur
}

// Errors returns how many export attempts failed.
func (r *Runner) Errors() uint64 { return r.errors.Load() }

// Health returns a warning when the sink lags past LagWarning, "" otherwise.
func (r *Runner) Health() string {
	r.init()
	lag := r.Lag()
	if lag <= r.LagWarning {
		return ""
	}
	msg := "export sink " + r.Name + " lags " + strconv.FormatUint(lag, 10) + " records"
	if e := r.lastErr.Load(); e != nil {
		msg += " (last error: " + *e + ")"
	}
	return msg
}

// Wake asks the runner to look at the journal now.
func (r *Runner) Wake() {
	r.init()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run ships until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	r.init()
	backoff := time.Duration(0)
	resumed := false
	for {
		if backoff > 0 {
			if !sleep(ctx, jitter(backoff)) {
				return
			}
		}
		if !resumed {
			if err := r.resume(ctx); err != nil {
				backoff = r.failed(ctx, "resume", err, backoff)
				continue
			}
			resumed = true
		}
		more, err := r.step(ctx)
		if err != nil {
			backoff = r.failed(ctx, "export", err, backoff)
			continue
		}
		backoff = 0
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-time.After(r.Interval):
		}
	}
}

// resume sets the cursor from the store and the destination.
func (r *Runner) resume(ctx context.Context) error {
	stored, err := r.Cursors.ExportCursor(ctx, r.Key)
	if err != nil {
		return err
	}
	held, err := r.Exporter.Resume(ctx)
	if err != nil {
		return err
	}
	r.cursor.Store(max(stored, held))
	return nil
}

// step ships one round and reports whether there is more to ship now.
func (r *Runner) step(ctx context.Context) (bool, error) {
	cur, size := r.cursor.Load(), r.Size()
	if size <= cur {
		return false, nil
	}
	last, err := r.Exporter.Export(ctx, cur+1, size)
	if last > cur {
		r.cursor.Store(last)
		if serr := r.Cursors.SetExportCursor(context.WithoutCancel(ctx), r.Key, last); serr != nil {
			r.Log.Warn("save export cursor", "sink", r.Name, "err", serr)
		}
	}
	if err != nil {
		return false, err
	}
	r.lastErr.Store(nil)
	return last > cur && last < size, nil
}

// failed counts and logs a failure and returns the next backoff.
func (r *Runner) failed(ctx context.Context, what string, err error, backoff time.Duration) time.Duration {
	if ctx.Err() != nil {
		return backoff
	}
	r.errors.Add(1)
	msg := err.Error()
	r.lastErr.Store(&msg)
	next := min(max(2*backoff, r.MinBackoff), maxBackoff)
	r.Log.Warn("export failed; retrying", "sink", r.Name, "step", what, "cursor", r.cursor.Load(), "retry_in", next, "err", err)
	return next
}

// jitter spreads retries of many gateways over ±20%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
