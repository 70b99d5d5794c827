package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

const reviewColumns = `id, status, request, subject, connection, reasons, policy, rule, approvers,
    min_approvals, estimated_rows, impact, statement_hash, created_at, wait_until, valid_until,
    decided_at, executed_at, tickets`

const insertReview = `INSERT INTO reviews (` + reviewColumns + `)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`

const insertDecision = `INSERT INTO review_decisions (review_id, n, approver, approve, reason, via, at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)`

// reviewArgs returns the values of r for reviewColumns, cleaned of what
// PostgreSQL cannot store.
func reviewArgs(r *sluice.Review) ([]any, error) {
	if r == nil {
		return nil, errors.New("nil review")
	}
	switch {
	case r.ID == "":
		return nil, errors.New("review without an id")
	case r.Status != sluice.ReviewPending:
		return nil, fmt.Errorf("review %q: status is %q, want %q", r.ID, r.Status, sluice.ReviewPending)
	case r.CreatedAt.IsZero():
		return nil, fmt.Errorf("review %q: CreatedAt is zero", r.ID)
	case r.ValidUntil.IsZero():
		return nil, fmt.Errorf("review %q: ValidUntil is zero", r.ID)
	case r.MinApprovals < 1:
		return nil, fmt.Errorf("review %q: MinApprovals is %d, want at least 1", r.ID, r.MinApprovals)
	}
	req := r.Request
	if !req.Time.IsZero() {
		req.Time = req.Time.UTC()
	}
	// JSON escapes NUL and replaces invalid UTF-8, and the json type keeps
	// the escapes, so the request needs no cleaning and loses nothing.
	request, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("review %q: request: %w", r.ID, err)
	}
	var tickets any
	if r.Tickets != nil {
		// jsonb cannot hold \u0000: clean the names and references first.
		cleaned := make(map[string]string, len(r.Tickets))
		for k, v := range r.Tickets {
			cleaned[clean(k)] = clean(v)
		}
		b, err := json.Marshal(cleaned)
		if err != nil {
			return nil, fmt.Errorf("review %q: tickets: %w", r.ID, err)
		}
		tickets = string(b)
	}
	return cleanArgs([]any{r.ID, string(r.Status), string(request), r.Request.Subject, r.Request.Connection,
		r.Reasons, r.Policy, r.Rule, r.Approvers, int32(r.MinApprovals), r.EstimatedRows, r.Impact,
		r.StatementHash, r.CreatedAt, encodeTime(r.WaitUntil), r.ValidUntil, encodeTime(r.DecidedAt),
		encodeTime(r.ExecutedAt), tickets}), nil
}

// decisionArgs returns the values of decision number n of review id for
// insertDecision, cleaned.
func decisionArgs(id string, n int, d sluice.ReviewDecision) ([]any, error) {
	if d.By == "" {
		return nil, errors.New("decision without an approver")
	}
	if d.At.IsZero() {
		return nil, fmt.Errorf("decision by %q: At is zero", d.By)
	}
	return cleanArgs([]any{id, int32(n), d.By, d.Approve, d.Reason, d.Via, d.At}), nil
}

// CreateReview records a new pending review with its decisions and tickets,
// in one transaction. It fails if the id is taken.
func (d *DB) CreateReview(ctx context.Context, r *sluice.Review) error {
	args, err := reviewArgs(r)
	if err != nil {
		return fmt.Errorf("create review: %w", err)
	}
	decisions := make([][]any, len(r.Decisions))
	for i, dec := range r.Decisions {
		if decisions[i], err = decisionArgs(r.ID, i+1, dec); err != nil {
			return fmt.Errorf("create review %q: %w", r.ID, err)
		}
	}
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, insertReview, args...)
		if errorCode(err) == uniqueViolation {
			return fmt.Errorf("the id is already in use: %w", err)
		}
		if err != nil {
			return err
		}
		for _, a := range decisions {
			_, err := tx.Exec(ctx, insertDecision, a...)
			if errorCode(err) == uniqueViolation {
				return fmt.Errorf("%q decides twice: %w", a[2], store.ErrAlreadyVoted)
			}
			if err != nil {
				return fmt.Errorf("decision by %q: %w", a[2], err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create review %q: %w", r.ID, err)
	}
	return nil
}

// GetReview returns the review with the given id or store.ErrNotFound.
func (d *DB) GetReview(ctx context.Context, id string) (*sluice.Review, error) {
	r, err := getReview(ctx, d.pool, id)
	if err != nil {
		return nil, fmt.Errorf("get review %q: %w", id, err)
	}
	return r, nil
}

// ListReviews returns the reviews that match f, newest first.
func (d *DB) ListReviews(ctx context.Context, f store.ReviewFilter) ([]*sluice.Review, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list reviews: negative limit %d", f.Limit)
	}
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if len(f.Statuses) > 0 {
		add("status = ANY (?::text[])", statusNames(f.Statuses))
	}
	if f.Subject != "" {
		add("subject = ?", f.Subject)
	}
	if f.Connection != "" {
		add("connection = ?", f.Connection)
	}
	if !f.Since.IsZero() {
		add("created_at >= ?", f.Since)
	}
	limit := f.Limit
	if limit == 0 {
		limit = store.DefaultLimit
	}
	out, err := queryReviews(ctx, d.pool, strings.Join(where, " AND "), limit, args...)
	if err != nil {
		return nil, fmt.Errorf("list reviews: %w", err)
	}
	return out, nil
}

// AddReviewDecision appends a decision to a pending review and moves it to
// denied or approved when the decision settles it, in one transaction that
// first locks the review's row, so that deciders on every connection and
// replica take their turns.
func (d *DB) AddReviewDecision(ctx context.Context, id string, dec sluice.ReviewDecision) (*sluice.Review, error) {
	// The position is not known yet; 0 holds its place.
	args, err := decisionArgs(id, 0, dec)
	if err != nil {
		return nil, fmt.Errorf("decide review %q: %w", id, err)
	}
	cid := args[0].(string) // id, cleaned
	var r *sluice.Review
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var (
			status       string
			minApprovals int32
			validUntil   time.Time
		)
		// FOR UPDATE waits for a concurrent decider and then reads the
		// row as that decider left it.
		err := tx.QueryRow(ctx, `SELECT status, min_approvals, valid_until FROM reviews WHERE id = $1 FOR UPDATE`, cid).
			Scan(&status, &minApprovals, &validUntil)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if status != string(sluice.ReviewPending) {
			return fmt.Errorf("it is %s: %w", status, store.ErrReviewClosed)
		}
		if !dec.At.Before(validUntil) {
			return fmt.Errorf("it was valid until %v: %w", validUntil.UTC(), store.ErrReviewClosed)
		}
		var n, approvals int32
		var voted bool
		// Later statements of the transaction see decisions committed
		// while it waited for the lock.
		err = tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE approve), coalesce(bool_or(approver = $2), false)
            FROM review_decisions WHERE review_id = $1`, cid, args[2]).Scan(&n, &approvals, &voted)
		if err != nil {
			return err
		}
		if voted {
			return fmt.Errorf("%q: %w", dec.By, store.ErrAlreadyVoted)
		}
		args[1] = n + 1
		if _, err := tx.Exec(ctx, insertDecision, args...); err != nil {
			return err
		}
		// Approvers are unique per review, so counting approving rows
		// counts distinct approving approvers.
		next := sluice.ReviewPending
		switch {
		case !dec.Approve:
			next = sluice.ReviewDenied
		case approvals+1 >= minApprovals:
			next = sluice.ReviewApproved
		}
		if next != sluice.ReviewPending {
			if _, err := tx.Exec(ctx, `UPDATE reviews SET status = $1, decided_at = $2 WHERE id = $3`,
				string(next), dec.At, cid); err != nil {
				return err
			}
		}
		r, err = getReview(ctx, tx, cid)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("decide review %q: %w", id, err)
	}
	return r, nil
}

// ClaimReview marks an approved, still valid review executed. The test and
// the change are one UPDATE, which a concurrent claim waits for and then
// re-tests, so exactly one claim succeeds.
func (d *DB) ClaimReview(ctx context.Context, id string, now time.Time) (*sluice.Review, error) {
	if now.IsZero() {
		return nil, fmt.Errorf("claim review %q: the time is zero", id)
	}
	var r *sluice.Review
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE reviews SET status = $1, executed_at = $2
            WHERE id = $3 AND status = $4 AND valid_until > $2`,
			string(sluice.ReviewExecuted), now, clean(id), string(sluice.ReviewApproved))
		if err != nil {
			return err
		}
		if r, err = getReview(ctx, tx, id); err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("it is %s, valid until %v: %w", r.Status, r.ValidUntil, store.ErrReviewClosed)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim review %q: %w", id, err)
	}
	return r, nil
}

// FindReview returns the newest review of subject on connection for the
// statement hash whose status is one of statuses (any, if none are given)
// and whose ValidUntil is after now, or store.ErrNotFound.
func (d *DB) FindReview(ctx context.Context, subject, connection, hash string, statuses []sluice.ReviewStatus, now time.Time) (*sluice.Review, error) {
	where := "statement_hash = $1 AND subject = $2 AND connection = $3 AND valid_until > $4"
	args := []any{hash, subject, connection, now}
	if len(statuses) > 0 {
		where += " AND status = ANY ($5::text[])"
		args = append(args, statusNames(statuses))
	}
	out, err := queryReviews(ctx, d.pool, where, 1, args...)
	if err != nil {
		return nil, fmt.Errorf("find review: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("find review of %q on %q for %s: %w", subject, connection, hash, store.ErrNotFound)
	}
	return out[0], nil
}

// ExpireReviews marks the pending and approved reviews whose validity has
// ended expired and returns them, newest first. It locks the rows in id
// order, so that concurrent expirers cannot deadlock; one that waits for
// another re-tests each row after the wait and skips those the other
// expired, so each review is returned once.
func (d *DB) ExpireReviews(ctx context.Context, now time.Time) ([]*sluice.Review, error) {
	var out []*sluice.Review
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id FROM reviews
            WHERE status = ANY ($1::text[]) AND valid_until <= $2 ORDER BY id FOR UPDATE`,
			statusNames([]sluice.ReviewStatus{sluice.ReviewPending, sluice.ReviewApproved}), now)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE reviews SET status = $1 WHERE id = ANY ($2::text[])`,
			string(sluice.ReviewExpired), ids); err != nil {
			return err
		}
		out, err = queryReviews(ctx, tx, "id = ANY ($1::text[])", 0, ids)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("expire reviews: %w", err)
	}
	return out, nil
}

// SetReviewTicket records or replaces a notifier's reference for a review,
// in one UPDATE.
func (d *DB) SetReviewTicket(ctx context.Context, id, notifier, ref string) error {
	if notifier == "" {
		return fmt.Errorf("set ticket of review %q: the notifier name is empty", id)
	}
	tag, err := d.exec(ctx, `UPDATE reviews
        SET tickets = coalesce(tickets, '{}'::jsonb) || jsonb_build_object($1::text, $2::text)
        WHERE id = $3`, notifier, ref, id)
	if err != nil {
		return fmt.Errorf("set ticket of review %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set ticket of review %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// statusNames returns statuses as strings for a text[] parameter.
func statusNames(statuses []sluice.ReviewStatus) []string {
	out := make([]string, len(statuses))
	for i, s := range statuses {
		out[i] = string(s)
	}
	return out
}

// querier is the Query method shared by *pgxpool.Pool and pgx.Tx.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// getReview returns the review with the given id, or store.ErrNotFound.
func getReview(ctx context.Context, q querier, id string) (*sluice.Review, error) {
	out, err := queryReviews(ctx, q, "id = $1", 1, id)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, store.ErrNotFound
	}
	return out[0], nil
}

// queryReviews returns the reviews matching where (all if it is ""), whose
// placeholders are numbered from $1 for args, with their decisions, newest
// first, at most limit of them (any number if limit is 0). One statement
// reads the reviews and their decisions, so it sees them as one transaction
// left them. The arguments are cleaned.
func queryReviews(ctx context.Context, q querier, where string, limit int, args ...any) ([]*sluice.Review, error) {
	inner := `SELECT ` + reviewColumns + ` FROM reviews`
	if where != "" {
		inner += ` WHERE ` + where
	}
	if limit > 0 {
		args = append(args, limit)
		inner += ` ORDER BY created_at DESC, id DESC LIMIT $` + strconv.Itoa(len(args))
	}
	rows, err := q.Query(ctx, `SELECT r.*, d.approver, d.approve, d.reason, d.via, d.at
        FROM (`+inner+`) AS r LEFT JOIN review_decisions AS d ON d.review_id = r.id
        ORDER BY r.created_at DESC, r.id DESC, d.n`, cleanArgs(args)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*sluice.Review
	for rows.Next() {
		var (
			r                                       sluice.Review
			status, copied                          string
			minApprovals                            int32
			request, tickets                        []byte
			created, wait, valid, decided, executed *time.Time
			by, reason, via                         *string
			approve                                 *bool
			at                                      *time.Time
		)
		err := rows.Scan(&r.ID, &status, &request, &copied, &copied, &r.Reasons, &r.Policy, &r.Rule,
			&r.Approvers, &minApprovals, &r.EstimatedRows, &r.Impact, &r.StatementHash,
			&created, &wait, &valid, &decided, &executed, &tickets,
			&by, &approve, &reason, &via, &at)
		if err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != r.ID {
			r.Status, r.MinApprovals = sluice.ReviewStatus(status), int(minApprovals)
			if err := json.Unmarshal(request, &r.Request); err != nil {
				return nil, fmt.Errorf("review %q request: %w", r.ID, err)
			}
			if !r.Request.Time.IsZero() {
				r.Request.Time = r.Request.Time.UTC()
			}
			if tickets != nil {
				if err := json.Unmarshal(tickets, &r.Tickets); err != nil {
					return nil, fmt.Errorf("review %q tickets: %w", r.ID, err)
				}
			}
			r.CreatedAt, r.WaitUntil, r.ValidUntil = decodeTime(created), decodeTime(wait), decodeTime(valid)
			r.DecidedAt, r.ExecutedAt = decodeTime(decided), decodeTime(executed)
			out = append(out, &r)
		}
		if by != nil {
			last := out[len(out)-1]
			last.Decisions = append(last.Decisions, sluice.ReviewDecision{
				By: *by, Approve: *approve, Reason: *reason, Via: *via, At: decodeTime(at),
			})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
