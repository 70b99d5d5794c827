package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/store"
)

// AddUsage adds tokens to the usage of subject on connection for day and
// returns the new total. The upsert is one statement that locks the row it
// inserts or updates, so adds from every connection and replica all count.
// A total beyond bigint fails the statement (22003) and changes nothing.
func (d *DB) AddUsage(ctx context.Context, subject, connection, day string, tokens int64) (int64, error) {
	if err := store.CheckUsage(day, tokens); err != nil {
		return 0, fmt.Errorf("add usage of %q on %q: %w", subject, connection, err)
	}
	var total int64
	err := d.queryRow(ctx, `INSERT INTO token_usage (subject, connection, day, tokens) VALUES ($1, $2, $3, $4)
        ON CONFLICT (subject, connection, day) DO UPDATE SET tokens = token_usage.tokens + excluded.tokens
        RETURNING tokens`, subject, connection, day, tokens).Scan(&total)
	if err != nil {
		return 0, fmt.Errorf("add usage of %q on %q for %s: %w", subject, connection, day, err)
	}
	return total, nil
}

// Usage returns the tokens used by subject on connection on day, 0 when none.
func (d *DB) Usage(ctx context.Context, subject, connection, day string) (int64, error) {
	if err := store.CheckDay(day); err != nil {
		return 0, fmt.Errorf("usage of %q on %q: %w", subject, connection, err)
	}
	var total int64
	err := d.queryRow(ctx, `SELECT tokens FROM token_usage WHERE subject = $1 AND connection = $2 AND day = $3`,
		subject, connection, day).Scan(&total)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("usage of %q on %q for %s: %w", subject, connection, day, err)
	}
	return total, nil
}
