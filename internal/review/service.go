// Package review runs the approval flow of held requests: it opens a
// review when a rule says so, announces it to approvers, collects their
// votes (N of M, never the requester's own), wakes the session that holds
// the request, releases the request exactly once, and expires what nobody
// decided. Every step is journaled.
package review

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/review/notify"
	"github.com/sluicehq/sluice/internal/sqlclass"
	"github.com/sluicehq/sluice/internal/store"
)

// Store is the subset of the state store reviews use.
type Store interface {
	CreateReview(ctx context.Context, r *sluice.Review) error
	GetReview(ctx context.Context, id string) (*sluice.Review, error)
	ListReviews(ctx context.Context, f store.ReviewFilter) ([]*sluice.Review, error)
	AddReviewDecision(ctx context.Context, id string, d sluice.ReviewDecision) (*sluice.Review, error)
	ClaimReview(ctx context.Context, id string, now time.Time) (*sluice.Review, error)
	FindReview(ctx context.Context, subject, connection, hash string, statuses []sluice.ReviewStatus, now time.Time) (*sluice.Review, error)
	ExpireReviews(ctx context.Context, now time.Time) ([]*sluice.Review, error)
	SetReviewTicket(ctx context.Context, id, notifier, ref string) error
}

// Recorder journals review steps (the gate's audit trail).
type Recorder interface {
	Record(ctx context.Context, ev *sluice.Event) error
}

// Estimator estimates how many rows a statement would touch without running
// it (EXPLAIN). It returns -1 when it cannot tell.
type Estimator interface {
	Estimate(ctx context.Context, req *sluice.Request) (int64, error)
}

// Service is the review flow. Set the fields before use; it is safe for
// concurrent use afterwards.
type Service struct {
	Store     Store
	Recorder  Recorder
	Notifiers []notify.Notifier
	Estimator Estimator // optional
	// Validity is how long an approval stays usable after the requester's
	// wait ended.
	Validity time.Duration
	// ConsoleURL is the console's base URL, for links in notifications.
	ConsoleURL string
	// Groups gives the groups of approvers who decide through a notifier
	// (Slack, GitHub, Jira), where only their subject is known: group name
	// to subjects.
	Groups map[string][]string
	// Poll is how often a waiting session checks the store, for decisions
	// taken on another replica. Default 1s.
	Poll time.Duration
	Log  *slog.Logger
	Now  func() time.Time

	mu      sync.Mutex
	waiters map[string][]chan struct{}
	wg      sync.WaitGroup // notifications in flight
}

// Errors the flow returns.
var (
	ErrSelfApproval = errors.New("a requester cannot approve or deny their own review")
	ErrNotApprover  = errors.New("not one of this review's approvers")
)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return "rv_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Hold returns the review that holds req under decision d: an approved,
// unused review of the same subject for the same statement (the caller then
// claims it), a pending one to wait on with the others, or a new one, which
// is stored, journaled and announced. hash is req.Hash() taken before req
// was masked for the audit trail; req itself is what approvers and the
// journal see.
//
// Once the review's id is known, and before a new review is stored, Hold
// calls record (if not nil) with it: the gate writes the request's own
// record there, so that the journal holds the request before the review it
// opened. If record fails, Hold stores nothing and returns its error.
func (s *Service) Hold(ctx context.Context, req *sluice.Request, hash string, d sluice.Decision, reasons []string,
	record func(reviewID string) error) (*sluice.Review, error) {
	first := func(id string) error {
		if record == nil {
			return nil
		}
		return record(id)
	}
	now := s.now()
	r, err := s.Store.FindReview(ctx, req.Subject, req.Connection, hash,
		[]sluice.ReviewStatus{sluice.ReviewApproved, sluice.ReviewPending}, now)
	if err == nil {
		if err := first(r.ID); err != nil {
			return nil, err
		}
		return r, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("find review: %w", err)
	}
	r = &sluice.Review{
		ID: newID(), Status: sluice.ReviewPending, Request: *req, Reasons: reasons,
		Policy: d.Policy, Rule: d.Rule, Approvers: d.Approvers, MinApprovals: max(d.MinApprovals, 1),
		EstimatedRows: -1, StatementHash: hash, CreatedAt: now,
		WaitUntil: now.Add(d.Wait), ValidUntil: now.Add(d.Wait + s.Validity),
	}
	r.EstimatedRows, r.Impact = s.estimate(ctx, req)
	if err := first(r.ID); err != nil {
		return nil, err
	}
	if err := s.Store.CreateReview(ctx, r); err != nil {
		return nil, fmt.Errorf("create review: %w", err)
	}
	if err := s.record(ctx, r, "created"); err != nil {
		return nil, err
	}
	s.announce(r)
	return r, nil
}

// estimate asks the estimator, briefly, and says what it found in words.
func (s *Service) estimate(ctx context.Context, req *sluice.Request) (int64, string) {
	if req.Kind == sluice.KindHTTP && req.HTTP != nil {
		// No planner to ask: say what the call matched.
		impact := fmt.Sprintf("%s %s", req.HTTP.Method, req.HTTP.URL)
		if len(req.HTTP.Patterns) > 0 {
			impact += "; matches " + strings.Join(req.HTTP.Patterns, ", ")
		}
		return -1, impact
	}
	if s.Estimator == nil || req.Kind != sluice.KindSQL {
		return -1, ""
	}
	a := sqlclass.Classify(req.Text)
	if a.Err == nil && len(a.Statements) > 1 {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return s.estimateEach(ctx, req, a.Statements)
	}
	if a.Err == nil && len(a.Statements) == 1 && !estimable(a.Statements[0].Kind) {
		return -1, "" // the planner has nothing to say about DDL and the like
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	n, err := s.Estimator.Estimate(ctx, req)
	switch {
	case err != nil:
		// The cause may name the upstream's address and user: it goes to
		// the log, not to approvers.
		s.log().Info("impact estimate failed", "request", req.ID, "err", err)
		return -1, "no estimate: the planner could not be asked (the gateway's log says why)"
	case n < 0:
		return -1, ""
	}
	return n, fmt.Sprintf("the planner estimates %d rows", n)
}

// maxEstimates is how many statements of a script are estimated.
const maxEstimates = 20

// estimateEach estimates each statement of a request that holds several (a
// `sluice run` script, a simple query) on its own, and says per statement
// what the planner expects. The rows are the sum of those estimated, or -1
// when none could be. A statement that depends on an earlier one (a table
// the script creates) cannot be estimated before the earlier one ran.
func (s *Service) estimateEach(ctx context.Context, req *sluice.Request, stmts []sqlclass.Statement) (int64, string) {
	total := int64(-1)
	var parts []string
	for i, st := range stmts {
		if i == maxEstimates {
			parts = append(parts, fmt.Sprintf("#%d and later: not estimated", i+1))
			break
		}
		if !estimable(st.Kind) {
			parts = append(parts, fmt.Sprintf("#%d %s: not estimated", i+1, st.Kind))
			continue
		}
		one := *req
		one.Text, one.Params = st.Text, nil
		n, err := s.Estimator.Estimate(ctx, &one)
		if err != nil || n < 0 {
			if err != nil {
				s.log().Info("impact estimate failed", "request", req.ID, "statement", i+1, "err", err)
			}
			parts = append(parts, fmt.Sprintf("#%d %s: no estimate", i+1, st.Kind))
			continue
		}
		total = max(total, 0) + n
		parts = append(parts, fmt.Sprintf("#%d %s: %d rows", i+1, st.Kind, n))
	}
	return total, "the planner estimates " + strings.Join(parts, "; ")
}

// record journals a review step.
func (s *Service) record(ctx context.Context, r *sluice.Review, step string) error {
	rv := *r
	ev := &sluice.Event{Time: s.now(), Type: sluice.EventReview, Session: r.Request.SessionID, Review: &rv, Reason: step}
	if err := s.Recorder.Record(ctx, ev); err != nil {
		return fmt.Errorf("journal review %s: %w", step, err)
	}
	return nil
}

// announce tells the notifiers about a new review, in the background.
func (s *Service) announce(r *sluice.Review) {
	links := notify.Links{CLI: fmt.Sprintf("sluice reviews approve %s --reason '...'", r.ID)}
	if s.ConsoleURL != "" {
		links.Review = strings.TrimRight(s.ConsoleURL, "/") + "/reviews/" + r.ID
	}
	for _, n := range s.Notifiers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ref, err := n.Opened(ctx, r, links)
			if err != nil {
				s.log().Warn("announce review", "review", r.ID, "notifier", n.Name(), "err", err)
				s.record(ctx, r, "notify failed: "+n.Name())
				return
			}
			if err := s.Store.SetReviewTicket(ctx, r.ID, n.Name(), ref); err != nil {
				s.log().Warn("record review ticket", "review", r.ID, "notifier", n.Name(), "err", err)
			}
			s.record(ctx, r, "notified: "+n.Name()+" "+ref)
		}()
	}
}

// closeTickets tells the notifiers how a review ended, in the background.
func (s *Service) closeTickets(r *sluice.Review) {
	for _, n := range s.Notifiers {
		ref := r.Tickets[n.Name()]
		if ref == "" {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := n.Closed(ctx, r, ref); err != nil {
				s.log().Warn("update review ticket", "review", r.ID, "notifier", n.Name(), "err", err)
			}
		}()
	}
}

// Drain waits for notifications in flight (for shutdown and tests).
func (s *Service) Drain() { s.wg.Wait() }

// Get returns one review.
func (s *Service) Get(ctx context.Context, id string) (*sluice.Review, error) {
	return s.Store.GetReview(ctx, id)
}

// List returns reviews matching f.
func (s *Service) List(ctx context.Context, f store.ReviewFilter) ([]*sluice.Review, error) {
	return s.Store.ListReviews(ctx, f)
}

// MayDecide reports whether id is one of r's approvers (and not its
// requester).
func MayDecide(r *sluice.Review, id *sluice.Identity) error {
	if id.Subject == r.Request.Subject {
		return ErrSelfApproval
	}
	for _, a := range r.Approvers {
		sub, err := policy.ParseSubject(a)
		if err == nil && sub.Matches(id) {
			return nil
		}
	}
	return ErrNotApprover
}

// Decide records approver's vote on review id. approver must be one of the
// review's approvers and not its requester. When the vote decides the
// review, the held session wakes and the announcements are updated.
func (s *Service) Decide(ctx context.Context, id string, approver *sluice.Identity, approve bool, reason, via string) (*sluice.Review, error) {
	r, err := s.Store.GetReview(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := MayDecide(r, approver); err != nil {
		return r, err
	}
	r, err = s.Store.AddReviewDecision(ctx, id, sluice.ReviewDecision{By: approver.Subject, Approve: approve,
		Reason: reason, Via: via, At: s.now()})
	if err != nil {
		return r, err
	}
	step := fmt.Sprintf("vote: %s by %s via %s (%d of %d approvals)", verb(approve), approver.Subject, via, r.Approvals(), r.MinApprovals)
	if r.Status != sluice.ReviewPending {
		step = fmt.Sprintf("%s by %s via %s", r.Status, approver.Subject, via)
	}
	if err := s.record(ctx, r, step); err != nil {
		s.log().Error("journal review decision", "review", id, "err", err)
	}
	if r.Status != sluice.ReviewPending {
		s.wake(id)
		if r.Status == sluice.ReviewDenied {
			s.closeTickets(r)
		}
	}
	return r, nil
}

func verb(approve bool) string {
	if approve {
		return "approve"
	}
	return "deny"
}

// DecideAs is Decide for approvers known only by subject, such as those who
// act in Slack, GitHub or Jira: their groups come from the configured group
// map. It implements notify.Decider.
func (s *Service) DecideAs(ctx context.Context, id, subject string, approve bool, reason, via string) (*sluice.Review, error) {
	ident := &sluice.Identity{Subject: subject}
	for g, members := range s.Groups {
		for _, m := range members {
			if m == subject {
				ident.Groups = append(ident.Groups, g)
			}
		}
	}
	return s.Decide(ctx, id, ident, approve, reason, via)
}

// Claim releases an approved review's statement, exactly once, and
// journals it.
func (s *Service) Claim(ctx context.Context, id string) (*sluice.Review, error) {
	r, err := s.Store.ClaimReview(ctx, id, s.now())
	if err != nil {
		return r, err
	}
	if err := s.record(ctx, r, "executed"); err != nil {
		return r, err
	}
	s.closeTickets(r)
	return r, nil
}

// Wait blocks until review id is no longer pending, until the time until,
// or until ctx ends, and returns the review as it then is (still pending
// after a timeout).
func (s *Service) Wait(ctx context.Context, id string, until time.Time) (*sluice.Review, error) {
	poll := s.Poll
	if poll <= 0 {
		poll = time.Second
	}
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	if s.waiters == nil {
		s.waiters = map[string][]chan struct{}{}
	}
	s.waiters[id] = append(s.waiters[id], ch)
	s.mu.Unlock()
	defer s.unwait(id, ch)
	deadline := time.NewTimer(time.Until(until))
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		r, err := s.Store.GetReview(ctx, id)
		if err != nil || r.Status != sluice.ReviewPending {
			return r, err
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-deadline.C:
			return s.Store.GetReview(context.WithoutCancel(ctx), id)
		case <-ch:
		case <-tick.C:
		}
	}
}

func (s *Service) wake(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.waiters[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (s *Service) unwait(id string, ch chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.waiters[id]
	for i, c := range ws {
		if c == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(s.waiters, id)
	} else {
		s.waiters[id] = ws
	}
}

// Expire marks reviews whose validity ended as expired, journals and
// announces it. It returns how many expired.
func (s *Service) Expire(ctx context.Context) (int, error) {
	rs, err := s.Store.ExpireReviews(ctx, s.now())
	if err != nil {
		return 0, err
	}
	for _, r := range rs {
		s.record(ctx, r, "expired")
		s.wake(r.ID)
		s.closeTickets(r)
	}
	return len(rs), nil
}

// ExpireEvery runs Expire every interval until ctx ends.
func (s *Service) ExpireEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Expire(ctx); err != nil {
				s.log().Warn("expire reviews", "err", err)
			}
		}
	}
}

// Decider adapts the service to notifiers' inbound decisions (Slack
// buttons, GitHub and Jira comments): approvers are known by subject, and
// refusals become caller-facing errors, the only text a chat or ticket
// shows.
type Decider struct{ *Service }

var _ notify.Decider = Decider{}
var _ notify.ReviewLookup = Decider{}

// Decide records a vote by subject.
func (d Decider) Decide(ctx context.Context, id, subject string, approve bool, reason, via string) (*sluice.Review, error) {
	r, err := d.DecideAs(ctx, id, subject, approve, reason, via)
	return r, PublicError(err)
}

// PublicError turns the flow's refusals into errors whose message can be
// shown to the person who tried; other errors pass unchanged.
func PublicError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrSelfApproval), errors.Is(err, ErrNotApprover):
		return sluice.Errorf(sluice.EForbidden, "%v", err)
	case errors.Is(err, store.ErrReviewClosed):
		return sluice.Errorf(sluice.EConflict, "the review is no longer pending")
	case errors.Is(err, store.ErrAlreadyVoted):
		return sluice.Errorf(sluice.EConflict, "you already voted on this review")
	case errors.Is(err, store.ErrNotFound):
		return sluice.Errorf(sluice.ENotFound, "no such review")
	}
	return err
}

// estimable reports whether EXPLAIN can estimate a statement of kind.
func estimable(kind string) bool {
	switch kind {
	case "select", "insert", "update", "delete", "merge":
		return true
	}
	return false
}
