package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

const sessionColumns = `id, subject, identity_name, group_names, client, auth_method, issuer,
    token_id, identity_expires_at, connection, protocol, client_addr, started_at, ended_at, end_reason,
    start_seq`

// sessionWidth is the number of sessionColumns.
var sessionWidth = strings.Count(sessionColumns, ",") + 1

const insertSession = `INSERT INTO sessions (` + sessionColumns + `)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// sessionArgs returns the values of s for sessionColumns.
func sessionArgs(s *sluice.Session) ([]any, error) {
	if s == nil {
		return nil, errors.New("nil session")
	}
	if s.StartedAt.IsZero() {
		return nil, fmt.Errorf("session %q: StartedAt is zero", s.ID)
	}
	groups, err := encodeList(s.Identity.Groups)
	if err != nil {
		return nil, fmt.Errorf("session %q: groups: %w", s.ID, err)
	}
	var times [3]any
	for i, t := range []time.Time{s.Identity.ExpiresAt, s.StartedAt, s.EndedAt} {
		if times[i], err = encodeTime(t); err != nil {
			return nil, fmt.Errorf("session %q: %w", s.ID, err)
		}
	}
	startSeq, err := encodeSeq(s.StartSeq)
	if err != nil {
		return nil, fmt.Errorf("session %q: start seq: %w", s.ID, err)
	}
	return []any{s.ID, s.Identity.Subject, s.Identity.Name, groups, s.Identity.Client, string(s.Identity.Method),
		s.Identity.Issuer, s.Identity.TokenID, times[0], s.Connection, string(s.Protocol), s.ClientAddr,
		times[1], times[2], s.EndReason, startSeq}, nil
}

// CreateSession records a new session. It fails if the id is taken.
func (d *DB) CreateSession(ctx context.Context, s *sluice.Session) error {
	args, err := sessionArgs(s)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	_, err = d.write.ExecContext(ctx, insertSession, args...)
	if isDuplicate(err) {
		return fmt.Errorf("create session %q: the id is already in use: %w", s.ID, err)
	}
	if err != nil {
		return fmt.Errorf("create session %q: %w", s.ID, err)
	}
	return nil
}

// endSession records the end of a session that has not ended yet. It is one
// statement, so the check and the change are atomic; the right-hand sides
// see the row as it was, so both columns test the old ended_at.
const endSession = `UPDATE sessions
    SET end_reason = CASE WHEN ended_at IS NULL THEN ? ELSE end_reason END,
        ended_at = coalesce(ended_at, ?)
    WHERE id = ?`

// endArgs returns the values for endSession.
func endArgs(id string, at time.Time, reason string) ([]any, error) {
	if at.IsZero() {
		return nil, errors.New("the end time is zero")
	}
	end, err := encodeTime(at)
	if err != nil {
		return nil, err
	}
	return []any{reason, end, id}, nil
}

// EndSession sets the end of a session that has not ended yet; a session
// that has already ended keeps its first end. It returns store.ErrNotFound
// for an unknown id.
func (d *DB) EndSession(ctx context.Context, id string, at time.Time, reason string) error {
	args, err := endArgs(id, at, reason)
	if err != nil {
		return fmt.Errorf("end session %q: %w", id, err)
	}
	res, err := d.write.ExecContext(ctx, endSession, args...)
	if err != nil {
		return fmt.Errorf("end session %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("end session %q: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("end session %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// GetSession returns the session with the given id or store.ErrNotFound.
func (d *DB) GetSession(ctx context.Context, id string) (*sluice.Session, error) {
	row := d.read.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id)
	s, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) {
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
	if f.Subject != "" {
		where, args = append(where, "subject = ?"), append(args, f.Subject)
	}
	if f.Group != "" {
		where, args = append(where, hasGroup("sessions")), append(args, f.Group)
	}
	if f.Connection != "" {
		where, args = append(where, "connection = ?"), append(args, f.Connection)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "started_at >= ?"), append(args, boundTime(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "started_at < ?"), append(args, boundTime(f.Until))
	}
	if f.OpenOnly {
		where = append(where, "ended_at IS NULL")
	}
	if f.HasDenied {
		where = append(where, `EXISTS (SELECT 1 FROM statement_chunks c
            WHERE c.session_id = sessions.id AND c.decisions & ? <> 0)`)
		args = append(args, decidedDeny|decidedReview)
	}
	q := `SELECT ` + sessionColumns + ` FROM sessions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit == 0 {
		limit = store.DefaultLimit
	}
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, limit)

	rows, err := d.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out []*sluice.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// hasGroup returns a condition that holds when the JSON list in the
// group_names column of table contains the next argument.
func hasGroup(table string) string {
	return `EXISTS (SELECT 1 FROM json_each(` + table + `.group_names) WHERE json_each.value = ?)`
}

// scanner is the Scan method shared by *sql.Row and *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanSession reads one row of sessionColumns.
func scanSession(row scanner) (*sluice.Session, error) {
	var (
		s                       sluice.Session
		groups                  sql.NullString
		expires, started, ended sql.NullInt64
		startSeq                int64
	)
	err := row.Scan(&s.ID, &s.Identity.Subject, &s.Identity.Name, &groups, &s.Identity.Client,
		&s.Identity.Method, &s.Identity.Issuer, &s.Identity.TokenID, &expires, &s.Connection,
		&s.Protocol, &s.ClientAddr, &started, &ended, &s.EndReason, &startSeq)
	if err != nil {
		return nil, err
	}
	s.StartSeq = uint64(startSeq)
	if s.Identity.Groups, err = decodeList[string](groups); err != nil {
		return nil, fmt.Errorf("session %q groups: %w", s.ID, err)
	}
	s.Identity.ExpiresAt = decodeTime(expires)
	s.StartedAt = decodeTime(started)
	s.EndedAt = decodeTime(ended)
	return &s, nil
}
