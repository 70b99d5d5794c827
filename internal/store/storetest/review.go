package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

var reviewTests = []test{
	{"RoundTrip", testReviewRoundTrip},
	{"CreateDuplicate", testReviewCreateDuplicate},
	{"CreateInvalid", testReviewCreateInvalid},
	{"Unknown", testReviewUnknown},
	{"List", testReviewList},
	{"ListDefaultLimit", testReviewListDefaultLimit},
	{"Find", testReviewFind},
	{"Tickets", testReviewTickets},
	{"InvalidUTF8AndNUL", testReviewOddBytes},
	{"ResetIndexKeepsReviews", testReviewResetIndex},
	{"DenyCloses", testReviewDeny},
	{"TwoOfThree", testReviewTwoOfThree},
	{"DecisionAfterValidity", testReviewDecisionAfterValidity},
	{"DecisionInvalid", testReviewDecisionInvalid},
	{"ConcurrentApprovals", testReviewConcurrentApprovals},
	{"ConcurrentVotesOfOneApprover", testReviewConcurrentSameApprover},
	{"Claim", testReviewClaim},
	{"ConcurrentClaims", testReviewConcurrentClaims},
	{"Expire", testReviewExpire},
	{"ConcurrentExpire", testReviewConcurrentExpire},
}

// review returns a pending review of statement hash "hash-<id>" with every
// field set but DecidedAt, ExecutedAt, Decisions and Tickets. Its requester
// is alice on orders; it needs one approval and is valid for an hour.
func review(id string, created time.Time) *sluice.Review {
	return &sluice.Review{
		ID:     id,
		Status: sluice.ReviewPending,
		Request: sluice.Request{
			ID:         "req-" + id,
			Seq:        7,
			SessionID:  "sess-" + id,
			Kind:       sluice.KindSQL,
			Text:       `DELETE FROM orders WHERE note = 'it''s "quoted"' AND city = 'Zürich'`,
			Params:     []*string{ptr("42"), nil, ptr("")},
			Statement:  "stmt_1",
			Class:      sluice.ClassWrite | sluice.ClassDestructive,
			Tables:     []string{"public.orders", "public.order_lines"},
			Time:       created.Add(-time.Second),
			Subject:    "alice",
			Groups:     []string{"ai-agents", "dba"},
			Connection: "orders",
			ClientAddr: "127.0.0.1:50432",
		},
		Reasons:       []string{"DELETE without WHERE", "grüße \"quoted\""},
		Policy:        "agents-orders",
		Rule:          "1",
		Approvers:     []string{"group:dba", "subject:bob"},
		MinApprovals:  1,
		EstimatedRows: 1_234_567_890_123,
		Impact:        "about 1.2 trillion rows",
		StatementHash: "hash-" + id,
		CreatedAt:     created,
		WaitUntil:     created.Add(2 * time.Minute),
		ValidUntil:    created.Add(time.Hour),
	}
}

// vote returns a decision by an approver at a time.
func vote(by string, approve bool, tm time.Time) sluice.ReviewDecision {
	verb := "deny"
	if approve {
		verb = "approve"
	}
	return sluice.ReviewDecision{By: by, Approve: approve, Reason: verb + " by " + by, Via: "cli", At: tm}
}

// mustCreateReview creates r or fails the test.
func mustCreateReview(t *testing.T, st store.Store, r *sluice.Review) {
	t.Helper()
	if err := st.CreateReview(context.Background(), r); err != nil {
		t.Fatalf("CreateReview(%s): %v", r.ID, err)
	}
}

// mustGetReview returns the review with the given id or fails the test.
func mustGetReview(t *testing.T, st store.Store, id string) *sluice.Review {
	t.Helper()
	r, err := st.GetReview(context.Background(), id)
	if err != nil {
		t.Fatalf("GetReview(%s): %v", id, err)
	}
	return r
}

// mustDecide adds a decision to review id or fails the test, and returns
// the review as AddReviewDecision returned it.
func mustDecide(t *testing.T, st store.Store, id string, d sluice.ReviewDecision) *sluice.Review {
	t.Helper()
	r, err := st.AddReviewDecision(context.Background(), id, d)
	if err != nil {
		t.Fatalf("AddReviewDecision(%s, %s): %v", id, d.By, err)
	}
	return r
}

// mustClaim claims review id at now or fails the test.
func mustClaim(t *testing.T, st store.Store, id string, now time.Time) *sluice.Review {
	t.Helper()
	r, err := st.ClaimReview(context.Background(), id, now)
	if err != nil {
		t.Fatalf("ClaimReview(%s): %v", id, err)
	}
	return r
}

// reviewIDs returns the ids of rs.
func reviewIDs(rs []*sluice.Review) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func normRequest(r sluice.Request) sluice.Request {
	r.Params = nilIfEmpty(r.Params)
	r.Tables = nilIfEmpty(r.Tables)
	r.Groups = nilIfEmpty(r.Groups)
	r.Time = norm(r.Time)
	return r
}

func normReview(r sluice.Review) sluice.Review {
	r.Request = normRequest(r.Request)
	r.Reasons = nilIfEmpty(r.Reasons)
	r.Approvers = nilIfEmpty(r.Approvers)
	r.CreatedAt = norm(r.CreatedAt)
	r.WaitUntil = norm(r.WaitUntil)
	r.ValidUntil = norm(r.ValidUntil)
	r.DecidedAt = norm(r.DecidedAt)
	r.ExecutedAt = norm(r.ExecutedAt)
	var ds []sluice.ReviewDecision
	for _, d := range r.Decisions {
		d.At = norm(d.At)
		ds = append(ds, d)
	}
	r.Decisions = ds
	if len(r.Tickets) == 0 {
		r.Tickets = nil
	}
	return r
}

// equalReview fails the test unless got matches want field by field.
func equalReview(t *testing.T, got, want *sluice.Review) {
	t.Helper()
	if got == nil {
		t.Fatalf("got nil review, want %s", show(want))
	}
	for what, tm := range map[string]time.Time{
		"CreatedAt": got.CreatedAt, "WaitUntil": got.WaitUntil, "ValidUntil": got.ValidUntil,
		"DecidedAt": got.DecidedAt, "ExecutedAt": got.ExecutedAt, "Request.Time": got.Request.Time,
	} {
		checkUTC(t, what, tm)
	}
	for i, d := range got.Decisions {
		checkUTC(t, fmt.Sprintf("Decisions[%d].At", i), d.At)
	}
	g, w := normReview(*got), normReview(*want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("review %s mismatch\n got: %s\nwant: %s", want.ID, show(g), show(w))
	}
}

func testReviewRoundTrip(t *testing.T, st store.Store) {
	// Every field, each time distinct so that swapped columns show. The
	// store keeps what it is given; what makes sense is the review
	// package's business.
	full := review("r-full", at(0))
	full.MinApprovals = 3
	full.DecidedAt = at(3 * time.Minute)
	full.ExecutedAt = at(4 * time.Minute)
	full.Decisions = []sluice.ReviewDecision{
		vote("bob", true, at(time.Minute)),
		{By: "carol", Approve: true, Via: "slack", At: at(90 * time.Second)}, // no reason
	}
	full.Tickets = map[string]string{"slack": "C024BE91L/1712345678.000200", "github": "sluicehq/ops#42"}

	// Nothing optional.
	minimal := &sluice.Review{
		ID:            "r-min",
		Status:        sluice.ReviewPending,
		Request:       sluice.Request{Kind: sluice.KindHTTP, Text: "DELETE https://api.example.com/x"},
		MinApprovals:  1,
		EstimatedRows: -1,
		CreatedAt:     at(time.Second).UTC(),
		ValidUntil:    at(time.Hour).UTC(),
	}
	// Empty rather than nil slices and maps: the suite treats the two alike.
	empty := review("r-empty", at(2*time.Second))
	empty.Reasons, empty.Approvers, empty.Tickets = []string{}, []string{}, map[string]string{}
	empty.Request.Params, empty.Request.Tables, empty.Request.Groups = []*string{}, []string{}, []string{}

	for _, r := range []*sluice.Review{full, minimal, empty} {
		mustCreateReview(t, st, r)
	}
	equalReview(t, mustGetReview(t, st, "r-full"), full)
	equalReview(t, mustGetReview(t, st, "r-empty"), empty)
	got := mustGetReview(t, st, "r-min")
	equalReview(t, got, minimal)
	if !got.WaitUntil.IsZero() || !got.DecidedAt.IsZero() || !got.ExecutedAt.IsZero() || !got.Request.Time.IsZero() {
		t.Errorf("minimal review has times %v %v %v %v, want all zero", got.WaitUntil, got.DecidedAt, got.ExecutedAt, got.Request.Time)
	}
	if got.Decisions != nil || got.Tickets != nil {
		t.Errorf("minimal review has decisions %v and tickets %v, want nil", got.Decisions, got.Tickets)
	}
	// A NULL parameter stays NULL and an empty one empty.
	if p := mustGetReview(t, st, "r-full").Request.Params; len(p) != 3 || p[1] != nil || p[2] == nil || *p[2] != "" {
		t.Errorf("Params = %s, want [\"42\", null, \"\"]", show(p))
	}
	// The returned review is a copy: changing it changes nothing stored.
	got.Status, got.Request.Text = sluice.ReviewApproved, "changed"
	if again := mustGetReview(t, st, "r-min"); again.Status != sluice.ReviewPending || again.Request.Text != minimal.Request.Text {
		t.Errorf("after changing a returned copy the stored review is %s", show(again))
	}
}

func testReviewCreateDuplicate(t *testing.T, st store.Store) {
	first := review("r1", at(0))
	mustCreateReview(t, st, first)
	second := review("r1", at(time.Minute))
	second.Request.Subject = "mallory"
	second.Decisions = []sluice.ReviewDecision{vote("mallory", true, at(time.Minute))}
	if err := st.CreateReview(context.Background(), second); err == nil {
		t.Fatal("CreateReview with a duplicate id succeeded, want an error")
	}
	equalReview(t, mustGetReview(t, st, "r1"), first)
}

func testReviewCreateInvalid(t *testing.T, st store.Store) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		spoil func(r *sluice.Review)
	}{
		{"approved", func(r *sluice.Review) { r.Status = sluice.ReviewApproved }},
		{"executed", func(r *sluice.Review) { r.Status = sluice.ReviewExecuted }},
		{"no status", func(r *sluice.Review) { r.Status = "" }},
		{"no id", func(r *sluice.Review) { r.ID = "" }},
		{"no creation time", func(r *sluice.Review) { r.CreatedAt = time.Time{} }},
		{"no validity", func(r *sluice.Review) { r.ValidUntil = time.Time{} }},
		{"no approvals needed", func(r *sluice.Review) { r.MinApprovals = 0 }},
		{"decision without approver", func(r *sluice.Review) {
			r.Decisions = []sluice.ReviewDecision{vote("", true, at(time.Minute))}
		}},
		{"decision without time", func(r *sluice.Review) {
			r.Decisions = []sluice.ReviewDecision{vote("bob", true, time.Time{})}
		}},
		{"approver votes twice", func(r *sluice.Review) {
			r.MinApprovals = 3
			r.Decisions = []sluice.ReviewDecision{vote("bob", true, at(time.Minute)), vote("bob", true, at(2*time.Minute))}
		}},
	} {
		r := review("bad", at(0))
		c.spoil(r)
		if err := st.CreateReview(ctx, r); err == nil {
			t.Errorf("CreateReview(%s) succeeded, want an error", c.name)
		}
		// Nothing of it was stored: not the review, not its first decision.
		if _, err := st.GetReview(ctx, "bad"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after CreateReview(%s) failed, GetReview = %v, want ErrNotFound", c.name, err)
		}
	}
	if err := st.CreateReview(ctx, nil); err == nil {
		t.Error("CreateReview(nil) succeeded, want an error")
	}
	// The failures left the id free.
	mustCreateReview(t, st, review("bad", at(0)))
}

func testReviewUnknown(t *testing.T, st store.Store) {
	ctx := context.Background()
	mustCreateReview(t, st, review("r1", at(0)))
	if r, err := st.GetReview(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetReview(unknown) = %v, %v; want ErrNotFound", r, err)
	}
	if _, err := st.AddReviewDecision(ctx, "nope", vote("bob", true, at(time.Minute))); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddReviewDecision(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := st.ClaimReview(ctx, "nope", at(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ClaimReview(unknown) = %v, want ErrNotFound", err)
	}
	if err := st.SetReviewTicket(ctx, "nope", "slack", "ts"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetReviewTicket(unknown) = %v, want ErrNotFound", err)
	}
	// Ids are exact: no prefix or case-insensitive matching.
	for _, id := range []string{"R1", "r", "r1 ", "%"} {
		if _, err := st.GetReview(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetReview(%q) = %v, want ErrNotFound", id, err)
		}
	}
	// None of it touched r1.
	equalReview(t, mustGetReview(t, st, "r1"), review("r1", at(0)))
}

// reviewFixture creates six reviews and brings each to its status through
// the store's own transitions, and returns them as stored, by id:
//
//	id  subject  connection  status    created
//	r1  alice    orders      pending   +1m
//	r2  bob      orders      approved  +2m
//	r3  alice    billing     denied    +3m
//	r4  alice    orders      executed  +4m
//	r5  bob      billing     pending   +5m
//	r6  alice    orders      expired   +5m (same time as r5: the larger id is newer)
//
// They are created out of order so that insertion order cannot pass for
// newest first.
func reviewFixture(t *testing.T, st store.Store) map[string]*sluice.Review {
	t.Helper()
	ctx := context.Background()
	rows := []struct {
		id, subject, conn string
		minute            int
	}{
		{"r3", "alice", "billing", 3},
		{"r6", "alice", "orders", 5},
		{"r1", "alice", "orders", 1},
		{"r5", "bob", "billing", 5},
		{"r2", "bob", "orders", 2},
		{"r4", "alice", "orders", 4},
	}
	for _, row := range rows {
		r := review(row.id, at(time.Duration(row.minute)*time.Minute))
		r.Request.Subject, r.Request.Connection = row.subject, row.conn
		if row.id == "r6" {
			r.ValidUntil = r.CreatedAt.Add(time.Minute)
		}
		mustCreateReview(t, st, r)
	}
	mustDecide(t, st, "r2", vote("carol", true, at(6*time.Minute)))
	mustDecide(t, st, "r3", vote("carol", false, at(6*time.Minute)))
	mustDecide(t, st, "r4", vote("carol", true, at(6*time.Minute)))
	mustClaim(t, st, "r4", at(7*time.Minute))
	expired, err := st.ExpireReviews(ctx, at(10*time.Minute))
	if err != nil || !slices.Equal(reviewIDs(expired), []string{"r6"}) {
		t.Fatalf("ExpireReviews = %v, %v; want r6", reviewIDs(expired), err)
	}
	out := make(map[string]*sluice.Review)
	for _, row := range rows {
		out[row.id] = mustGetReview(t, st, row.id)
	}
	for id, want := range map[string]sluice.ReviewStatus{
		"r1": sluice.ReviewPending, "r2": sluice.ReviewApproved, "r3": sluice.ReviewDenied,
		"r4": sluice.ReviewExecuted, "r5": sluice.ReviewPending, "r6": sluice.ReviewExpired,
	} {
		if out[id].Status != want {
			t.Fatalf("fixture review %s is %s, want %s", id, out[id].Status, want)
		}
	}
	return out
}

func testReviewList(t *testing.T, st store.Store) {
	fixture := reviewFixture(t, st)
	other := time.FixedZone("UTC-08", -8*3600)
	S := func(s ...sluice.ReviewStatus) []sluice.ReviewStatus { return s }
	tests := []struct {
		name string
		f    store.ReviewFilter
		want []string
	}{
		{"all", store.ReviewFilter{}, []string{"r6", "r5", "r4", "r3", "r2", "r1"}},
		{"pending", store.ReviewFilter{Statuses: S(sluice.ReviewPending)}, []string{"r5", "r1"}},
		{"pending or approved", store.ReviewFilter{Statuses: S(sluice.ReviewApproved, sluice.ReviewPending)}, []string{"r5", "r2", "r1"}},
		{"executed", store.ReviewFilter{Statuses: S(sluice.ReviewExecuted)}, []string{"r4"}},
		{"expired or denied", store.ReviewFilter{Statuses: S(sluice.ReviewExpired, sluice.ReviewDenied)}, []string{"r6", "r3"}},
		{"unknown status", store.ReviewFilter{Statuses: S("nope")}, nil},
		{"subject", store.ReviewFilter{Subject: "alice"}, []string{"r6", "r4", "r3", "r1"}},
		{"connection", store.ReviewFilter{Connection: "billing"}, []string{"r5", "r3"}},
		{"subject, connection and status", store.ReviewFilter{Subject: "alice", Connection: "orders",
			Statuses: S(sluice.ReviewPending, sluice.ReviewExecuted)}, []string{"r4", "r1"}},
		{"since is inclusive", store.ReviewFilter{Since: at(4 * time.Minute)}, []string{"r6", "r5", "r4"}},
		{"since a microsecond after", store.ReviewFilter{Since: at(4*time.Minute + time.Microsecond)}, []string{"r6", "r5"}},
		{"since in another zone", store.ReviewFilter{Since: at(3 * time.Minute).In(other)}, []string{"r6", "r5", "r4", "r3"}},
		{"limit", store.ReviewFilter{Limit: 2}, []string{"r6", "r5"}},
		{"limit and status", store.ReviewFilter{Limit: 2, Statuses: S(sluice.ReviewPending, sluice.ReviewApproved)}, []string{"r5", "r2"}},
		{"limit above count", store.ReviewFilter{Limit: 50}, []string{"r6", "r5", "r4", "r3", "r2", "r1"}},
		{"no match", store.ReviewFilter{Subject: "mallory"}, nil},
		{"subject is exact", store.ReviewFilter{Subject: "ali"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.ListReviews(context.Background(), tt.f)
			if err != nil {
				t.Fatalf("ListReviews: %v", err)
			}
			if ids := reviewIDs(got); !slices.Equal(ids, tt.want) {
				t.Fatalf("ListReviews(%+v) = %v, want %v", tt.f, ids, tt.want)
			}
			// Listed reviews carry every field, decisions included.
			for _, r := range got {
				equalReview(t, r, fixture[r.ID])
			}
		})
	}
}

func testReviewListDefaultLimit(t *testing.T, st store.Store) {
	const n = 105
	for i := range n {
		mustCreateReview(t, st, review(fmt.Sprintf("r%03d", i), at(time.Duration(i)*time.Second)))
	}
	for _, tt := range []struct {
		limit, want int
	}{{0, 100}, {200, n}, {7, 7}} {
		got, err := st.ListReviews(context.Background(), store.ReviewFilter{Limit: tt.limit})
		if err != nil {
			t.Fatalf("ListReviews(limit %d): %v", tt.limit, err)
		}
		if len(got) != tt.want {
			t.Fatalf("ListReviews(limit %d) returned %d reviews, want %d", tt.limit, len(got), tt.want)
		}
		for i, r := range got {
			if want := fmt.Sprintf("r%03d", n-1-i); r.ID != want {
				t.Fatalf("ListReviews(limit %d)[%d] = %s, want %s (newest first)", tt.limit, i, r.ID, want)
			}
		}
	}
	if _, err := st.ListReviews(context.Background(), store.ReviewFilter{Limit: -1}); err == nil {
		t.Error("ListReviews with a negative limit succeeded, want an error")
	}
}

func testReviewFind(t *testing.T, st store.Store) {
	// Reviews of alice on orders for statement H, and decoys that differ in
	// one of subject, connection or hash:
	//
	//	id     status    created  valid until
	//	f1     approved  +1m      +1h
	//	f2     pending   +2m      +1h
	//	f3     denied    +3m      +1h
	//	f4     approved  +4m      +10m
	//	bob    approved  +5m      +1h    (subject bob)
	//	conn   approved  +5m      +1h    (connection billing)
	//	hash   approved  +5m      +1h    (hash H2)
	const hash = "sha256:0f1e2d3c"
	for _, c := range []struct {
		id                   string
		minute, validMinutes int
		subject, conn, hash  string
		approve, deny        bool
	}{
		{"f1", 1, 60, "alice", "orders", hash, true, false},
		{"f2", 2, 60, "alice", "orders", hash, false, false},
		{"f3", 3, 60, "alice", "orders", hash, false, true},
		{"f4", 4, 10, "alice", "orders", hash, true, false},
		{"bob", 5, 60, "bob", "orders", hash, true, false},
		{"conn", 5, 60, "alice", "billing", hash, true, false},
		{"hash", 5, 60, "alice", "orders", "sha256:other", true, false},
	} {
		created := at(time.Duration(c.minute) * time.Minute)
		r := review(c.id, created)
		r.Request.Subject, r.Request.Connection, r.StatementHash = c.subject, c.conn, c.hash
		r.ValidUntil = at(time.Duration(c.validMinutes) * time.Minute)
		mustCreateReview(t, st, r)
		if c.approve || c.deny {
			mustDecide(t, st, c.id, vote("carol", c.approve, created.Add(time.Second)))
		}
	}
	S := func(s ...sluice.ReviewStatus) []sluice.ReviewStatus { return s }
	for _, tt := range []struct {
		name                string
		subject, conn, hash string
		statuses            []sluice.ReviewStatus
		now                 time.Time
		want                string // "" for ErrNotFound
	}{
		{"newest approved", "alice", "orders", hash, S(sluice.ReviewApproved), at(5 * time.Minute), "f4"},
		{"valid until is exclusive", "alice", "orders", hash, S(sluice.ReviewApproved), at(10 * time.Minute), "f1"},
		{"a microsecond before", "alice", "orders", hash, S(sluice.ReviewApproved), at(10*time.Minute - time.Microsecond), "f4"},
		{"none valid", "alice", "orders", hash, S(sluice.ReviewApproved), at(2 * time.Hour), ""},
		{"pending", "alice", "orders", hash, S(sluice.ReviewPending), at(5 * time.Minute), "f2"},
		{"pending or approved", "alice", "orders", hash, S(sluice.ReviewPending, sluice.ReviewApproved), at(10 * time.Minute), "f2"},
		{"any status", "alice", "orders", hash, nil, at(5 * time.Minute), "f4"},
		{"any status later", "alice", "orders", hash, nil, at(10 * time.Minute), "f3"},
		{"executed", "alice", "orders", hash, S(sluice.ReviewExecuted), at(5 * time.Minute), ""},
		{"other subject", "bob", "orders", hash, S(sluice.ReviewApproved), at(5 * time.Minute), "bob"},
		{"unknown subject", "mallory", "orders", hash, S(sluice.ReviewApproved), at(5 * time.Minute), ""},
		{"other connection", "alice", "billing", hash, S(sluice.ReviewApproved), at(5 * time.Minute), "conn"},
		{"other hash", "alice", "orders", "sha256:other", S(sluice.ReviewApproved), at(5 * time.Minute), "hash"},
		{"unknown hash", "alice", "orders", "sha256:none", nil, at(5 * time.Minute), ""},
		{"hash is exact", "alice", "orders", hash[:10], nil, at(5 * time.Minute), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.FindReview(context.Background(), tt.subject, tt.conn, tt.hash, tt.statuses, tt.now)
			if tt.want == "" {
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("FindReview = %v, %v; want ErrNotFound", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FindReview: %v", err)
			}
			if got.ID != tt.want {
				t.Fatalf("FindReview = %s, want %s", got.ID, tt.want)
			}
			equalReview(t, got, mustGetReview(t, st, tt.want))
		})
	}
}

func testReviewTickets(t *testing.T, st store.Store) {
	ctx := context.Background()
	r := review("r1", at(0))
	r.Tickets = map[string]string{"webhook": "delivery-1"}
	other := review("r2", at(time.Second))
	mustCreateReview(t, st, r)
	mustCreateReview(t, st, other)

	set := func(id, notifier, ref string) {
		t.Helper()
		if err := st.SetReviewTicket(ctx, id, notifier, ref); err != nil {
			t.Fatalf("SetReviewTicket(%s, %s): %v", id, notifier, err)
		}
	}
	set("r1", "slack", "C024BE91L/1712345678.000200")
	set("r1", "github", "sluicehq/ops#41")
	set("r1", "github", "sluicehq/ops#42") // replaces
	r.Tickets = map[string]string{"webhook": "delivery-1", "slack": "C024BE91L/1712345678.000200", "github": "sluicehq/ops#42"}
	equalReview(t, mustGetReview(t, st, "r1"), r)
	// Other reviews keep theirs: none.
	equalReview(t, mustGetReview(t, st, "r2"), other)

	// A decided review still takes tickets (its outcome is posted there).
	mustDecide(t, st, "r2", vote("carol", false, at(time.Minute)))
	set("r2", "jira", "OPS-7")
	if got := mustGetReview(t, st, "r2"); !maps.Equal(got.Tickets, map[string]string{"jira": "OPS-7"}) || got.Status != sluice.ReviewDenied {
		t.Errorf("r2 after a ticket: status %s tickets %v, want denied with jira OPS-7", got.Status, got.Tickets)
	}
	if err := st.SetReviewTicket(ctx, "r1", "", "x"); err == nil {
		t.Error("SetReviewTicket with an empty notifier succeeded, want an error")
	}
	equalReview(t, mustGetReview(t, st, "r1"), r)
}

func testReviewOddBytes(t *testing.T, st store.Store) {
	// The held statement is whatever the client sent. Recording it must not
	// fail: a backend keeps odd bytes exactly or replaces them with U+FFFD.
	r := review("r1", at(0))
	// Each value has one kind of odd byte, as a backend may treat the two
	// kinds differently.
	r.Request.Text = "DELETE FROM t WHERE a = 'caf\xe9' -- end"
	r.Request.Statement = "nul\x00name"
	r.Request.Params = []*string{ptr("a\xffb"), ptr("nul\x00")}
	r.Reasons = []string{"odd \xff", "nul \x00"}
	r.Tickets = map[string]string{"slack": "ts\x00"}
	if err := st.CreateReview(context.Background(), r); err != nil {
		t.Fatalf("CreateReview with invalid UTF-8 and NUL: %v", err)
	}
	mustDecide(t, st, "r1", sluice.ReviewDecision{By: "bob", Approve: true, Reason: "ok \xff\x00", Via: "cli", At: at(time.Minute)})
	got := mustGetReview(t, st, "r1")
	check := func(what, got, want string) {
		t.Helper()
		if got != want && got != sanitized(want) {
			t.Errorf("%s = %q, want %q or %q", what, got, want, sanitized(want))
		}
	}
	check("Request.Text", got.Request.Text, r.Request.Text)
	check("Request.Statement", got.Request.Statement, r.Request.Statement)
	if len(got.Request.Params) != 2 || len(got.Reasons) != 2 || len(got.Decisions) != 1 {
		t.Fatalf("got %s, want 2 params, 2 reasons and 1 decision", show(got))
	}
	check("Params[0]", *got.Request.Params[0], *r.Request.Params[0])
	check("Params[1]", *got.Request.Params[1], *r.Request.Params[1])
	check("Reasons[0]", got.Reasons[0], r.Reasons[0])
	check("Reasons[1]", got.Reasons[1], r.Reasons[1])
	check("Tickets[slack]", got.Tickets["slack"], r.Tickets["slack"])
	check("Decisions[0].Reason", got.Decisions[0].Reason, "ok \xff\x00")
	if got.Status != sluice.ReviewApproved {
		t.Errorf("Status = %s, want approved", got.Status)
	}
}

func testReviewResetIndex(t *testing.T, st store.Store) {
	// Reviews are state, not index: a rebuild of the index keeps them.
	r := review("r1", at(0))
	mustCreateReview(t, st, r)
	mustApply(t, st, indexBatch(42))
	if err := st.ResetIndex(context.Background()); err != nil {
		t.Fatalf("ResetIndex: %v", err)
	}
	equalReview(t, mustGetReview(t, st, "r1"), r)
}
