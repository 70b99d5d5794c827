package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

const sessionColumns = `id, subject, identity_name, group_names, client, auth_method, issuer,
    token_id, identity_expires_at, connection, protocol, client_addr, started_at, ended_at, end_reason,
    start_seq`

const insertSession = `INSERT INTO sessions (` + sessionColumns + `)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`

// sessionArgs returns the values of s for sessionColumns, cleaned of what
// PostgreSQL cannot store.
func sessionArgs(s *sluice.Session) ([]any, error) {
	if s == nil {
		return nil, errors.New("nil session")
	}
	if s.StartedAt.IsZero() {
		return nil, fmt.Errorf("session %q: StartedAt is zero", s.ID)
	}
	startSeq, err := encodeSeq(s.StartSeq)
	if err != nil {
		return nil, fmt.Errorf("session %q: start seq: %w", s.ID, err)
	}
	return cleanArgs([]any{s.ID, s.Identity.Subject, s.Identity.Name, s.Identity.Groups, s.Identity.Client,
		string(s.Identity.Method), s.Identity.Issuer, s.Identity.TokenID, encodeTime(s.Identity.ExpiresAt),
		s.Connection, string(s.Protocol), s.ClientAddr, s.StartedAt, encodeTime(s.EndedAt), s.EndReason,
		startSeq}), nil
}

// CreateSession records a new session. It fails if the id is taken.
func (d *DB) CreateSession(ctx context.Context, s *sluice.Session) error {
	args, err := sessionArgs(s)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	_, err = d.pool.Exec(ctx, insertSession, args...)
	if errorCode(err) == uniqueViolation {
		return fmt.Errorf("create session %q: the id is already in use: %w", s.ID, err)
	}
	if err != nil {
		return fmt.Errorf("create session %q: %w", s.ID, err)
	}
	return nil
}

// EndSession sets the end of a session that has not ended yet; a session
// that has already ended keeps its first end. It returns store.ErrNotFound
// for an unknown id.
func (d *DB) EndSession(ctx context.Context, id string, at time.Time, reason string) error {
	if at.IsZero() {
		return fmt.Errorf("end session %q: the end time is zero", id)
	}
	// One statement, so the check and the change are atomic. The right-hand
	// sides see the row as it was, so both columns test the old ended_at.
	tag, err := d.exec(ctx, `UPDATE sessions
        SET end_reason = CASE WHEN ended_at IS NULL THEN $1 ELSE end_reason END,
            ended_at = coalesce(ended_at, $2)
        WHERE id = $3`, reason, at, id)
	if err != nil {
		return fmt.Errorf("end session %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("end session %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// GetSession returns the session with the given id or store.ErrNotFound.
func (d *DB) GetSession(ctx context.Context, id string) (*sluice.Session, error) {
	rows, _ := d.query(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id)
	s, err := pgx.CollectExactlyOneRow(rows, scanSession)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("get session %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get session %q: %w", id, err)
	}
	return s, nil
}

// ListSessions returns the sessions that match f, newest first.
func (d *DB) ListSessions(ctx context.Context, f store.SessionFilter) ([]*sluice.Session, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list sessions: negative limit %d", f.Limit)
	}
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Subject != "" {
		add("subject = ?", f.Subject)
	}
	if f.Group != "" {
		add("group_names @> ARRAY[?::text]", f.Group)
	}
	if f.Connection != "" {
		add("connection = ?", f.Connection)
	}
	if !f.Since.IsZero() {
		add("started_at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		add("started_at < ?", f.Until)
	}
	if f.OpenOnly {
		where = append(where, "ended_at IS NULL")
	}
	if f.HasDenied {
		add(`EXISTS (SELECT 1 FROM statements
            WHERE statements.session_id = sessions.id AND statements.decision = ANY (?::text[]))`,
			[]string{string(sluice.ActionDeny), string(sluice.ActionReview)})
	}
	q := `SELECT ` + sessionColumns + ` FROM sessions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit == 0 {
		limit = store.DefaultLimit
	}
	args = append(args, limit)
	q += ` ORDER BY started_at DESC, id DESC LIMIT $` + strconv.Itoa(len(args))

	rows, _ := d.query(ctx, q, args...)
	out, err := pgx.CollectRows(rows, scanSession)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// scanSession reads one row of sessionColumns.
func scanSession(row pgx.CollectableRow) (*sluice.Session, error) {
	var (
		s                       sluice.Session
		expires, started, ended *time.Time
		method, protocol        string
		startSeq                int64
	)
	err := row.Scan(&s.ID, &s.Identity.Subject, &s.Identity.Name, &s.Identity.Groups, &s.Identity.Client,
		&method, &s.Identity.Issuer, &s.Identity.TokenID, &expires, &s.Connection,
		&protocol, &s.ClientAddr, &started, &ended, &s.EndReason, &startSeq)
	if err != nil {
		return nil, err
	}
	s.StartSeq = uint64(startSeq)
	s.Identity.Method, s.Protocol = sluice.AuthMethod(method), sluice.Protocol(protocol)
	s.Identity.ExpiresAt = decodeTime(expires)
	s.StartedAt = decodeTime(started)
	s.EndedAt = decodeTime(ended)
	return &s, nil
}
