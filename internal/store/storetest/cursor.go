package storetest

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/internal/store"
)

var cursorTests = []test{
	{"ZeroForUnknown", testCursorZero},
	{"OnlyForward", testCursorForward},
	{"ResetIndexKeepsCursors", testCursorResetIndex},
}

func cursorOf(t *testing.T, st store.Store, key string) uint64 {
	t.Helper()
	seq, err := st.ExportCursor(context.Background(), key)
	if err != nil {
		t.Fatalf("ExportCursor(%s): %v", key, err)
	}
	return seq
}

func setCursor(t *testing.T, st store.Store, key string, seq uint64) {
	t.Helper()
	if err := st.SetExportCursor(context.Background(), key, seq); err != nil {
		t.Fatalf("SetExportCursor(%s, %d): %v", key, seq, err)
	}
}

func testCursorZero(t *testing.T, st store.Store) {
	if got := cursorOf(t, st, "azure/journal"); got != 0 {
		t.Fatalf("unknown cursor = %d, want 0", got)
	}
}

func testCursorForward(t *testing.T, st store.Store) {
	setCursor(t, st, "a", 10)
	setCursor(t, st, "b", 3)
	setCursor(t, st, "a", 25)
	setCursor(t, st, "a", 7) // a late writer cannot move it back
	if a, b := cursorOf(t, st, "a"), cursorOf(t, st, "b"); a != 25 || b != 3 {
		t.Fatalf("cursors a=%d b=%d, want 25 and 3", a, b)
	}
}

func testCursorResetIndex(t *testing.T, st store.Store) {
	setCursor(t, st, "s3", 42)
	if err := st.ResetIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := cursorOf(t, st, "s3"); got != 42 {
		t.Fatalf("cursor after ResetIndex = %d, want 42", got)
	}
}
