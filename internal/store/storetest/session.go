package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

var sessionTests = []test{
	{"RoundTrip", testSessionRoundTrip},
	{"CreateDuplicate", testSessionCreateDuplicate},
	{"Unknown", testSessionUnknown},
	{"EndKeepsFirst", testSessionEndKeepsFirst},
	{"List", testSessionList},
	{"ListDefaultLimit", testSessionListDefaultLimit},
}

// fullSession returns a session with every field set.
func fullSession(id string, started time.Time) *sluice.Session {
	return &sluice.Session{
		ID: id,
		Identity: sluice.Identity{
			Subject:   "8f1c2a5e-alice",
			Name:      "Alice O'Brien",
			Groups:    []string{"ai-agents", "dba", "grüppe \"quoted\""},
			Client:    "claude-code",
			Method:    sluice.AuthOIDC,
			Issuer:    "https://login.example.com/tenant/v2.0",
			TokenID:   "jti-" + id,
			ExpiresAt: started.Add(time.Hour),
		},
		Connection: "orders",
		Protocol:   sluice.ProtoPostgres,
		ClientAddr: "127.0.0.1:50432",
		StartedAt:  started,
		StartSeq:   uint64(started.Unix()%1000 + 1),
	}
}

// mustCreateSession creates s or fails the test.
func mustCreateSession(t *testing.T, st store.Store, s *sluice.Session) {
	t.Helper()
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatalf("CreateSession(%s): %v", s.ID, err)
	}
}

// mustGetSession returns the session with the given id or fails the test.
func mustGetSession(t *testing.T, st store.Store, id string) *sluice.Session {
	t.Helper()
	s, err := st.GetSession(context.Background(), id)
	if err != nil {
		t.Fatalf("GetSession(%s): %v", id, err)
	}
	return s
}

func testSessionRoundTrip(t *testing.T, st store.Store) {
	full := fullSession("s-full", at(0))
	minimal := &sluice.Session{
		ID:         "s-min",
		Identity:   sluice.Identity{Subject: "ci", Method: sluice.AuthServiceToken, Issuer: "sluice"},
		Connection: "anthropic",
		Protocol:   sluice.ProtoHTTP,
		StartedAt:  at(time.Second).UTC(),
	}
	mustCreateSession(t, st, full)
	mustCreateSession(t, st, minimal)

	equalSession(t, mustGetSession(t, st, "s-full"), full)
	got := mustGetSession(t, st, "s-min")
	equalSession(t, got, minimal)
	if !got.EndedAt.IsZero() || got.EndReason != "" {
		t.Errorf("new session has end %v %q, want none", got.EndedAt, got.EndReason)
	}
	if !got.Identity.ExpiresAt.IsZero() {
		t.Errorf("Identity.ExpiresAt = %v, want zero", got.Identity.ExpiresAt)
	}
	// The returned session is a copy: changing it changes nothing stored.
	got.Connection = "changed"
	if again := mustGetSession(t, st, "s-min"); again.Connection != "anthropic" {
		t.Errorf("Connection = %q after changing a returned copy, want anthropic", again.Connection)
	}
}

func testSessionCreateDuplicate(t *testing.T, st store.Store) {
	first := fullSession("s1", at(0))
	mustCreateSession(t, st, first)
	second := fullSession("s1", at(time.Minute))
	second.Connection = "billing"
	if err := st.CreateSession(context.Background(), second); err == nil {
		t.Fatal("CreateSession with a duplicate id succeeded, want an error")
	}
	equalSession(t, mustGetSession(t, st, "s1"), first)
}

func testSessionUnknown(t *testing.T, st store.Store) {
	ctx := context.Background()
	mustCreateSession(t, st, fullSession("s1", at(0)))
	if s, err := st.GetSession(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(unknown) = %v, %v; want ErrNotFound", s, err)
	}
	if err := st.EndSession(ctx, "nope", at(time.Minute), sluice.EndClient); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EndSession(unknown) = %v, want ErrNotFound", err)
	}
	// Ids are exact: no prefix or case-insensitive matching.
	for _, id := range []string{"S1", "s", "s1 ", "%"} {
		if _, err := st.GetSession(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func testSessionEndKeepsFirst(t *testing.T, st store.Store) {
	ctx := context.Background()
	s := fullSession("s1", at(0))
	other := fullSession("s2", at(time.Second))
	mustCreateSession(t, st, s)
	mustCreateSession(t, st, other)

	if err := st.EndSession(ctx, "s1", at(time.Minute), sluice.EndClient); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	s.EndedAt, s.EndReason = at(time.Minute), sluice.EndClient
	equalSession(t, mustGetSession(t, st, "s1"), s)

	if err := st.EndSession(ctx, "s1", at(time.Hour), sluice.EndShutdown); err != nil {
		t.Fatalf("EndSession twice: %v", err)
	}
	equalSession(t, mustGetSession(t, st, "s1"), s)
	// Ending one session leaves the others open.
	equalSession(t, mustGetSession(t, st, "s2"), other)
}

// listFixture creates five sessions and returns them by short name:
//
//	name  subject  connection  started  ended
//	s1    alice    orders      +1m      no
//	s2    bob      orders      +2m      yes
//	s3    alice    billing     +3m      yes
//	s4    alice    orders      +4m      no
//	s5    bob      billing     +5m      no
//
// They are inserted out of order so that insertion order cannot pass for
// newest first.
func listFixture(t *testing.T, st store.Store) map[string]*sluice.Session {
	rows := []struct {
		id, subject, conn string
		minute            int
		ended             bool
	}{
		{"s3", "alice", "billing", 3, true},
		{"s1", "alice", "orders", 1, false},
		{"s5", "bob", "billing", 5, false},
		{"s2", "bob", "orders", 2, true},
		{"s4", "alice", "orders", 4, false},
	}
	out := make(map[string]*sluice.Session)
	for _, r := range rows {
		s := fullSession(r.id, at(time.Duration(r.minute)*time.Minute))
		s.Identity.Subject, s.Connection = r.subject, r.conn
		mustCreateSession(t, st, s)
		if r.ended {
			s.EndedAt, s.EndReason = s.StartedAt.Add(30*time.Second), sluice.EndUpstream
			if err := st.EndSession(context.Background(), s.ID, s.EndedAt, s.EndReason); err != nil {
				t.Fatalf("EndSession(%s): %v", s.ID, err)
			}
		}
		out[r.id] = s
	}
	return out
}

func testSessionList(t *testing.T, st store.Store) {
	fixture := listFixture(t, st)
	other := time.FixedZone("UTC-08", -8*3600)
	tests := []struct {
		name string
		f    store.SessionFilter
		want []string
	}{
		{"all", store.SessionFilter{}, []string{"s5", "s4", "s3", "s2", "s1"}},
		{"subject", store.SessionFilter{Subject: "alice"}, []string{"s4", "s3", "s1"}},
		{"connection", store.SessionFilter{Connection: "orders"}, []string{"s4", "s2", "s1"}},
		{"subject and connection", store.SessionFilter{Subject: "alice", Connection: "orders"}, []string{"s4", "s1"}},
		{"since is inclusive", store.SessionFilter{Since: at(3 * time.Minute)}, []string{"s5", "s4", "s3"}},
		{"until is exclusive", store.SessionFilter{Until: at(3 * time.Minute)}, []string{"s2", "s1"}},
		{"since and until", store.SessionFilter{Since: at(2 * time.Minute), Until: at(4 * time.Minute)}, []string{"s3", "s2"}},
		{"since a microsecond after", store.SessionFilter{Since: at(3*time.Minute + time.Microsecond)}, []string{"s5", "s4"}},
		{"until a microsecond after", store.SessionFilter{Until: at(3*time.Minute + time.Microsecond)}, []string{"s3", "s2", "s1"}},
		{"since in another zone", store.SessionFilter{Since: at(4 * time.Minute).In(other)}, []string{"s5", "s4"}},
		{"open only", store.SessionFilter{OpenOnly: true}, []string{"s5", "s4", "s1"}},
		{"open only and subject", store.SessionFilter{OpenOnly: true, Subject: "bob"}, []string{"s5"}},
		{"limit", store.SessionFilter{Limit: 2}, []string{"s5", "s4"}},
		{"limit and subject", store.SessionFilter{Limit: 2, Subject: "alice"}, []string{"s4", "s3"}},
		{"limit above count", store.SessionFilter{Limit: 50}, []string{"s5", "s4", "s3", "s2", "s1"}},
		{"no match", store.SessionFilter{Subject: "mallory"}, nil},
		{"subject is exact", store.SessionFilter{Subject: "ali"}, nil},
		{"empty range", store.SessionFilter{Since: at(4 * time.Minute), Until: at(4 * time.Minute)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.ListSessions(context.Background(), tt.f)
			if err != nil {
				t.Fatalf("ListSessions: %v", err)
			}
			var ids []string
			for _, s := range got {
				ids = append(ids, s.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Fatalf("ListSessions(%+v) = %v, want %v", tt.f, ids, tt.want)
			}
			// Listed sessions carry every field, not only the id.
			for _, s := range got {
				equalSession(t, s, fixture[s.ID])
			}
		})
	}
}

func testSessionListDefaultLimit(t *testing.T, st store.Store) {
	const n = 105
	for i := range n {
		mustCreateSession(t, st, fullSession(fmt.Sprintf("s%03d", i), at(time.Duration(i)*time.Second)))
	}
	for _, tt := range []struct {
		limit, want int
	}{{0, 100}, {200, n}, {7, 7}} {
		got, err := st.ListSessions(context.Background(), store.SessionFilter{Limit: tt.limit})
		if err != nil {
			t.Fatalf("ListSessions(limit %d): %v", tt.limit, err)
		}
		if len(got) != tt.want {
			t.Fatalf("ListSessions(limit %d) returned %d sessions, want %d", tt.limit, len(got), tt.want)
		}
		for i, s := range got {
			if want := fmt.Sprintf("s%03d", n-1-i); s.ID != want {
				t.Fatalf("ListSessions(limit %d)[%d] = %s, want %s (newest first)", tt.limit, i, s.ID, want)
			}
		}
	}
	if _, err := st.ListSessions(context.Background(), store.SessionFilter{Limit: -1}); err == nil {
		t.Error("ListSessions with a negative limit succeeded, want an error")
	}
}
