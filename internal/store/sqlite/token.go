package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

const tokenColumns = `id, subject, group_names, issued_at, expires_at, revoked_at`

// CreateToken records a newly issued service token. It fails if the id is taken.
func (d *DB) CreateToken(ctx context.Context, t *sluice.ServiceToken) error {
	if t.IssuedAt.IsZero() {
		return fmt.Errorf("create token %q: IssuedAt is zero", t.ID)
	}
	groups, err := encodeList(t.Groups)
	if err != nil {
		return fmt.Errorf("create token %q: groups: %w", t.ID, err)
	}
	var times [3]any
	for i, tm := range []time.Time{t.IssuedAt, t.ExpiresAt, t.RevokedAt} {
		if times[i], err = encodeTime(tm); err != nil {
			return fmt.Errorf("create token %q: %w", t.ID, err)
		}
	}
	_, err = d.write.ExecContext(ctx, `INSERT INTO service_tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.Subject, groups, times[0], times[1], times[2])
	if isDuplicate(err) {
		return fmt.Errorf("create token %q: the id is already in use: %w", t.ID, err)
	}
	if err != nil {
		return fmt.Errorf("create token %q: %w", t.ID, err)
	}
	return nil
}

// GetToken returns the service token with the given id or store.ErrNotFound.
func (d *DB) GetToken(ctx context.Context, id string) (*sluice.ServiceToken, error) {
	row := d.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM service_tokens WHERE id = ?`, id)
	t, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get token %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get token %q: %w", id, err)
	}
	return t, nil
}

// ListTokens returns every service token, newest first, revoked ones included.
func (d *DB) ListTokens(ctx context.Context) ([]*sluice.ServiceToken, error) {
	rows, err := d.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM service_tokens ORDER BY issued_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []*sluice.ServiceToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken marks a token revoked at the given time; a token that is
// already revoked keeps its first time. It returns store.ErrNotFound for an
// unknown id.
func (d *DB) RevokeToken(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("revoke token %q: the revocation time is zero", id)
	}
	revoked, err := encodeTime(at)
	if err != nil {
		return fmt.Errorf("revoke token %q: %w", id, err)
	}
	res, err := d.write.ExecContext(ctx, `UPDATE service_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, revoked, id)
	if err != nil {
		return fmt.Errorf("revoke token %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke token %q: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("revoke token %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// scanToken reads one row of tokenColumns.
func scanToken(row scanner) (*sluice.ServiceToken, error) {
	var (
		t                        sluice.ServiceToken
		groups                   sql.NullString
		issued, expires, revoked sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.Subject, &groups, &issued, &expires, &revoked); err != nil {
		return nil, err
	}
	var err error
	if t.Groups, err = decodeList[string](groups); err != nil {
		return nil, fmt.Errorf("token %q groups: %w", t.ID, err)
	}
	t.IssuedAt = decodeTime(issued)
	t.ExpiresAt = decodeTime(expires)
	t.RevokedAt = decodeTime(revoked)
	return &t, nil
}
