package testkit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/testkit"
)

func TestLockFileExcludes(t *testing.T) {
	name := filepath.Join(t.TempDir(), ".lock")
	unlock, err := testkit.LockFile(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file, so a second open in this
	// process contends like another test binary would.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := testkit.LockFile(ctx, name); err == nil {
		t.Fatal("second lock taken while the first is held")
	}
	got := make(chan error, 1)
	go func() {
		u, err := testkit.LockFile(t.Context(), name)
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter did not get the lock after unlock")
	}
}
