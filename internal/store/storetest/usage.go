package storetest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

var usageTests = []test{
	{"ZeroForUnknown", testUsageZeroForUnknown},
	{"AddReturnsTotals", testUsageAddReturnsTotals},
	{"Separate", testUsageSeparate},
	{"Concurrent", testUsageConcurrent},
	{"ResetIndexKeepsUsage", testUsageResetIndex},
	{"NegativeRejected", testUsageNegative},
	{"BadDayRejected", testUsageBadDay},
	{"OverflowRejected", testUsageOverflow},
	{"ReservationsCount", testReserveCounts},
	{"ReservationsExpire", testReserveExpires},
	{"ReservationBadInput", testReserveRejectsBadInput},
	{"ReservationsConcurrent", testReserveConcurrent},
}

// today is the suite's reference day for usage: the UTC date of base.
var today = base.UTC().Format(time.DateOnly)

// mustAddUsage adds tokens and returns the new total or fails the test.
func mustAddUsage(t *testing.T, st store.Store, subject, connection, day string, tokens int64) int64 {
	t.Helper()
	total, err := st.AddUsage(context.Background(), subject, connection, day, tokens)
	if err != nil {
		t.Fatalf("AddUsage(%s, %s, %s, %d): %v", subject, connection, day, tokens, err)
	}
	return total
}

// mustUsage returns the usage or fails the test.
func mustUsage(t *testing.T, st store.Store, subject, connection, day string) int64 {
	t.Helper()
	total, err := st.Usage(context.Background(), subject, connection, day)
	if err != nil {
		t.Fatalf("Usage(%s, %s, %s): %v", subject, connection, day, err)
	}
	return total
}

func testUsageZeroForUnknown(t *testing.T, st store.Store) {
	if got := mustUsage(t, st, "alice", "claude", today); got != 0 {
		t.Errorf("Usage on an empty store = %d, want 0", got)
	}
	mustAddUsage(t, st, "alice", "claude", today, 10)
	if got := mustUsage(t, st, "bob", "claude", today); got != 0 {
		t.Errorf("Usage of another subject = %d, want 0", got)
	}
}

func testUsageAddReturnsTotals(t *testing.T, st store.Store) {
	var want int64
	for _, tokens := range []int64{120, 0, 3_000, 1, 1 << 40} {
		want += tokens
		if got := mustAddUsage(t, st, "alice", "claude", today, tokens); got != want {
			t.Errorf("AddUsage(%d) = %d, want the total %d", tokens, got, want)
		}
		if got := mustUsage(t, st, "alice", "claude", today); got != want {
			t.Errorf("Usage after adding %d = %d, want %d", tokens, got, want)
		}
	}
}

func testUsageSeparate(t *testing.T, st store.Store) {
	// Each key gets its own amount; an add to one changes none of the others.
	keys := []struct{ subject, connection, day string }{
		{"alice", "claude", "2025-03-14"},
		{"bob", "claude", "2025-03-14"},
		{"Alice", "claude", "2025-03-14"}, // subjects match exactly
		{"alice", "claude-batch", "2025-03-14"},
		{"alice", "claude", "2025-03-15"},
		{"alice", "claude", "2024-03-14"},
		{"", "claude", "2025-03-14"},
	}
	for i, k := range keys {
		mustAddUsage(t, st, k.subject, k.connection, k.day, int64(i+1)*100)
	}
	mustAddUsage(t, st, "alice", "claude", "2025-03-14", 5)
	for i, k := range keys {
		want := int64(i+1) * 100
		if i == 0 {
			want += 5
		}
		if got := mustUsage(t, st, k.subject, k.connection, k.day); got != want {
			t.Errorf("Usage(%q, %q, %s) = %d, want %d", k.subject, k.connection, k.day, got, want)
		}
	}
}

func testUsageConcurrent(t *testing.T, st store.Store) {
	// Replicas add at once: every add counts, and each sees a total no
	// other add saw, so the totals returned are exactly 1..n.
	const goroutines, adds = 16, 50
	totals := make([][]int64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range adds {
				total, err := st.AddUsage(context.Background(), "alice", "claude", today, 1)
				if err != nil {
					t.Errorf("AddUsage: %v", err)
					return
				}
				totals[g] = append(totals[g], total)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if got := mustUsage(t, st, "alice", "claude", today); got != goroutines*adds {
		t.Fatalf("Usage after %d concurrent adds of 1 = %d", goroutines*adds, got)
	}
	all := slices.Sorted(slices.Values(slices.Concat(totals...)))
	for i, total := range all {
		if total != int64(i+1) {
			t.Fatalf("AddUsage returned the totals %v, want each of 1..%d once", all, goroutines*adds)
		}
	}
}

func testUsageResetIndex(t *testing.T, st store.Store) {
	mustApply(t, st, indexBatch(42))
	mustAddUsage(t, st, "alice", "claude", today, 1234)
	if err := st.ResetIndex(context.Background()); err != nil {
		t.Fatalf("ResetIndex: %v", err)
	}
	if got := mustUsage(t, st, "alice", "claude", today); got != 1234 {
		t.Errorf("Usage after ResetIndex = %d, want 1234", got)
	}
	if got := mustAddUsage(t, st, "alice", "claude", today, 6); got != 1240 {
		t.Errorf("AddUsage after ResetIndex = %d, want 1240", got)
	}
}

func testUsageNegative(t *testing.T, st store.Store) {
	mustAddUsage(t, st, "alice", "claude", today, 100)
	for _, tokens := range []int64{-1, -100, math.MinInt64} {
		if total, err := st.AddUsage(context.Background(), "alice", "claude", today, tokens); err == nil {
			t.Errorf("AddUsage(%d) = %d, nil; want an error", tokens, total)
		}
		if total, err := st.AddUsage(context.Background(), "bob", "claude", today, tokens); err == nil {
			t.Errorf("AddUsage(%d) of a new subject = %d, nil; want an error", tokens, total)
		}
	}
	if got := mustUsage(t, st, "alice", "claude", today); got != 100 {
		t.Errorf("Usage after negative adds = %d, want 100", got)
	}
	if got := mustUsage(t, st, "bob", "claude", today); got != 0 {
		t.Errorf("Usage of a subject with only negative adds = %d, want 0", got)
	}
}

func testUsageBadDay(t *testing.T, st store.Store) {
	ctx := context.Background()
	for _, bad := range []string{"", "2025-3-14", "2025-03-14T00:00:00Z", "14.03.2025", "2025-02-30", " 2025-03-14"} {
		if total, err := st.AddUsage(ctx, "alice", "claude", bad, 1); err == nil {
			t.Errorf("AddUsage on day %q = %d, nil; want an error", bad, total)
		}
		if total, err := st.Usage(ctx, "alice", "claude", bad); err == nil {
			t.Errorf("Usage on day %q = %d, nil; want an error", bad, total)
		}
	}
}

func testUsageOverflow(t *testing.T, st store.Store) {
	mustAddUsage(t, st, "alice", "claude", today, math.MaxInt64-1)
	if got := mustAddUsage(t, st, "alice", "claude", today, 1); got != math.MaxInt64 {
		t.Fatalf("AddUsage up to the largest int64 = %d, want %d", got, int64(math.MaxInt64))
	}
	if total, err := st.AddUsage(context.Background(), "alice", "claude", today, 1); err == nil {
		t.Errorf("AddUsage beyond the largest int64 = %d, nil; want an error", total)
	}
	if got := mustUsage(t, st, "alice", "claude", today); got != math.MaxInt64 {
		t.Errorf("Usage after an overflowing add = %d, want %d", got, int64(math.MaxInt64))
	}
}

// reservation returns a reservation of tokens on alice's claude budget for
// today, held for an hour after base.
func reservation(id string, tokens int64) store.TokenReservation {
	return store.TokenReservation{ID: id, Subject: "alice", Connection: "claude", Day: today, Tokens: tokens,
		Until: base.Add(time.Hour)}
}

// reserve calls ReserveTokens at base or fails the test.
func reserve(t *testing.T, st store.Store, r store.TokenReservation, limit int64) (used, reserved int64, ok bool) {
	t.Helper()
	used, reserved, ok, err := st.ReserveTokens(context.Background(), r, limit, base)
	if err != nil {
		t.Fatalf("ReserveTokens(%+v, %d): %v", r, limit, err)
	}
	return used, reserved, ok
}

func testReserveCounts(t *testing.T, st store.Store) {
	// Reservations count against the budget with its usage, each budget
	// apart, until released.
	mustAddUsage(t, st, "alice", "claude", today, 40)
	if used, reserved, ok := reserve(t, st, reservation("r1", 30), 100); !ok || used != 40 || reserved != 0 {
		t.Fatalf("first reservation: used %d reserved %d ok %v; want 40, 0, admitted", used, reserved, ok)
	}
	if used, reserved, ok := reserve(t, st, reservation("r2", 50), 100); !ok || used != 40 || reserved != 30 {
		t.Fatalf("second reservation: used %d reserved %d ok %v; want 40, 30, admitted", used, reserved, ok)
	}
	// 40 used + 80 reserved: the budget is spoken for.
	if used, reserved, ok := reserve(t, st, reservation("r3", 1), 100); ok || used != 40 || reserved != 80 {
		t.Fatalf("third reservation: used %d reserved %d ok %v; want 40, 80, refused", used, reserved, ok)
	}
	other := reservation("b1", 10)
	other.Subject = "bob"
	if used, reserved, ok := reserve(t, st, other, 100); !ok || used != 0 || reserved != 0 {
		t.Fatalf("another subject's budget: used %d reserved %d ok %v; want 0, 0, admitted", used, reserved, ok)
	}
	if err := st.ReleaseTokens(context.Background(), "r2"); err != nil {
		t.Fatal(err)
	}
	if err := st.ReleaseTokens(context.Background(), "never-reserved"); err != nil {
		t.Fatalf("releasing an unknown reservation: %v", err)
	}
	if used, reserved, ok := reserve(t, st, reservation("r4", 1), 100); !ok || reserved != 30 {
		t.Fatalf("after a release: used %d reserved %d ok %v; want 30 reserved, admitted", used, reserved, ok)
	}
	if got := mustUsage(t, st, "alice", "claude", today); got != 40 {
		t.Errorf("Usage after reservations = %d, want 40: reservations are not usage", got)
	}
}

func testReserveExpires(t *testing.T, st store.Store) {
	// A reservation whose gateway never released it stops counting at
	// its end.
	short := reservation("gone", 90)
	short.Until = base.Add(-time.Second)
	if _, _, ok, err := st.ReserveTokens(context.Background(), short, 100, base.Add(-time.Minute)); err != nil || !ok {
		t.Fatalf("ReserveTokens = %v, %v", ok, err)
	}
	if _, reserved, ok := reserve(t, st, reservation("next", 90), 100); !ok || reserved != 0 {
		t.Fatalf("after the first reservation ended: reserved %d ok %v; want 0, admitted", reserved, ok)
	}
}

func testReserveRejectsBadInput(t *testing.T, st store.Store) {
	ctx := context.Background()
	for _, r := range []store.TokenReservation{
		func() store.TokenReservation { r := reservation("", 1); return r }(),
		func() store.TokenReservation { r := reservation("neg", -1); return r }(),
		func() store.TokenReservation { r := reservation("day", 1); r.Day = "today"; return r }(),
		func() store.TokenReservation { r := reservation("until", 1); r.Until = time.Time{}; return r }(),
	} {
		if _, _, ok, err := st.ReserveTokens(ctx, r, 100, base); err == nil {
			t.Errorf("ReserveTokens(%+v) = %v, nil; want an error", r, ok)
		}
	}
	// A usage near the largest int64 must not wrap around and admit.
	mustAddUsage(t, st, "alice", "claude", today, math.MaxInt64-1)
	if _, _, ok := reserve(t, st, reservation("big", math.MaxInt64), math.MaxInt64); !ok {
		t.Fatal("a reservation below the limit was refused")
	}
	if _, _, ok := reserve(t, st, reservation("wrap", 1), math.MaxInt64); ok {
		t.Error("a reservation beyond the limit was admitted: the sum wrapped around")
	}
}

func testReserveConcurrent(t *testing.T, st store.Store) {
	// Replicas reserve at once: no more are admitted than the budget
	// holds, and no fewer. Each round is a budget of its own.
	const rounds, goroutines, tokens, limit = 6, 24, 10, 100
	for round := range rounds {
		admitted := make(chan string, goroutines)
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				r := reservation(fmt.Sprintf("c%d-%d", round, g), tokens)
				r.Subject = fmt.Sprintf("agent-%d", round)
				_, _, ok, err := st.ReserveTokens(context.Background(), r, limit, base)
				if err != nil {
					t.Errorf("ReserveTokens: %v", err)
				}
				if ok {
					admitted <- r.ID
				}
			})
		}
		wg.Wait()
		close(admitted)
		if n := len(admitted); n != limit/tokens {
			t.Errorf("round %d: %d of %d concurrent reservations of %d tokens admitted under a limit of %d, want %d",
				round, n, goroutines, tokens, limit, limit/tokens)
		}
	}
}
