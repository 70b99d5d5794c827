package authn

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	th := &throttle{interval: time.Minute, timeout: time.Minute, now: clock}

	errFetch := errors.New("fetch failed")
	var calls atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	fn := func(ctx context.Context) error {
		if calls.Add(1) == 1 {
			close(started)
			<-release
		}
		return errFetch
	}

	// A caller that gives up while the call is in flight returns at once;
	// the call goes on for the others.
	ctx, cancel := context.WithCancel(t.Context())
	quit := make(chan error)
	go func() { quit <- th.do(ctx, fn) }()
	<-started
	cancel()
	if err := <-quit; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled caller got %v", err)
	}

	// Callers arriving while it is in flight share it (or, if they arrive
	// after it ended, are throttled); none starts another.
	var wg sync.WaitGroup
	results := make([]error, 20)
	for i := range results {
		wg.Go(func() { results[i] = th.do(t.Context(), fn) })
	}
	close(release)
	wg.Wait()
	for _, err := range results {
		if !errors.Is(err, errFetch) && !errors.Is(err, errThrottled) {
			t.Fatalf("concurrent caller got %v", err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}

	// Within the interval: throttled. After it: runs again.
	if err := th.do(t.Context(), fn); !errors.Is(err, errThrottled) {
		t.Fatalf("within the interval: %v", err)
	}
	advance(time.Minute)
	if err := th.do(t.Context(), fn); !errors.Is(err, errFetch) {
		t.Fatalf("after the interval: %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
}
