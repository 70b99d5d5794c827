// Package postgres implements store.Store on PostgreSQL, for several gateway
// replicas that share state. It uses a pgx connection pool.
//
// The store keeps its tables (sessions, statements, index_state,
// service_tokens, reviews, review_decisions, token_usage and
// schema_migrations) in the first schema of the connection's search_path,
// normally public; give it a database of its own.
//
// PostgreSQL text cannot hold NUL bytes or, in a UTF8 database, invalid
// UTF-8, both of which a client can send. Rather than fail to record such a
// statement, the store replaces each NUL and each run of invalid bytes in the
// values it writes (and looks up) with U+FFFD.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/store"
)

// DB is a state store in a PostgreSQL database. It is safe for concurrent
// use by many goroutines, and several processes may share the database.
type DB struct {
	pool *pgxpool.Pool

	mu     sync.Mutex
	closed bool
}

var _ store.Store = (*DB)(nil)

// Open connects to the PostgreSQL database that dsn names (a URL or
// key=value connection string, as libpq takes) and brings its schema up to
// date. Replicas may open the same database at once: migrations are
// serialized with an advisory lock. The DSN's password never appears in a
// returned error.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parser's message may quote the DSN, password and all, when it
		// cannot tell where the password ends; say only what went wrong.
		return nil, errors.New("open state store: the DSN is not a valid PostgreSQL connection string (URL or key=value)")
	}
	password := cfg.ConnConfig.Password
	pool, err := pgxpool.NewWithConfig(ctx, cfg) // connects lazily
	if err != nil {
		return nil, redact(fmt.Errorf("open state store: %w", err), password)
	}
	d := &DB{pool: pool}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, redact(fmt.Errorf("open state store: %w", err), password)
	}
	if err := d.migrate(ctx); err != nil {
		pool.Close()
		return nil, redact(fmt.Errorf("open state store: %w", err), password)
	}
	return d, nil
}

// Close closes every connection of the pool, waiting for calls in progress
// to finish. It is idempotent; calls after the first return nil.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		d.pool.Close()
	}
	return nil
}

// redact returns err, or, if its text holds password, an error whose text
// has the password masked. The masked error still matches its cause's
// sentinels with errors.Is, but does not unwrap to the cause.
func redact(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), password, "xxxxx"), cause: err}
}

// redactedError is an error whose message was scrubbed of a password.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }

// Is reports whether the scrubbed cause matches target, so that callers can
// still test for context.Canceled and the like.
func (e *redactedError) Is(target error) bool { return errors.Is(e.cause, target) }

// exec is pool.Exec with the arguments cleaned of what PostgreSQL cannot
// store (see clean), so that such bytes change a value rather than fail it.
func (d *DB) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return d.pool.Exec(ctx, sql, cleanArgs(args)...)
}

// query is pool.Query with the arguments cleaned, as in exec.
func (d *DB) query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return d.pool.Query(ctx, sql, cleanArgs(args)...)
}

// queryRow is pool.QueryRow with the arguments cleaned, as in exec.
func (d *DB) queryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return d.pool.QueryRow(ctx, sql, cleanArgs(args)...)
}
