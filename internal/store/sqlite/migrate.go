package sqlite

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/store/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT`

// migrate applies the embedded migrations that the file lacks, each in its
// own write transaction. Another process may be migrating the same file at
// the same moment: the write lock serializes the two, and each migration
// checks again, under the lock, whether it is still needed.
func (d *DB) migrate(ctx context.Context) error {
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		return err
	}
	if _, err := d.write.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var newest int
	if err := d.write.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if latest := migrate.Latest(ms); newest > latest {
		return fmt.Errorf("schema version %d is newer than this sluice supports (%d): upgrade sluice", newest, latest)
	}
	if newest > 0 {
		if err := d.checkReleased(ctx); err != nil {
			return err
		}
	}
	for _, m := range ms {
		if m.Version <= newest {
			continue
		}
		if err := d.apply(ctx, m); err != nil {
			return fmt.Errorf("apply migration %s: %w", m, err)
		}
	}
	return d.convertRowStatements(ctx)
}

// checkReleased refuses a file made by a pre-release build. Before the
// first release, 0001_init was rewritten rather than followed by a
// migration; such a file lacks the index of the journal or the reviews, and
// later migrations cannot apply to it.
func (d *DB) checkReleased(ctx context.Context) error {
	var n int
	if err := d.write.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master
        WHERE type = 'table' AND name IN ('index_state', 'reviews')`).Scan(&n); err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if n < 2 {
		return errors.New(preReleaseSchema)
	}
	return nil
}

// preReleaseSchema explains a state store made by a pre-release build.
const preReleaseSchema = "the state store was made by a pre-release sluice with an older schema: " +
	"move it aside and start again (service tokens must then be issued anew; `sluice audit reindex` rebuilds the audit index)"

// apply runs one migration and records it, unless another process got there first.
func (d *DB) apply(ctx context.Context, m migrate.Migration) error {
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var done int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&done); err != nil {
		return err
	}
	if done > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}
