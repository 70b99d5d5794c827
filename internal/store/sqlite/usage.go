package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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

// ReserveTokens admits r when the budget's usage and unexpired
// reservations stay below limit, and stores it, in one write transaction:
// the file's write lock orders it after every other reservation and add.
func (d *DB) ReserveTokens(ctx context.Context, r store.TokenReservation, limit int64, now time.Time) (used, reserved int64, ok bool, err error) {
	defer func() {
		if err != nil {
			used, reserved, ok = 0, 0, false
			err = fmt.Errorf("reserve tokens of %q on %q: %w", r.Subject, r.Connection, err)
		}
	}()
	if err := store.CheckReservation(r); err != nil {
		return 0, 0, false, err
	}
	until, err := encodeTime(r.Until)
	if err != nil {
		return 0, 0, false, err
	}
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return 0, 0, false, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	budget := []any{r.Subject, r.Connection, r.Day}
	if _, err := tx.ExecContext(ctx, `DELETE FROM token_reservations
        WHERE subject = ? AND connection = ? AND day = ? AND until <= ?`, append(budget, boundTime(now))...); err != nil {
		return 0, 0, false, fmt.Errorf("drop expired: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT
        coalesce((SELECT tokens FROM token_usage WHERE subject = ? AND connection = ? AND day = ?), 0),
        coalesce((SELECT sum(tokens) FROM token_reservations WHERE subject = ? AND connection = ? AND day = ?), 0)`,
		append(budget, budget...)...).Scan(&used, &reserved)
	if err != nil {
		return 0, 0, false, err
	}
	if ok = store.Admits(used, reserved, limit); ok {
		if _, err := tx.ExecContext(ctx, `INSERT INTO token_reservations (id, subject, connection, day, tokens, until)
            VALUES (?, ?, ?, ?, ?, ?)`, r.ID, r.Subject, r.Connection, r.Day, r.Tokens, until); err != nil {
			return 0, 0, false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, false, fmt.Errorf("commit: %w", err)
	}
	return used, reserved, ok, nil
}

// ReleaseTokens drops reservation id.
func (d *DB) ReleaseTokens(ctx context.Context, id string) error {
	if _, err := d.write.ExecContext(ctx, `DELETE FROM token_reservations WHERE id = ?`, id); err != nil {
		return fmt.Errorf("release token reservation %q: %w", id, err)
	}
	return nil
}
