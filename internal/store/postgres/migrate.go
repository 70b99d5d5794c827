package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/store/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLock is the pg_advisory_xact_lock key that serializes migrations
// across replicas: the bytes of "sluice" as an integer.
const migrationLock int64 = 0x736c75696365

const createMigrationsTable = `CREATE TABLE schema_migrations (
    version    integer     NOT NULL PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// migrate applies the embedded migrations that the database lacks, each in
// its own transaction that first takes the migration lock, so that replicas
// starting together apply each migration once.
func (d *DB) migrate(ctx context.Context) error {
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
			return apply(ctx, tx, m, migrate.Latest(ms))
		}); err != nil {
			return fmt.Errorf("apply migration %s: %w", m, err)
		}
	}
	// Before the first release, 0001_init was rewritten rather than
	// followed by a migration; a database made by an earlier build lacks
	// the index of the journal or the reviews.
	var ok bool
	if err := d.pool.QueryRow(ctx, `SELECT to_regclass('index_state') IS NOT NULL
        AND to_regclass('reviews') IS NOT NULL`).Scan(&ok); err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if !ok {
		return errors.New("the state store was made by a pre-release sluice with an older schema: " +
			"give sluice a new database (service tokens must then be issued anew; `sluice audit reindex` rebuilds the audit index)")
	}
	return nil
}

// apply runs migration m in tx unless the database already has it. latest
// is the newest version this binary knows; a database beyond it is refused.
func apply(ctx context.Context, tx pgx.Tx, m migrate.Migration, latest int) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("look for schema_migrations: %w", err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
	}
	var newest int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if newest > latest {
		return fmt.Errorf("schema version %d is newer than this sluice supports (%d): upgrade sluice", newest, latest)
	}
	if newest >= m.Version {
		return nil
	}
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
		return fmt.Errorf("record migration: %w", err)
	}
	return nil
}
