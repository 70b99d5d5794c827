// Package storetest is the conformance suite for store.Store backends. Every
// backend runs it from its own tests with a function that opens a fresh,
// empty store, so that sqlite and postgres are held to one contract.
package storetest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

// Run runs the conformance suite. open is called once per subtest and must
// return a new, empty store; it should register a cleanup that closes the
// store, and the suite may close the store itself first, so Close must be
// idempotent.
//
// Times are compared in UTC and truncated to microseconds, the precision of
// PostgreSQL's timestamptz. Empty and nil slices and maps (groups, params,
// a review's reasons, decisions and tickets) are treated as equal; a nil
// element inside params (a NULL parameter) is not. Invalid
// UTF-8 and NUL bytes may come back as stored or replaced with U+FFFD.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Session", sessionTests},
		{"Statement", statementTests},
		{"Token", tokenTests},
		{"Index", indexTests},
		{"Search", searchTests},
		{"Review", reviewTests},
		{"Usage", usageTests},
		{"Cursor", cursorTests},
		{"Store", storeTests},
	}
	for _, g := range groups {
		for _, tt := range g.tests {
			t.Run(g.name+"/"+tt.name, func(t *testing.T) {
				tt.fn(t, open(t))
			})
		}
	}
}

// test is one conformance check, run against a fresh store.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// zone is a fixed non-UTC zone for inputs, so that a backend that keeps the
// caller's zone or mixes up local time and UTC is caught.
var zone = time.FixedZone("UTC+05:30", 5*3600+30*60)

// base is the suite's reference time. It has nanoseconds below the
// microsecond so that the comparisons prove truncation, not luck.
var base = time.Date(2025, time.March, 14, 15, 9, 26, 535_897_932, zone)

// at returns base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

// norm returns tm as the suite compares it: UTC, truncated to microseconds,
// and the zero time unchanged.
func norm(tm time.Time) time.Time {
	if tm.IsZero() {
		return time.Time{}
	}
	return tm.UTC().Truncate(time.Microsecond)
}

// checkUTC fails the test if a non-zero time returned by the store is not in UTC.
func checkUTC(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if !tm.IsZero() && tm.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, tm.Location())
	}
}

// nilIfEmpty returns nil for an empty slice.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// show renders v for a failure message; JSON dereferences the pointers in params.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func normSession(s sluice.Session) sluice.Session {
	s.Identity.Groups = nilIfEmpty(s.Identity.Groups)
	s.Identity.ExpiresAt = norm(s.Identity.ExpiresAt)
	s.StartedAt = norm(s.StartedAt)
	s.EndedAt = norm(s.EndedAt)
	return s
}

// equalSession fails the test unless got matches want field by field.
func equalSession(t *testing.T, got, want *sluice.Session) {
	t.Helper()
	if got == nil {
		t.Fatalf("got nil session, want %s", show(want))
	}
	checkUTC(t, "StartedAt", got.StartedAt)
	checkUTC(t, "EndedAt", got.EndedAt)
	checkUTC(t, "Identity.ExpiresAt", got.Identity.ExpiresAt)
	g, w := normSession(*got), normSession(*want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("session mismatch\n got: %s\nwant: %s", show(g), show(w))
	}
}

func normStatement(r sluice.StatementRecord) sluice.StatementRecord {
	r.Params = nilIfEmpty(r.Params)
	r.Groups = nilIfEmpty(r.Groups)
	r.StartedAt = norm(r.StartedAt)
	return r
}

// equalStatements fails the test unless got matches want element by element.
func equalStatements(t *testing.T, got, want []*sluice.StatementRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d statements, want %d\n got: %s\nwant: %s", len(got), len(want), show(got), show(want))
	}
	for i := range want {
		checkUTC(t, "StartedAt", got[i].StartedAt)
		g, w := normStatement(*got[i]), normStatement(*want[i])
		if !reflect.DeepEqual(g, w) {
			t.Errorf("statement %d mismatch\n got: %s\nwant: %s", i, show(g), show(w))
		}
	}
}

func normToken(tok sluice.ServiceToken) sluice.ServiceToken {
	tok.Groups = nilIfEmpty(tok.Groups)
	tok.IssuedAt = norm(tok.IssuedAt)
	tok.ExpiresAt = norm(tok.ExpiresAt)
	tok.RevokedAt = norm(tok.RevokedAt)
	return tok
}

// equalToken fails the test unless got matches want field by field.
func equalToken(t *testing.T, got, want *sluice.ServiceToken) {
	t.Helper()
	if got == nil {
		t.Fatalf("got nil token, want %s", show(want))
	}
	checkUTC(t, "IssuedAt", got.IssuedAt)
	checkUTC(t, "ExpiresAt", got.ExpiresAt)
	checkUTC(t, "RevokedAt", got.RevokedAt)
	g, w := normToken(*got), normToken(*want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("token mismatch\n got: %s\nwant: %s", show(g), show(w))
	}
}

// ptr returns a pointer to s, for params.
func ptr(s string) *string { return &s }
