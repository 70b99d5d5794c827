package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/internal/store"
)

// AddUsage adds tokens to the usage of subject on connection for day and
// returns the new total. The upsert is one statement, which holds the
// file's write lock, so adds from other goroutines and processes all count.
// A total beyond int64 is an error: SQLite makes the sum a REAL, which the
// STRICT INTEGER column refuses.
func (d *DB) AddUsage(ctx context.Context, subject, connection, day string, tokens int64) (int64, error) {
	if err := store.CheckUsage(day, tokens); err != nil {
		return 0, fmt.Errorf("add usage of %q on %q: %w", subject, connection, err)
	}
	var total int64
	err := d.write.QueryRowContext(ctx, `INSERT INTO token_usage (subject, connection, day, tokens) VALUES (?, ?, ?, ?)
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
	err := d.read.QueryRowContext(ctx, `SELECT tokens FROM token_usage WHERE subject = ? AND connection = ? AND day = ?`,
		subject, connection, day).Scan(&total)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("usage of %q on %q for %s: %w", subject, connection, day, err)
	}
	return total, nil
}
