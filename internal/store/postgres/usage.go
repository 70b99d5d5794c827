package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// ReserveTokens admits r when the budget's usage and unexpired
// reservations stay below limit, and stores it. Reservations of one budget
// are serialized by a lock on the budget's token_usage row, which the
// transaction creates with 0 tokens when the budget has none yet; AddUsage
// waits for that lock too.
func (d *DB) ReserveTokens(ctx context.Context, r store.TokenReservation, limit int64, now time.Time) (used, reserved int64, ok bool, err error) {
	if err := store.CheckReservation(r); err != nil {
		return 0, 0, false, fmt.Errorf("reserve tokens of %q on %q: %w", r.Subject, r.Connection, err)
	}
	budget := cleanArgs([]any{r.Subject, r.Connection, r.Day})
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO token_usage (subject, connection, day, tokens) VALUES ($1, $2, $3, 0)
            ON CONFLICT (subject, connection, day) DO NOTHING`, budget...); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT tokens FROM token_usage WHERE subject = $1 AND connection = $2 AND day = $3
            FOR UPDATE`, budget...).Scan(&used); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM token_reservations
            WHERE subject = $1 AND connection = $2 AND day = $3 AND until <= $4`, append(budget, now)...); err != nil {
			return fmt.Errorf("drop expired: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(tokens), 0)::bigint FROM token_reservations
            WHERE subject = $1 AND connection = $2 AND day = $3`, budget...).Scan(&reserved); err != nil {
			return err
		}
		if !store.Admits(used, reserved, limit) {
			return nil
		}
		ok = true
		_, err := tx.Exec(ctx, `INSERT INTO token_reservations (id, subject, connection, day, tokens, until)
            VALUES ($1, $2, $3, $4, $5, $6)`, cleanArgs([]any{r.ID, r.Subject, r.Connection, r.Day, r.Tokens, r.Until})...)
		return err
	})
	if err != nil {
		return 0, 0, false, fmt.Errorf("reserve tokens of %q on %q: %w", r.Subject, r.Connection, err)
	}
	return used, reserved, ok, nil
}

// ReleaseTokens drops reservation id.
func (d *DB) ReleaseTokens(ctx context.Context, id string) error {
	if _, err := d.exec(ctx, `DELETE FROM token_reservations WHERE id = $1`, id); err != nil {
		return fmt.Errorf("release token reservation %q: %w", id, err)
	}
	return nil
}
