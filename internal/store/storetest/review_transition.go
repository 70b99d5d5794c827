package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

// Reviews' steps: decisions, claims and expiry, alone and concurrent.

func testReviewDeny(t *testing.T, st store.Store) {
	ctx := context.Background()
	r := review("r1", at(0))
	r.MinApprovals = 2
	mustCreateReview(t, st, r)

	// One approval leaves a 2-approval review pending; one deny closes it.
	approve, deny := vote("bob", true, at(time.Minute)), vote("carol", false, at(2*time.Minute))
	got := mustDecide(t, st, "r1", approve)
	r.Decisions = []sluice.ReviewDecision{approve}
	equalReview(t, got, r)
	got = mustDecide(t, st, "r1", deny)
	r.Status, r.DecidedAt = sluice.ReviewDenied, deny.At
	r.Decisions = append(r.Decisions, deny)
	equalReview(t, got, r)
	equalReview(t, mustGetReview(t, st, "r1"), r)

	// A closed review takes no decision, from a new approver or one that
	// voted already, and changes not.
	for _, d := range []sluice.ReviewDecision{
		vote("dave", true, at(3*time.Minute)),
		vote("erin", false, at(3*time.Minute)),
		vote("bob", true, at(3*time.Minute)),
		vote("carol", false, at(3*time.Minute)),
	} {
		if got, err := st.AddReviewDecision(ctx, "r1", d); !errors.Is(err, store.ErrReviewClosed) {
			t.Errorf("AddReviewDecision(%s) on a denied review = %v, %v; want ErrReviewClosed", d.By, got, err)
		}
	}
	equalReview(t, mustGetReview(t, st, "r1"), r)
	if _, err := st.ClaimReview(ctx, "r1", at(4*time.Minute)); !errors.Is(err, store.ErrReviewClosed) {
		t.Errorf("ClaimReview of a denied review = %v, want ErrReviewClosed", err)
	}

	// A deny as the first decision closes a review too.
	mustCreateReview(t, st, review("r2", at(0)))
	if got := mustDecide(t, st, "r2", vote("carol", false, at(time.Minute))); got.Status != sluice.ReviewDenied ||
		!norm(got.DecidedAt).Equal(norm(at(time.Minute))) {
		t.Errorf("after a first deny: status %s decided %v, want denied at %v", got.Status, got.DecidedAt, at(time.Minute))
	}
}

func testReviewTwoOfThree(t *testing.T, st store.Store) {
	ctx := context.Background()
	r := review("r1", at(0))
	r.Approvers = []string{"subject:bob", "subject:carol", "subject:dave"}
	r.MinApprovals = 2
	mustCreateReview(t, st, r)
	other := review("r2", at(0))
	other.MinApprovals = 2
	mustCreateReview(t, st, other)

	bob := vote("bob", true, at(time.Minute))
	got := mustDecide(t, st, "r1", bob)
	r.Decisions = []sluice.ReviewDecision{bob}
	equalReview(t, got, r)

	// The same approver again, approving or denying, is refused and
	// changes nothing: one person cannot make two of the approvals.
	for _, d := range []sluice.ReviewDecision{vote("bob", true, at(2*time.Minute)), vote("bob", false, at(2*time.Minute))} {
		if got, err := st.AddReviewDecision(ctx, "r1", d); !errors.Is(err, store.ErrAlreadyVoted) {
			t.Errorf("AddReviewDecision(bob again, approve %v) = %v, %v; want ErrAlreadyVoted", d.Approve, got, err)
		}
	}
	equalReview(t, mustGetReview(t, st, "r1"), r)

	// Bob's vote on r1 is not a vote on r2.
	mustDecide(t, st, "r2", vote("bob", true, at(2*time.Minute)))

	carol := vote("carol", true, at(3*time.Minute))
	got = mustDecide(t, st, "r1", carol)
	r.Status, r.DecidedAt = sluice.ReviewApproved, carol.At
	r.Decisions = append(r.Decisions, carol)
	equalReview(t, got, r)
	if got.Approvals() != 2 {
		t.Errorf("Approvals = %d, want 2", got.Approvals())
	}

	// The third approver comes too late.
	if _, err := st.AddReviewDecision(ctx, "r1", vote("dave", true, at(4*time.Minute))); !errors.Is(err, store.ErrReviewClosed) {
		t.Errorf("AddReviewDecision(dave) on an approved review = %v, want ErrReviewClosed", err)
	}
	// Closed comes before already voted.
	if _, err := st.AddReviewDecision(ctx, "r1", vote("bob", false, at(4*time.Minute))); !errors.Is(err, store.ErrReviewClosed) {
		t.Errorf("AddReviewDecision(bob) on an approved review = %v, want ErrReviewClosed", err)
	}
	equalReview(t, mustGetReview(t, st, "r1"), r)
	if got := mustGetReview(t, st, "r2"); got.Status != sluice.ReviewPending || len(got.Decisions) != 1 {
		t.Errorf("r2 is %s with %d decisions, want pending with 1", got.Status, len(got.Decisions))
	}
}

func testReviewDecisionAfterValidity(t *testing.T, st store.Store) {
	// A pending review whose validity has ended is closed to decisions even
	// before ExpireReviews marks it.
	ctx := context.Background()
	r := review("r1", at(0))
	mustCreateReview(t, st, r)
	for _, tm := range []time.Time{r.ValidUntil, r.ValidUntil.Add(time.Hour)} {
		if _, err := st.AddReviewDecision(ctx, "r1", vote("bob", true, tm)); !errors.Is(err, store.ErrReviewClosed) {
			t.Errorf("AddReviewDecision at %v, valid until %v = %v, want ErrReviewClosed", tm, r.ValidUntil, err)
		}
	}
	equalReview(t, mustGetReview(t, st, "r1"), r)
	// A microsecond before, it is still open.
	d := vote("bob", true, r.ValidUntil.Add(-time.Microsecond))
	got := mustDecide(t, st, "r1", d)
	r.Status, r.DecidedAt, r.Decisions = sluice.ReviewApproved, d.At, []sluice.ReviewDecision{d}
	equalReview(t, got, r)
}

func testReviewDecisionInvalid(t *testing.T, st store.Store) {
	ctx := context.Background()
	r := review("r1", at(0))
	mustCreateReview(t, st, r)
	for name, d := range map[string]sluice.ReviewDecision{
		"no approver": vote("", true, at(time.Minute)),
		"no time":     vote("bob", true, time.Time{}),
	} {
		if _, err := st.AddReviewDecision(ctx, "r1", d); err == nil {
			t.Errorf("AddReviewDecision(%s) succeeded, want an error", name)
		}
	}
	equalReview(t, mustGetReview(t, st, "r1"), r)
}

// concurrency is the number of goroutines in the concurrent review tests.
const concurrency = 16

func testReviewConcurrentApprovals(t *testing.T, st store.Store) {
	// Many approvers approve a 2-approval review at once. Exactly two
	// decisions are taken, the second of them approves the review, and
	// everyone else finds it closed.
	ctx := context.Background()
	r := review("r1", at(0))
	r.MinApprovals = 2
	mustCreateReview(t, st, r)

	results := make([]*sluice.Review, concurrency)
	errs := make([]error, concurrency)
	votes := make([]sluice.ReviewDecision, concurrency)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range concurrency {
		votes[i] = vote(fmt.Sprintf("approver-%02d", i), true, at(time.Duration(i+1)*time.Second))
		wg.Go(func() {
			<-start
			results[i], errs[i] = st.AddReviewDecision(ctx, "r1", votes[i])
		})
	}
	close(start)
	wg.Wait()

	var pending, approved []int
	for i, err := range errs {
		switch {
		case err == nil && results[i].Status == sluice.ReviewPending:
			pending = append(pending, i)
		case err == nil && results[i].Status == sluice.ReviewApproved:
			approved = append(approved, i)
		case err == nil:
			t.Errorf("approver %d: review is %s", i, results[i].Status)
		case !errors.Is(err, store.ErrReviewClosed):
			t.Errorf("approver %d: %v, want success or ErrReviewClosed", i, err)
		}
	}
	if len(pending) != 1 || len(approved) != 1 {
		t.Fatalf("%d calls left the review pending and %d approved it, want 1 and 1", len(pending), len(approved))
	}
	first, second := votes[pending[0]], votes[approved[0]]
	r.Status, r.DecidedAt = sluice.ReviewApproved, second.At
	r.Decisions = []sluice.ReviewDecision{first, second}
	equalReview(t, results[approved[0]], r)
	equalReview(t, mustGetReview(t, st, "r1"), r)
	if got := results[pending[0]]; len(got.Decisions) != 1 || !got.DecidedAt.IsZero() {
		t.Errorf("the first approval returned %d decisions, decided at %v; want 1, not decided", len(got.Decisions), got.DecidedAt)
	}
}

func testReviewConcurrentSameApprover(t *testing.T, st store.Store) {
	// One approver's vote arrives many times at once (a retried click):
	// it counts once.
	ctx := context.Background()
	r := review("r1", at(0))
	r.MinApprovals = 2
	mustCreateReview(t, st, r)
	errs := make([]error, concurrency)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Go(func() {
			<-start
			_, errs[i] = st.AddReviewDecision(ctx, "r1", vote("bob", true, at(time.Duration(i+1)*time.Second)))
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrAlreadyVoted):
			t.Errorf("vote %d: %v, want success or ErrAlreadyVoted", i, err)
		}
	}
	got := mustGetReview(t, st, "r1")
	if won != 1 || got.Status != sluice.ReviewPending || len(got.Decisions) != 1 || got.Decisions[0].By != "bob" {
		t.Errorf("%d votes succeeded; review is %s with decisions %s; want 1 vote by bob, pending", won, got.Status, show(got.Decisions))
	}
}

// approvedReview creates a review valid for an hour from created and
// approves it a minute after creation; it returns the review as stored.
func approvedReview(t *testing.T, st store.Store, id string, created time.Time) *sluice.Review {
	t.Helper()
	mustCreateReview(t, st, review(id, created))
	return mustDecide(t, st, id, vote("carol", true, created.Add(time.Minute)))
}

func testReviewClaim(t *testing.T, st store.Store) {
	ctx := context.Background()
	r := approvedReview(t, st, "r1", at(0))
	got := mustClaim(t, st, "r1", at(5*time.Minute))
	r.Status, r.ExecutedAt = sluice.ReviewExecuted, at(5*time.Minute)
	equalReview(t, got, r)
	equalReview(t, mustGetReview(t, st, "r1"), r)

	// Once only.
	if _, err := st.ClaimReview(ctx, "r1", at(6*time.Minute)); !errors.Is(err, store.ErrReviewClosed) {
		t.Errorf("second ClaimReview = %v, want ErrReviewClosed", err)
	}
	equalReview(t, mustGetReview(t, st, "r1"), r)
	// An executed review takes no decision.
	if _, err := st.AddReviewDecision(ctx, "r1", vote("dave", true, at(7*time.Minute))); !errors.Is(err, store.ErrReviewClosed) {
		t.Errorf("AddReviewDecision on an executed review = %v, want ErrReviewClosed", err)
	}

	// Not before approval.
	mustCreateReview(t, st, review("pending", at(0)))
	if _, err := st.ClaimReview(ctx, "pending", at(time.Minute)); !errors.Is(err, store.ErrReviewClosed) {
		t.Errorf("ClaimReview of a pending review = %v, want ErrReviewClosed", err)
	}
	if got := mustGetReview(t, st, "pending"); got.Status != sluice.ReviewPending || !got.ExecutedAt.IsZero() {
		t.Errorf("a refused claim left the review %s, executed at %v", got.Status, got.ExecutedAt)
	}

	// Not once the approval's validity has ended, even before it is marked
	// expired; a microsecond before, yes.
	late := approvedReview(t, st, "late", at(0))
	for _, tm := range []time.Time{late.ValidUntil, late.ValidUntil.Add(time.Minute)} {
		if _, err := st.ClaimReview(ctx, "late", tm); !errors.Is(err, store.ErrReviewClosed) {
			t.Errorf("ClaimReview at %v, valid until %v = %v, want ErrReviewClosed", tm, late.ValidUntil, err)
		}
	}
	equalReview(t, mustGetReview(t, st, "late"), late)
	got = mustClaim(t, st, "late", late.ValidUntil.Add(-time.Microsecond))
	if got.Status != sluice.ReviewExecuted || !norm(got.ExecutedAt).Equal(norm(late.ValidUntil.Add(-time.Microsecond))) {
		t.Errorf("claim a microsecond before the end: %s at %v", got.Status, got.ExecutedAt)
	}
}

func testReviewConcurrentClaims(t *testing.T, st store.Store) {
	// Replicas race to run one approved statement: exactly one may.
	ctx := context.Background()
	r := approvedReview(t, st, "r1", at(0))
	results := make([]*sluice.Review, concurrency)
	errs := make([]error, concurrency)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Go(func() {
			<-start
			results[i], errs[i] = st.ClaimReview(ctx, "r1", at(time.Duration(i+2)*time.Minute))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("claims %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrReviewClosed):
			t.Errorf("claim %d: %v, want success or ErrReviewClosed", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no claim succeeded")
	}
	r.Status, r.ExecutedAt = sluice.ReviewExecuted, at(time.Duration(winner+2)*time.Minute)
	equalReview(t, results[winner], r)
	equalReview(t, mustGetReview(t, st, "r1"), r)
}

func testReviewExpire(t *testing.T, st store.Store) {
	ctx := context.Background()
	if got, err := st.ExpireReviews(ctx, at(time.Hour)); err != nil || len(got) != 0 {
		t.Fatalf("ExpireReviews on an empty store = %v, %v; want none", reviewIDs(got), err)
	}
	// id   status    created  valid until
	// e1   pending   +1m      +10m
	// e2   approved  +2m      +10m
	// e3   pending   +3m      +20m
	// e4   approved  +4m      +20m
	// e5   executed  +5m      +10m
	// e6   denied    +6m      +10m
	for i, valid := range []int{10, 10, 20, 20, 10, 10} {
		r := review(fmt.Sprintf("e%d", i+1), at(time.Duration(i+1)*time.Minute))
		r.ValidUntil = at(time.Duration(valid) * time.Minute)
		mustCreateReview(t, st, r)
	}
	for _, id := range []string{"e2", "e4", "e5"} {
		mustDecide(t, st, id, vote("carol", true, at(7*time.Minute)))
	}
	mustClaim(t, st, "e5", at(8*time.Minute))
	mustDecide(t, st, "e6", vote("carol", false, at(7*time.Minute)))
	before := make(map[string]*sluice.Review)
	for i := range 6 {
		id := fmt.Sprintf("e%d", i+1)
		before[id] = mustGetReview(t, st, id)
	}

	expire := func(now time.Time, want ...string) {
		t.Helper()
		got, err := st.ExpireReviews(ctx, now)
		if err != nil {
			t.Fatalf("ExpireReviews(%v): %v", now, err)
		}
		if ids := reviewIDs(got); !slices.Equal(ids, want) {
			t.Fatalf("ExpireReviews(%v) = %v, want %v", now, ids, want)
		}
		// Expiry changes the status alone: decisions and DecidedAt stay.
		for _, r := range got {
			want := *before[r.ID]
			want.Status = sluice.ReviewExpired
			equalReview(t, r, &want)
			equalReview(t, mustGetReview(t, st, r.ID), &want)
		}
	}
	expire(at(10*time.Minute - time.Microsecond))            // nothing is due yet
	expire(at(10*time.Minute), "e2", "e1")                   // valid until is exclusive
	expire(at(10 * time.Minute))                             // once only
	expire(at(15 * time.Minute))                             // e3 and e4 are still valid
	expire(at(time.Hour), "e4", "e3")                        // their turn
	equalReview(t, mustGetReview(t, st, "e5"), before["e5"]) // executed: untouched
	equalReview(t, mustGetReview(t, st, "e6"), before["e6"]) // denied: untouched

	// Expired reviews take no decision and no claim.
	if _, err := st.AddReviewDecision(ctx, "e1", vote("dave", true, at(11*time.Minute))); !errors.Is(err, store.ErrReviewClosed) {
		t.Errorf("AddReviewDecision on an expired review = %v, want ErrReviewClosed", err)
	}
	if _, err := st.ClaimReview(ctx, "e2", at(11*time.Minute)); !errors.Is(err, store.ErrReviewClosed) {
		t.Errorf("ClaimReview of an expired review = %v, want ErrReviewClosed", err)
	}
}

func testReviewConcurrentExpire(t *testing.T, st store.Store) {
	// Every replica runs the expirer: each review is reported by exactly
	// one of them. Several rounds, each with its own due reviews, give the
	// expirers more chances to overlap.
	ctx := context.Background()
	const rounds, due = 4, 24
	mustCreateReview(t, st, review("valid", at(0))) // valid for an hour
	for round := range rounds {
		now := at(time.Duration(round+1) * time.Minute)
		for i := range due {
			r := review(fmt.Sprintf("due-%d-%02d", round, i), now.Add(-time.Minute))
			r.ValidUntil = now
			mustCreateReview(t, st, r)
			if i%2 == 0 {
				mustDecide(t, st, r.ID, vote("carol", true, r.CreatedAt))
			}
		}
		results := make([][]*sluice.Review, concurrency)
		errs := make([]error, concurrency)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range concurrency {
			wg.Go(func() {
				<-start
				results[i], errs[i] = st.ExpireReviews(ctx, now)
			})
		}
		close(start)
		wg.Wait()
		seen := make(map[string]int)
		for i, rs := range results {
			if errs[i] != nil {
				t.Errorf("round %d: ExpireReviews %d: %v", round, i, errs[i])
			}
			for _, r := range rs {
				seen[r.ID]++
				if r.Status != sluice.ReviewExpired {
					t.Errorf("round %d: ExpireReviews %d returned %s as %s", round, i, r.ID, r.Status)
				}
			}
		}
		if len(seen) != due {
			t.Errorf("round %d: %d reviews were expired, want %d", round, len(seen), due)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("round %d: review %s was returned %d times, want once", round, id, n)
			}
		}
	}
	if got := mustGetReview(t, st, "valid"); got.Status != sluice.ReviewPending {
		t.Errorf("a valid review is %s after expiry, want pending", got.Status)
	}
	got, err := st.ListReviews(ctx, store.ReviewFilter{Statuses: []sluice.ReviewStatus{sluice.ReviewExpired}, Limit: 1000})
	if err != nil || len(got) != rounds*due {
		t.Errorf("ListReviews(expired) = %d reviews, %v; want %d", len(got), err, rounds*due)
	}
}
