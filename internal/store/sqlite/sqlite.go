// Package sqlite implements store.Store on an SQLite file, the gateway's
// embedded default. It uses SQLite's C library through
// github.com/mattn/go-sqlite3 (cgo, which the SQL classifier needs anyway),
// which writes in about two thirds of the transpiled build's time
// (docs/benchmarks.md). The search index keeps statements in chunks, a row
// per session and write (chunk.go), since even with the C build a row per
// statement took a sixth to a quarter of the gateway's CPU.
//
// The file may be shared by several processes: `sluice token issue` writes to
// the state.db of a running `sluice serve`. Every write takes the database's
// write lock up front (BEGIN IMMEDIATE) and waits up to BusyTimeout for
// another process to release it. Within one process, writes go through a
// single connection and so queue in Go rather than in SQLite's busy handler;
// reads use a separate pool and, in WAL mode, never wait for writers.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver

	"github.com/sluicehq/sluice/internal/store"
)

// driverName is the database/sql driver of github.com/mattn/go-sqlite3.
const driverName = "sqlite3"

// BusyTimeout is how long a write waits for another connection or process
// to release the database's write lock before it fails with SQLITE_BUSY.
const BusyTimeout = 30 * time.Second

// DB is a state store in an SQLite file. It is safe for concurrent use by
// many goroutines, and several processes may open the same file.
type DB struct {
	path  string
	write *sql.DB // one connection; every write goes through it
	read  *sql.DB // a pool of query-only connections

	mu     sync.Mutex
	closed bool
}

var _ store.Store = (*DB)(nil)

// Open opens the state store in the SQLite file at path, creating the file
// (mode 0600) and its parent directory (mode 0700) if they are missing, and
// brings its schema up to date. It is safe to call from several processes
// on the same file at once.
func Open(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open state store: %w", err)
	}
	if strings.Contains(abs, "?") {
		// The driver reads everything after a '?' as connection options.
		return nil, fmt.Errorf("open state store %s: the path must not contain '?'", abs)
	}
	if err := createFile(abs); err != nil {
		return nil, fmt.Errorf("open state store: %w", err)
	}

	d := &DB{path: abs}
	d.write, err = sql.Open(driverName, dsn(abs, url.Values{
		"_journal_mode": {"WAL"},
		"_synchronous":  {"NORMAL"},
		"_txlock":       {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("open state store %s: %w", abs, err)
	}
	d.write.SetMaxOpenConns(1)
	d.write.SetMaxIdleConns(1)
	d.write.SetConnMaxIdleTime(0)
	d.write.SetConnMaxLifetime(0)

	conns := max(4, runtime.GOMAXPROCS(0))
	d.read, err = sql.Open(driverName, dsn(abs, url.Values{"_query_only": {"1"}}))
	if err != nil {
		d.write.Close()
		return nil, fmt.Errorf("open state store %s: %w", abs, err)
	}
	d.read.SetMaxOpenConns(conns)
	d.read.SetMaxIdleConns(conns)

	// The first connection sets WAL mode, which the file keeps from then on.
	if err := d.ping(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("open state store %s: %w", abs, err)
	}
	if err := d.migrate(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("open state store %s: %w", abs, err)
	}
	return d, nil
}

// createFile creates the directories leading to path with mode 0700 and the
// file itself with mode 0600, so that SQLite (which would use 0644) finds it
// there. SQLite gives the -wal and -shm files the mode of the database file.
// An existing file keeps its mode.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create state file: %w", err)
	}
	return f.Close()
}

// dsn returns the driver's data source name for the file at path with the
// options every connection needs plus extra.
func dsn(path string, extra url.Values) string {
	q := url.Values{
		"_busy_timeout": {strconv.FormatInt(BusyTimeout.Milliseconds(), 10)},
		"_foreign_keys": {"1"},
	}
	for k, v := range extra {
		q[k] = v
	}
	return path + "?" + q.Encode()
}

// Path returns the absolute path of the database file.
func (d *DB) Path() string { return d.path }

// Close closes the database. It is idempotent; calls after the first return nil.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return errors.Join(d.read.Close(), d.write.Close())
}

// ping opens the write connection. Switching a new file to WAL takes an
// exclusive lock that SQLite's busy handler does not wait for, so a
// process that opens the file at the same moment as another one gets
// SQLITE_BUSY: it tries again, with backoff, for up to BusyTimeout.
func (d *DB) ping(ctx context.Context) error {
	deadline := time.Now().Add(BusyTimeout)
	wait := 5 * time.Millisecond
	for {
		err := d.write.PingContext(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}
