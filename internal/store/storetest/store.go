package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

var storeTests = []test{
	{"Concurrent", testConcurrent},
	{"ConcurrentEndIsAtomic", testConcurrentEnd},
	{"CanceledContext", testCanceledContext},
	{"CloseIdempotent", testCloseIdempotent},
}

// Sizes of the concurrency test: workers run at once, each doing rounds.
const (
	workers = 8
	rounds  = 5
	perSess = 4 // statements per session, added in two batches
)

func testConcurrent(t *testing.T, st store.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				if err := concurrentRound(ctx, st, fmt.Sprintf("w%d-r%d", w, r)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	sessions, err := st.ListSessions(ctx, store.SessionFilter{Limit: 1000})
	if err != nil {
		t.Fatalf("ListSessions: %v", err)
	}
	if len(sessions) != workers*rounds {
		t.Fatalf("ListSessions returned %d sessions, want %d", len(sessions), workers*rounds)
	}
	for _, s := range sessions {
		if s.EndedAt.IsZero() || s.EndReason != sluice.EndClient {
			t.Errorf("session %s: end %v %q, want ended by client", s.ID, s.EndedAt, s.EndReason)
		}
		stmts, err := st.ListStatements(ctx, s.ID)
		if err != nil {
			t.Fatalf("ListStatements(%s): %v", s.ID, err)
		}
		for i, r := range stmts {
			if r.SessionID != s.ID || r.Seq != int64(i+1) {
				t.Errorf("session %s statement %d is %s seq %d", s.ID, i, r.SessionID, r.Seq)
			}
		}
		if len(stmts) != perSess {
			t.Errorf("session %s has %d statements, want %d", s.ID, len(stmts), perSess)
		}
	}
	if open, err := st.ListSessions(ctx, store.SessionFilter{OpenOnly: true}); err != nil || len(open) != 0 {
		t.Errorf("ListSessions(open only) = %d sessions, %v; want none", len(open), err)
	}
	tokens, err := st.ListTokens(ctx)
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	if len(tokens) != workers*rounds {
		t.Fatalf("ListTokens returned %d tokens, want %d", len(tokens), workers*rounds)
	}
	for _, tok := range tokens {
		if tok.RevokedAt.IsZero() {
			t.Errorf("token %s is not revoked", tok.ID)
		}
	}
}

// concurrentRound does what one gateway session and one token command do,
// checking each answer as it goes.
func concurrentRound(ctx context.Context, st store.Store, id string) error {
	start := at(time.Duration(len(id)) * time.Millisecond)
	if err := st.CreateSession(ctx, fullSession(id, start)); err != nil {
		return fmt.Errorf("CreateSession(%s): %w", id, err)
	}
	for b := range 2 {
		var batch []*sluice.StatementRecord
		for i := range perSess / 2 {
			seq := int64(b*perSess/2 + i + 1)
			batch = append(batch, statement(fmt.Sprintf("%s-q%d", id, seq), id, seq))
		}
		if err := st.AddStatements(ctx, batch); err != nil {
			return fmt.Errorf("AddStatements(%s): %w", id, err)
		}
	}
	if got, err := st.ListStatements(ctx, id); err != nil || len(got) != perSess {
		return fmt.Errorf("ListStatements(%s) = %d statements, %v; want %d", id, len(got), err, perSess)
	}
	if _, err := st.ListSessions(ctx, store.SessionFilter{Limit: 5}); err != nil {
		return fmt.Errorf("ListSessions: %w", err)
	}
	if err := st.EndSession(ctx, id, start.Add(time.Minute), sluice.EndClient); err != nil {
		return fmt.Errorf("EndSession(%s): %w", id, err)
	}
	if s, err := st.GetSession(ctx, id); err != nil || s.EndReason != sluice.EndClient {
		return fmt.Errorf("GetSession(%s) after end = %v, %v", id, s, err)
	}
	if err := st.CreateToken(ctx, token(id, start)); err != nil {
		return fmt.Errorf("CreateToken(%s): %w", id, err)
	}
	if err := st.RevokeToken(ctx, id, start.Add(time.Hour)); err != nil {
		return fmt.Errorf("RevokeToken(%s): %w", id, err)
	}
	if tok, err := st.GetToken(ctx, id); err != nil || tok.RevokedAt.IsZero() {
		return fmt.Errorf("GetToken(%s) after revoke = %v, %v", id, tok, err)
	}
	return nil
}

func testConcurrentEnd(t *testing.T, st store.Store) {
	// Many goroutines end the same session at once, each with its own time
	// and reason. Exactly one end wins, whole: its time with its reason.
	ctx := context.Background()
	mustCreateSession(t, st, fullSession("s1", at(0)))
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := st.EndSession(ctx, "s1", at(time.Duration(i+1)*time.Minute), fmt.Sprintf("reason-%d", i+1)); err != nil {
				t.Errorf("EndSession %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got := mustGetSession(t, st, "s1")
	var i int
	if _, err := fmt.Sscanf(got.EndReason, "reason-%d", &i); err != nil {
		t.Fatalf("EndReason = %q, want one of the reasons given", got.EndReason)
	}
	if want := norm(at(time.Duration(i) * time.Minute)); !norm(got.EndedAt).Equal(want) {
		t.Errorf("EndedAt = %v with reason %q, want %v", got.EndedAt, got.EndReason, want)
	}
}

func testCanceledContext(t *testing.T, st store.Store) {
	mustCreateSession(t, st, fullSession("s1", at(0)))
	pending := review("r1", at(0))
	mustCreateReview(t, st, pending)
	approved := approvedReview(t, st, "approved", at(0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{
		"CreateSession":  st.CreateSession(ctx, fullSession("s2", at(0))),
		"AddStatements":  st.AddStatements(ctx, []*sluice.StatementRecord{statement("r1", "s1", 1)}),
		"EndSession":     st.EndSession(ctx, "s1", at(time.Minute), sluice.EndClient),
		"CreateToken":    st.CreateToken(ctx, token("t1", at(0))),
		"RevokeToken":    st.RevokeToken(ctx, "t1", at(0)),
		"GetSession":     errOf(st.GetSession(ctx, "s1")),
		"ListSessions":   errOf(st.ListSessions(ctx, store.SessionFilter{})),
		"ListStatements": errOf(st.ListStatements(ctx, "s1")),
		"GetToken":       errOf(st.GetToken(ctx, "t1")),
		"ListTokens":     errOf(st.ListTokens(ctx)),
		"ApplyIndex": st.ApplyIndex(ctx, &store.IndexBatch{Sessions: []*sluice.Session{fullSession("s3", at(0))},
			Statements: []*sluice.StatementRecord{statement("r2", "s1", 2)}, Seq: 5}),
		"IndexedSeq":       errOf(st.IndexedSeq(ctx)),
		"ResetIndex":       st.ResetIndex(ctx),
		"SearchStatements": errOf(st.SearchStatements(ctx, store.StatementFilter{})),

		"CreateReview":      st.CreateReview(ctx, review("r2", at(0))),
		"GetReview":         errOf(st.GetReview(ctx, "r1")),
		"ListReviews":       errOf(st.ListReviews(ctx, store.ReviewFilter{})),
		"AddReviewDecision": errOf(st.AddReviewDecision(ctx, "r1", vote("bob", true, at(time.Minute)))),
		"ClaimReview":       errOf(st.ClaimReview(ctx, "approved", at(2*time.Minute))),
		"FindReview": errOf(st.FindReview(ctx, "alice", "orders", "hash-approved",
			[]sluice.ReviewStatus{sluice.ReviewApproved}, at(2*time.Minute))),
		"ExpireReviews":   errOf(st.ExpireReviews(ctx, at(24*time.Hour))),
		"SetReviewTicket": st.SetReviewTicket(ctx, "r1", "slack", "ts"),

		"AddUsage": errOf(st.AddUsage(ctx, "alice", "claude", today, 10)),
		"Usage":    errOf(st.Usage(ctx, "alice", "claude", today)),
	}
	for name, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context = %v, want context.Canceled", name, err)
		}
	}
	// Nothing was written.
	if _, err := st.GetSession(context.Background(), "s2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(s2) = %v, want ErrNotFound", err)
	}
	if got := mustGetSession(t, st, "s1"); !got.EndedAt.IsZero() {
		t.Errorf("session ended by a canceled call at %v", got.EndedAt)
	}
	if got := mustList(t, st, "s1"); len(got) != 0 {
		t.Errorf("canceled AddStatements or ApplyIndex stored %d statements", len(got))
	}
	if _, err := st.GetSession(context.Background(), "s3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(s3) = %v, want ErrNotFound: a canceled ApplyIndex stored it", err)
	}
	if seq := mustIndexedSeq(t, st); seq != 0 {
		t.Errorf("IndexedSeq = %d after a canceled ApplyIndex, want 0", seq)
	}
	if _, err := st.GetToken(context.Background(), "t1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetToken(t1) = %v, want ErrNotFound", err)
	}
	if _, err := st.GetReview(context.Background(), "r2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetReview(r2) = %v, want ErrNotFound", err)
	}
	if got := mustUsage(t, st, "alice", "claude", today); got != 0 {
		t.Errorf("Usage = %d after a canceled AddUsage, want 0", got)
	}
	// No decision, claim, expiry or ticket reached the reviews.
	equalReview(t, mustGetReview(t, st, "r1"), pending)
	equalReview(t, mustGetReview(t, st, "approved"), approved)
}

// errOf returns the error of a two-value call.
func errOf[T any](_ T, err error) error { return err }

func testCloseIdempotent(t *testing.T, st store.Store) {
	mustCreateSession(t, st, fullSession("s1", at(0)))
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// A closed store fails calls with an error rather than a panic.
	if _, err := st.GetSession(context.Background(), "s1"); err == nil {
		t.Error("GetSession on a closed store succeeded, want an error")
	}
	if err := st.CreateSession(context.Background(), fullSession("s2", at(0))); err == nil {
		t.Error("CreateSession on a closed store succeeded, want an error")
	}
}
