package authn

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errThrottled is returned by throttle.do when the last call started less
// than the interval ago and none is in flight.
var errThrottled = errors.New("refresh rate limited")

// throttle runs a refresh function at most once per interval. Callers that
// arrive while a call is in flight wait for it and share its result, so a
// burst of callers causes one call, and a stream of callers causes at most
// one call per interval. It is safe for concurrent use.
type throttle struct {
	interval time.Duration
	timeout  time.Duration // bound on one call, independent of any caller
	now      func() time.Time

	mu   sync.Mutex
	last time.Time // start of the last call; zero before the first
	call *flight   // the call in flight, or nil
}

// flight is one call of the refresh function. err is written before done is
// closed and read only after.
type flight struct {
	done chan struct{}
	err  error
}

// do runs fn, joins the call in flight, or returns errThrottled. fn runs on
// its own goroutine with a context that is not canceled with ctx (other
// callers may be waiting for it) but ends after the throttle's timeout; do
// itself returns early with ctx.Err() when ctx ends first.
func (t *throttle) do(ctx context.Context, fn func(context.Context) error) error {
	t.mu.Lock()
	c := t.call
	if c == nil {
		now := t.now()
		if !t.last.IsZero() && now.Sub(t.last) < t.interval && now.Sub(t.last) >= 0 {
			t.mu.Unlock()
			return errThrottled
		}
		c = &flight{done: make(chan struct{})}
		t.call, t.last = c, now
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.timeout)
		go func() {
			defer cancel()
			c.err = fn(fctx)
			t.mu.Lock()
			t.call = nil
			t.mu.Unlock()
			close(c.done)
		}()
	}
	t.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
