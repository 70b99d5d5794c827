package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

const reviewColumns = `id, status, request, subject, connection, reasons, policy, rule, approvers,
    min_approvals, estimated_rows, impact, statement_hash, created_at, wait_until, valid_until,
    decided_at, executed_at, tickets`

const insertReview = `INSERT INTO reviews (` + reviewColumns + `)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const insertDecision = `INSERT INTO review_decisions (review_id, n, approver, approve, reason, via, at)
    VALUES (?, ?, ?, ?, ?, ?, ?)`

// reviewArgs returns the values of r for reviewColumns.
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
	request, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("review %q: request: %w", r.ID, err)
	}
	reasons, err := encodeList(r.Reasons)
	if err != nil {
		return nil, fmt.Errorf("review %q: reasons: %w", r.ID, err)
	}
	approvers, err := encodeList(r.Approvers)
	if err != nil {
		return nil, fmt.Errorf("review %q: approvers: %w", r.ID, err)
	}
	var times [5]any
	for i, t := range []time.Time{r.CreatedAt, r.WaitUntil, r.ValidUntil, r.DecidedAt, r.ExecutedAt} {
		if times[i], err = encodeTime(t); err != nil {
			return nil, fmt.Errorf("review %q: %w", r.ID, err)
		}
	}
	var tickets any
	if r.Tickets != nil {
		b, err := json.Marshal(r.Tickets)
		if err != nil {
			return nil, fmt.Errorf("review %q: tickets: %w", r.ID, err)
		}
		tickets = string(b)
	}
	return []any{r.ID, string(r.Status), string(request), r.Request.Subject, r.Request.Connection, reasons,
		r.Policy, r.Rule, approvers, r.MinApprovals, r.EstimatedRows, r.Impact, r.StatementHash,
		times[0], times[1], times[2], times[3], times[4], tickets}, nil
}

// decisionArgs returns the values of decision number n of review id for
// insertDecision.
func decisionArgs(id string, n int, d sluice.ReviewDecision) ([]any, error) {
	if d.By == "" {
		return nil, errors.New("decision without an approver")
	}
	if d.At.IsZero() {
		return nil, fmt.Errorf("decision by %q: At is zero", d.By)
	}
	at, err := encodeTime(d.At)
	if err != nil {
		return nil, fmt.Errorf("decision by %q: %w", d.By, err)
	}
	return []any{id, n, d.By, d.Approve, d.Reason, d.Via, at}, nil
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
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return fmt.Errorf("create review %q: %w", r.ID, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	_, err = tx.ExecContext(ctx, insertReview, args...)
	if isDuplicate(err) {
		return fmt.Errorf("create review %q: the id is already in use: %w", r.ID, err)
	}
	if err != nil {
		return fmt.Errorf("create review %q: %w", r.ID, err)
	}
	for _, a := range decisions {
		_, err := tx.ExecContext(ctx, insertDecision, a...)
		if isDuplicate(err) {
			return fmt.Errorf("create review %q: %q decides twice: %w", r.ID, a[2], store.ErrAlreadyVoted)
		}
		if err != nil {
			return fmt.Errorf("create review %q: decision by %q: %w", r.ID, a[2], err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create review %q: commit: %w", r.ID, err)
	}
	return nil
}

// GetReview returns the review with the given id or store.ErrNotFound.
func (d *DB) GetReview(ctx context.Context, id string) (*sluice.Review, error) {
	r, err := getReview(ctx, d.read, id)
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
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+strings.Repeat(", ?", len(f.Statuses))[2:]+")")
		for _, s := range f.Statuses {
			args = append(args, string(s))
		}
	}
	if f.Subject != "" {
		where, args = append(where, "subject = ?"), append(args, f.Subject)
	}
	if f.Connection != "" {
		where, args = append(where, "connection = ?"), append(args, f.Connection)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, boundTime(f.Since))
	}
	limit := f.Limit
	if limit == 0 {
		limit = store.DefaultLimit
	}
	out, err := queryReviews(ctx, d.read, strings.Join(where, " AND "), limit, args...)
	if err != nil {
		return nil, fmt.Errorf("list reviews: %w", err)
	}
	return out, nil
}

// AddReviewDecision appends a decision to a pending review and moves it to
// denied or approved when the decision settles it, in one write
// transaction: the file's write lock makes the check and the change atomic,
// also against other processes.
func (d *DB) AddReviewDecision(ctx context.Context, id string, dec sluice.ReviewDecision) (*sluice.Review, error) {
	// The position is not known yet; 0 holds its place.
	args, err := decisionArgs(id, 0, dec)
	if err != nil {
		return nil, fmt.Errorf("decide review %q: %w", id, err)
	}
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return nil, fmt.Errorf("decide review %q: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	var (
		status       string
		minApprovals int
		validUntil   sql.NullInt64
	)
	err = tx.QueryRowContext(ctx, `SELECT status, min_approvals, valid_until FROM reviews WHERE id = ?`, id).
		Scan(&status, &minApprovals, &validUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("decide review %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("decide review %q: %w", id, err)
	}
	if status != string(sluice.ReviewPending) {
		return nil, fmt.Errorf("decide review %q: it is %s: %w", id, status, store.ErrReviewClosed)
	}
	if !dec.At.Before(decodeTime(validUntil)) {
		return nil, fmt.Errorf("decide review %q: it was valid until %v: %w", id, decodeTime(validUntil), store.ErrReviewClosed)
	}

	var n, approvals int
	var voted bool
	err = tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(approve), 0), coalesce(max(approver = ?), 0)
        FROM review_decisions WHERE review_id = ?`, dec.By, id).Scan(&n, &approvals, &voted)
	if err != nil {
		return nil, fmt.Errorf("decide review %q: %w", id, err)
	}
	if voted {
		return nil, fmt.Errorf("decide review %q: %q: %w", id, dec.By, store.ErrAlreadyVoted)
	}
	args[1] = n + 1
	if _, err := tx.ExecContext(ctx, insertDecision, args...); err != nil {
		return nil, fmt.Errorf("decide review %q: %w", id, err)
	}
	// Approvers are unique per review, so counting approving rows counts
	// distinct approving approvers.
	next := sluice.ReviewPending
	switch {
	case !dec.Approve:
		next = sluice.ReviewDenied
	case approvals+1 >= minApprovals:
		next = sluice.ReviewApproved
	}
	if next != sluice.ReviewPending {
		decidedAt := args[6] // the decision's time, encoded
		if _, err := tx.ExecContext(ctx, `UPDATE reviews SET status = ?, decided_at = ? WHERE id = ?`,
			string(next), decidedAt, id); err != nil {
			return nil, fmt.Errorf("decide review %q: %w", id, err)
		}
	}
	r, err := getReview(ctx, tx, id)
	if err != nil {
		return nil, fmt.Errorf("decide review %q: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("decide review %q: commit: %w", id, err)
	}
	return r, nil
}

// ClaimReview marks an approved, still valid review executed. The test and
// the change are one UPDATE, so of concurrent claims exactly one succeeds.
func (d *DB) ClaimReview(ctx context.Context, id string, now time.Time) (*sluice.Review, error) {
	if now.IsZero() {
		return nil, fmt.Errorf("claim review %q: the time is zero", id)
	}
	at, err := encodeTime(now)
	if err != nil {
		return nil, fmt.Errorf("claim review %q: %w", id, err)
	}
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return nil, fmt.Errorf("claim review %q: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	res, err := tx.ExecContext(ctx, `UPDATE reviews SET status = ?, executed_at = ?
        WHERE id = ? AND status = ? AND valid_until > ?`,
		string(sluice.ReviewExecuted), at, id, string(sluice.ReviewApproved), at)
	if err != nil {
		return nil, fmt.Errorf("claim review %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("claim review %q: %w", id, err)
	} else if n == 0 {
		r, err := getReview(ctx, tx, id)
		if err != nil {
			return nil, fmt.Errorf("claim review %q: %w", id, err)
		}
		return nil, fmt.Errorf("claim review %q: it is %s, valid until %v: %w", id, r.Status, r.ValidUntil, store.ErrReviewClosed)
	}
	r, err := getReview(ctx, tx, id)
	if err != nil {
		return nil, fmt.Errorf("claim review %q: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim review %q: commit: %w", id, err)
	}
	return r, nil
}

// FindReview returns the newest review of subject on connection for the
// statement hash whose status is one of statuses (any, if none are given)
// and whose ValidUntil is after now, or store.ErrNotFound.
func (d *DB) FindReview(ctx context.Context, subject, connection, hash string, statuses []sluice.ReviewStatus, now time.Time) (*sluice.Review, error) {
	where := "statement_hash = ? AND subject = ? AND connection = ? AND valid_until > ?"
	args := []any{hash, subject, connection, boundTime(now)}
	if len(statuses) > 0 {
		where += " AND status IN (" + strings.Repeat(", ?", len(statuses))[2:] + ")"
		for _, s := range statuses {
			args = append(args, string(s))
		}
	}
	out, err := queryReviews(ctx, d.read, where, 1, args...)
	if err != nil {
		return nil, fmt.Errorf("find review: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("find review of %q on %q for %s: %w", subject, connection, hash, store.ErrNotFound)
	}
	return out[0], nil
}

// ExpireReviews marks the pending and approved reviews whose validity has
// ended expired and returns them, newest first. One write transaction
// changes and reads them, so concurrent callers, in this process or
// others, each get a review that only they expired.
func (d *DB) ExpireReviews(ctx context.Context, now time.Time) ([]*sluice.Review, error) {
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return nil, fmt.Errorf("expire reviews: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	rows, err := tx.QueryContext(ctx, `UPDATE reviews SET status = ?
        WHERE status IN (?, ?) AND valid_until <= ? RETURNING id`,
		string(sluice.ReviewExpired), string(sluice.ReviewPending), string(sluice.ReviewApproved), boundTime(now))
	if err != nil {
		return nil, fmt.Errorf("expire reviews: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("expire reviews: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("expire reviews: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("expire reviews: %w", err)
	}
	out, err := queryReviews(ctx, tx, "id IN (SELECT value FROM json_each(?))", 0, string(list))
	if err != nil {
		return nil, fmt.Errorf("expire reviews: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("expire reviews: commit: %w", err)
	}
	return out, nil
}

// SetReviewTicket records or replaces a notifier's reference for a review.
func (d *DB) SetReviewTicket(ctx context.Context, id, notifier, ref string) error {
	if notifier == "" {
		return fmt.Errorf("set ticket of review %q: the notifier name is empty", id)
	}
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		return fmt.Errorf("set ticket of review %q: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var raw sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT tickets FROM reviews WHERE id = ?`, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("set ticket of review %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set ticket of review %q: %w", id, err)
	}
	tickets, err := decodeTickets(raw)
	if err != nil {
		return fmt.Errorf("set ticket of review %q: %w", id, err)
	}
	if tickets == nil {
		tickets = make(map[string]string, 1)
	}
	tickets[notifier] = ref
	b, err := json.Marshal(tickets)
	if err != nil {
		return fmt.Errorf("set ticket of review %q: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE reviews SET tickets = ? WHERE id = ?`, string(b), id); err != nil {
		return fmt.Errorf("set ticket of review %q: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("set ticket of review %q: commit: %w", id, err)
	}
	return nil
}

// queryer is the QueryContext method shared by *sql.DB and *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// getReview returns the review with the given id, or store.ErrNotFound.
func getReview(ctx context.Context, q queryer, id string) (*sluice.Review, error) {
	out, err := queryReviews(ctx, q, "id = ?", 1, id)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, store.ErrNotFound
	}
	return out[0], nil
}

// queryReviews returns the reviews matching where (all if it is ""), with
// their decisions, newest first, at most limit of them (any number if limit
// is 0). One statement reads the reviews and their decisions, so it sees
// them as one transaction left them.
func queryReviews(ctx context.Context, q queryer, where string, limit int, args ...any) ([]*sluice.Review, error) {
	inner := `SELECT ` + reviewColumns + ` FROM reviews`
	if where != "" {
		inner += ` WHERE ` + where
	}
	if limit > 0 {
		inner += ` ORDER BY created_at DESC, id DESC LIMIT ?`
		args = append(args, limit)
	}
	rows, err := q.QueryContext(ctx, `SELECT r.*, d.approver, d.approve, d.reason, d.via, d.at
        FROM (`+inner+`) AS r LEFT JOIN review_decisions AS d ON d.review_id = r.id
        ORDER BY r.created_at DESC, r.id DESC, d.n`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*sluice.Review
	for rows.Next() {
		var (
			row                         reviewRow
			by, reason, via             sql.NullString
			approve                     sql.NullBool
			at                          sql.NullInt64
			request, reasons, approvers sql.NullString
			tickets                     sql.NullString
			copied                      string // subject and connection, which request holds too
			r                           = &row.r
		)
		err := rows.Scan(&r.ID, &r.Status, &request, &copied, &copied, &reasons, &r.Policy,
			&r.Rule, &approvers, &r.MinApprovals, &r.EstimatedRows, &r.Impact, &r.StatementHash,
			&row.times[0], &row.times[1], &row.times[2], &row.times[3], &row.times[4], &tickets,
			&by, &approve, &reason, &via, &at)
		if err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != r.ID {
			if err := row.decode(request, reasons, approvers, tickets); err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		if by.Valid {
			last := out[len(out)-1]
			last.Decisions = append(last.Decisions, sluice.ReviewDecision{
				By: by.String, Approve: approve.Bool, Reason: reason.String, Via: via.String, At: decodeTime(at),
			})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// reviewRow is a review as scanned, before its encoded columns are decoded.
type reviewRow struct {
	r     sluice.Review
	times [5]sql.NullInt64 // created, wait, valid, decided, executed
}

// decode fills in the review's encoded fields.
func (row *reviewRow) decode(request, reasons, approvers, tickets sql.NullString) error {
	r := &row.r
	if err := json.Unmarshal([]byte(request.String), &r.Request); err != nil {
		return fmt.Errorf("review %q request: %w", r.ID, err)
	}
	if !r.Request.Time.IsZero() {
		r.Request.Time = r.Request.Time.UTC()
	}
	var err error
	if r.Reasons, err = decodeList[string](reasons); err != nil {
		return fmt.Errorf("review %q reasons: %w", r.ID, err)
	}
	if r.Approvers, err = decodeList[string](approvers); err != nil {
		return fmt.Errorf("review %q approvers: %w", r.ID, err)
	}
	if r.Tickets, err = decodeTickets(tickets); err != nil {
		return fmt.Errorf("review %q: %w", r.ID, err)
	}
	r.CreatedAt = decodeTime(row.times[0])
	r.WaitUntil = decodeTime(row.times[1])
	r.ValidUntil = decodeTime(row.times[2])
	r.DecidedAt = decodeTime(row.times[3])
	r.ExecutedAt = decodeTime(row.times[4])
	return nil
}

// decodeTickets parses the tickets column; NULL gives nil.
func decodeTickets(s sql.NullString) (map[string]string, error) {
	if !s.Valid {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s.String), &m); err != nil {
		return nil, fmt.Errorf("decode tickets %q: %w", s.String, err)
	}
	return m, nil
}
