// Package store defines the gateway's state store: service tokens, reviews
// (requests held for approval), daily token usage (for the budgets of the
// Claude API passthrough), and an index of the audit journal (sessions
// and statements, and the journal position the index has reached) that
// `sluice audit search` queries and `sluice audit reindex` rebuilds from the
// journal. Backends live in
// subpackages (sqlite, the embedded default, and postgres, for several
// replicas sharing state); storetest holds the conformance suite every
// backend must pass. The Indexer keeps the index up to date.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
)

// ErrNotFound is returned when a looked-up record does not exist.
var ErrNotFound = errors.New("not found")

// ErrReviewClosed is returned when a review cannot take a step because of
// its status: a decision on a review that is no longer pending, or a claim
// of a review that is not approved or whose approval is no longer valid.
var ErrReviewClosed = errors.New("review is closed")

// ErrAlreadyVoted is returned when an approver decides a review they have
// already decided.
var ErrAlreadyVoted = errors.New("approver has already voted on this review")

// Store is the gateway's persistent state. Implementations are safe for
// concurrent use by many goroutines and by several processes sharing the same
// backing database (a `sluice token issue` beside a running `sluice serve`).
type Store interface {
	// CreateSession records a new session. The ID must be unique.
	CreateSession(ctx context.Context, s *sluice.Session) error
	// EndSession sets the end time and reason of an open session. Ending a
	// session twice keeps the first end. It returns ErrNotFound for an
	// unknown id.
	EndSession(ctx context.Context, id string, at time.Time, reason string) error
	// GetSession returns one session or ErrNotFound.
	GetSession(ctx context.Context, id string) (*sluice.Session, error)
	// ListSessions returns sessions matching f, newest first.
	ListSessions(ctx context.Context, f SessionFilter) ([]*sluice.Session, error)

	// AddStatements records statements in one transaction, in order: all of
	// them or none. A statement whose session does not exist fails the batch
	// with an error that wraps ErrNotFound.
	AddStatements(ctx context.Context, stmts []*sluice.StatementRecord) error
	// ListStatements returns a session's statements ordered by Seq, those
	// with equal Seq in the order they were added. The statements of a
	// session whose start is not indexed (journal retention removed it) are
	// still returned; ErrNotFound means neither the session nor any of its
	// statements is known.
	ListStatements(ctx context.Context, sessionID string) ([]*sluice.StatementRecord, error)

	// ApplyIndex applies one index update in one transaction: all of it or,
	// on error, none. Sessions are inserted first, then ends applied, then
	// statements inserted, so a batch may start, use and end a session.
	// Sessions and statements whose id is already stored are left as they
	// are, so that a batch re-applied after a crash changes nothing. A
	// statement's id comes with one RequestSeq, as the journal gives it; a
	// backend may rely on that to find a stored statement. An end
	// keeps the session's first end, and an end of an unknown session is
	// ignored. Statements need no indexed session. b.Seq becomes the indexed
	// position only if it is larger than the stored one. A nil or empty
	// batch is a no-op.
	ApplyIndex(ctx context.Context, b *IndexBatch) error
	// IndexedSeq returns the journal position the index has reached: the
	// largest Seq applied since the last ResetIndex, 0 when there is none.
	IndexedSeq(ctx context.Context) (uint64, error)
	// ResetIndex deletes every session and statement and sets the indexed
	// position to 0, in one transaction, so that the index can be rebuilt
	// from the journal. Service tokens, reviews and token usage are kept.
	ResetIndex(ctx context.Context) error
	// SearchStatements returns the statements matching f, newest first:
	// by StartedAt descending (statements without a start time last), then
	// RequestSeq descending, then the most recently stored first.
	SearchStatements(ctx context.Context, f StatementFilter) ([]*sluice.StatementRecord, error)

	// CreateToken records a newly issued service token. The ID must be unique.
	CreateToken(ctx context.Context, t *sluice.ServiceToken) error
	// GetToken returns one service token or ErrNotFound.
	GetToken(ctx context.Context, id string) (*sluice.ServiceToken, error)
	// ListTokens returns all service tokens, newest first.
	ListTokens(ctx context.Context) ([]*sluice.ServiceToken, error)
	// RevokeToken marks a token revoked at the given time. Revoking twice
	// keeps the first time. It returns ErrNotFound for an unknown id.
	RevokeToken(ctx context.Context, id string, at time.Time) error

	// Reviews are state shared by every replica, not part of the index:
	// the journal records each step, and ResetIndex leaves them alone. A
	// review's requester is its Request.Subject and its connection
	// Request.Connection.
	//
	// CreateReview records a new review. The ID must be unique and the
	// Status pending; CreatedAt and ValidUntil must be set and MinApprovals
	// must be at least 1. Every field is stored as given, Decisions (which
	// must name distinct approvers) and Tickets included.
	CreateReview(ctx context.Context, r *sluice.Review) error
	// GetReview returns one review, with its decisions in the order they
	// were added, or ErrNotFound.
	GetReview(ctx context.Context, id string) (*sluice.Review, error)
	// ListReviews returns the reviews matching f, newest first: by
	// CreatedAt descending, then by ID descending.
	ListReviews(ctx context.Context, f ReviewFilter) ([]*sluice.Review, error)
	// AddReviewDecision appends d to the decisions of a pending review and
	// returns the review as it then is. It is atomic, also against other
	// processes sharing the store: a deny makes the review denied; an
	// approval that brings the number of distinct approving approvers to
	// MinApprovals makes it approved; DecidedAt becomes d.At when the
	// review leaves pending. d.By and d.At must be set.
	//
	// It returns ErrNotFound for an unknown id; ErrReviewClosed if the
	// review is not pending (decided, expired or executed) or its
	// ValidUntil is at or before d.At (it is expired in all but name until
	// ExpireReviews runs); and ErrAlreadyVoted if d.By has already decided
	// this review. On error nothing is changed.
	AddReviewDecision(ctx context.Context, id string, d sluice.ReviewDecision) (*sluice.Review, error)
	// ClaimReview marks an approved review executed, so that its statement
	// runs exactly once: it succeeds only when the review is approved and
	// now is before its ValidUntil, sets ExecutedAt to now and returns the
	// review as it then is. Otherwise it returns ErrReviewClosed, or
	// ErrNotFound for an unknown id. Of concurrent claims of one review,
	// in this process or others, exactly one succeeds.
	ClaimReview(ctx context.Context, id string, now time.Time) (*sluice.Review, error)
	// FindReview returns the newest review (as ListReviews orders them)
	// whose requester is subject, on connection, for the statement with
	// the given hash, whose status is one of statuses (any status when
	// statuses is empty) and whose ValidUntil is after now. It returns
	// ErrNotFound when there is none.
	FindReview(ctx context.Context, subject, connection, hash string, statuses []sluice.ReviewStatus, now time.Time) (*sluice.Review, error)
	// ExpireReviews marks every pending or approved review whose
	// ValidUntil is at or before now expired, and returns those reviews as
	// they then are, newest first. Each review is returned by exactly one
	// call, even when several processes expire at once. DecidedAt and
	// ExecutedAt are left as they are.
	ExpireReviews(ctx context.Context, now time.Time) ([]*sluice.Review, error)
	// SetReviewTicket records ref as the notifier's reference for review
	// id (a Slack message, a GitHub issue), replacing an earlier one of the
	// same notifier. It works on a review of any status. notifier must not
	// be empty. It returns ErrNotFound for an unknown id.
	SetReviewTicket(ctx context.Context, id, notifier, ref string) error

	// Token usage is state shared by every replica, not part of the index:
	// ResetIndex leaves it alone. It is counted per subject, connection and
	// day; subject and connection match exactly.
	//
	// AddUsage adds tokens to the usage of subject on connection for day (UTC,
	// "2006-01-02") and returns the new total, atomically: concurrent adds
	// from several replicas all count. It returns an error, and changes
	// nothing, when tokens is negative, day is not a date in that form, or
	// the total would overflow an int64.
	AddUsage(ctx context.Context, subject, connection, day string, tokens int64) (int64, error)
	// Usage returns the tokens used by subject on connection on day, 0 when none.
	// It returns an error when day is not a date in the form AddUsage takes.
	Usage(ctx context.Context, subject, connection, day string) (int64, error)
	// ReserveTokens admits r when the used tokens of its budget (subject,
	// connection, day) plus those of the budget's reservations still
	// held at now (Until after now) stay below limit, and then stores r.
	// It is atomic across replicas: of concurrent reservations of one
	// budget, each sees those admitted before it. It returns the used and
	// reserved tokens it saw and whether r was admitted; expired
	// reservations of the budget are dropped. r.ID must be unique; r.Tokens
	// must not be negative.
	ReserveTokens(ctx context.Context, r TokenReservation, limit int64, now time.Time) (used, reserved int64, ok bool, err error)
	// ReleaseTokens drops reservation id. An unknown id changes nothing.
	ReleaseTokens(ctx context.Context, id string) error

	// ExportCursor returns the journal sequence number through which the
	// export sink named key has shipped, 0 when it has shipped nothing.
	// Cursors are state, not index: ResetIndex leaves them alone.
	ExportCursor(ctx context.Context, key string) (uint64, error)
	// SetExportCursor moves the cursor of key forward to seq; a seq not
	// beyond the stored one changes nothing, so that a late writer cannot
	// move a cursor back.
	SetExportCursor(ctx context.Context, key string, seq uint64) error

	// Close releases the store. It is idempotent.
	Close() error
}

// TokenReservation holds tokens of a daily budget for a request in flight:
// what it may use, counted against the budget until its usage is added and
// the reservation released, or until Until, for a gateway that stopped
// before it could release it.
type TokenReservation struct {
	ID                       string
	Subject, Connection, Day string
	Tokens                   int64
	Until                    time.Time
}

// CheckReservation returns an error unless r is a valid argument of
// ReserveTokens.
func CheckReservation(r TokenReservation) error {
	if r.ID == "" {
		return errors.New("reservation without an id")
	}
	if r.Until.IsZero() {
		return errors.New("reservation without an end")
	}
	return CheckUsage(r.Day, r.Tokens)
}

// Admits reports whether a budget of limit tokens with used tokens used and
// reserved held by requests in flight admits one more request: whether
// used + reserved stays below limit, computed so that it cannot overflow.
func Admits(used, reserved, limit int64) bool {
	return used < limit && reserved < limit-used
}

// CheckUsage returns an error unless tokens and day are valid arguments of
// AddUsage: tokens not negative and day as CheckDay requires. Backends call
// it before they touch the database, so that all of them reject the same
// arguments.
func CheckUsage(day string, tokens int64) error {
	if tokens < 0 {
		return fmt.Errorf("negative tokens %d", tokens)
	}
	return CheckDay(day)
}

// CheckDay returns an error unless day is a date formatted as
// time.DateOnly ("2006-01-02").
func CheckDay(day string) error {
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return fmt.Errorf("day %q is not a date of the form 2006-01-02", day)
	}
	return nil
}

// SessionFilter selects sessions. Zero fields match everything; set fields
// must all match.
type SessionFilter struct {
	Subject    string
	Group      string // one of the identity's groups, exactly
	Connection string
	Since      time.Time // started at or after
	Until      time.Time // started before
	OpenOnly   bool      // only sessions that have not ended
	// HasDenied keeps only sessions with at least one indexed statement
	// whose decision is deny or review.
	HasDenied bool
	Limit     int // 0 means 100; negative is an error
}

// StatementFilter selects statements for SearchStatements. Zero fields match
// everything; set fields must all match.
type StatementFilter struct {
	// Subject, Connection and Session match exactly; Group matches when it
	// is exactly one of the statement's groups.
	Subject, Group, Connection, Session string
	// Since and Until bound StartedAt to [Since, Until). A statement without
	// a start time matches only when both are zero.
	Since, Until time.Time
	// Text is a substring of the statement's text, matched without regard
	// to case (ASCII letters on every backend). Characters such as % and _
	// have no special meaning.
	Text string
	// Class keeps statements having any of these class bits.
	Class sluice.Class
	// Decision matches exactly.
	Decision sluice.Action
	// Error is "" for any statement, "*" for statements with an error, or
	// else a substring of the error, matched like Text.
	Error string
	// ReviewID matches exactly.
	ReviewID string
	// Limit is the most statements returned: 0 means 100; negative is an error.
	Limit int
}

// ReviewFilter selects reviews for ListReviews. Zero fields match
// everything; set fields must all match.
type ReviewFilter struct {
	// Statuses keeps reviews having any of these statuses.
	Statuses []sluice.ReviewStatus
	// Subject (the requester's) and Connection match exactly.
	Subject, Connection string
	// Since keeps reviews created at or after it.
	Since time.Time
	// Limit is the most reviews returned: 0 means 100; negative is an error.
	Limit int
}

// ErrorAny is the StatementFilter.Error value that keeps only statements
// with an error.
const ErrorAny = "*"

// DefaultLimit is the number of sessions, statements or reviews a list or
// search returns when its filter's Limit is 0.
const DefaultLimit = 100

// IndexBatch is one atomic update of the index the state store keeps of the
// audit journal: sessions started, sessions ended and statements, and the
// journal position that the update brings the index to. See Build.
type IndexBatch struct {
	Sessions   []*sluice.Session
	Ends       []SessionEnd
	Statements []*sluice.StatementRecord
	// Seq is the largest journal sequence number the batch covers; 0 leaves
	// the indexed position as it is.
	Seq uint64
}

// Empty reports whether b changes nothing.
func (b *IndexBatch) Empty() bool {
	return b == nil || len(b.Sessions) == 0 && len(b.Ends) == 0 && len(b.Statements) == 0 && b.Seq == 0
}

// SessionEnd is the end of one session.
type SessionEnd struct {
	ID     string
	At     time.Time
	Reason string
}
