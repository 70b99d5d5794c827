package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

const tokenColumns = `id, subject, group_names, issued_at, expires_at, revoked_at`

// CreateToken records a newly issued service token. It fails if the id is taken.
func (d *DB) CreateToken(ctx context.Context, t *sluice.ServiceToken) error {
	if t.IssuedAt.IsZero() {
		return fmt.Errorf("create token %q: IssuedAt is zero", t.ID)
	}
	_, err := d.exec(ctx, `INSERT INTO service_tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.Subject, t.Groups, t.IssuedAt, encodeTime(t.ExpiresAt), encodeTime(t.RevokedAt))
	if errorCode(err) == uniqueViolation {
		return fmt.Errorf("create token %q: the id is already in use: %w", t.ID, err)
	}
	if err != nil {
		return fmt.Errorf("create token %q: %w", t.ID, err)
	}
	return nil
}

// GetToken returns the service token with the given id or store.ErrNotFound.
func (d *DB) GetToken(ctx context.Context, id string) (*sluice.ServiceToken, error) {
	rows, _ := d.query(ctx, `SELECT `+tokenColumns+` FROM service_tokens WHERE id = $1`, id)
	t, err := pgx.CollectExactlyOneRow(rows, scanToken)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("get token %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get token %q: %w", id, err)
	}
	return t, nil
}

// ListTokens returns every service token, newest first, revoked ones included.
func (d *DB) ListTokens(ctx context.Context) ([]*sluice.ServiceToken, error) {
	rows, _ := d.query(ctx, `SELECT `+tokenColumns+` FROM service_tokens ORDER BY issued_at DESC, id DESC`)
	out, err := pgx.CollectRows(rows, scanToken)
	if err != nil {
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
	tag, err := d.exec(ctx, `UPDATE service_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, at, id)
	if err != nil {
		return fmt.Errorf("revoke token %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke token %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// scanToken reads one row of tokenColumns.
func scanToken(row pgx.CollectableRow) (*sluice.ServiceToken, error) {
	var (
		t                        sluice.ServiceToken
		issued, expires, revoked *time.Time
	)
	if err := row.Scan(&t.ID, &t.Subject, &t.Groups, &issued, &expires, &revoked); err != nil {
		return nil, err
	}
	t.IssuedAt = decodeTime(issued)
	t.ExpiresAt = decodeTime(expires)
	t.RevokedAt = decodeTime(revoked)
	return &t, nil
}
