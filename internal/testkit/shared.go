package testkit

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

// shared is the one server per test binary handed out by Shared.
var shared struct {
	mu      sync.Mutex
	started bool
	pg      *Postgres
	err     error
}

// Shared returns the test binary's shared server, starting it on first use.
// Tests that use it must not Stop, Kill, Shutdown or Restart it, and should
// keep to databases of their own (CreateDatabase with UniqueName). A start
// failure fails this and every later caller. Pair it with RunMain (or call
// StopShared at the end of TestMain), otherwise the server runs until the
// test binary exits and its temporary directory is left behind. Safe for
// concurrent use.
func Shared(tb testing.TB) *Postgres {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		// Not tb.Context(): the server outlives the test that starts it.
		shared.pg, shared.err = Start(context.Background(), Options{})
	}
	if shared.err != nil {
		tb.Fatalf("testkit: shared server: %v", shared.err)
	}
	return shared.pg
}

// StopShared stops the shared server if Shared started one. Later calls of
// Shared fail.
func StopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.pg == nil {
		return nil
	}
	shared.err = ErrStopped
	return shared.pg.Stop()
}

// RunMain runs the tests, stops the shared server and exits with the tests'
// status (1 if they passed but the server failed to stop). Use it as
//
//	func TestMain(m *testing.M) { testkit.RunMain(m) }
func RunMain(m *testing.M) {
	code := m.Run()
	if err := StopShared(); err != nil {
		fmt.Fprintf(os.Stderr, "testkit: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
