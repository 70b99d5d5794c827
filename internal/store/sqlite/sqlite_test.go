package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/migrate"
	"github.com/sluicehq/sluice/internal/store/storetest"
)

// openTemp opens a store in a new file under t's temporary directory and
// closes it when the test ends.
func openTemp(t testing.TB) *DB {
	t.Helper()
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func BenchmarkAddStatements(b *testing.B) {
	storetest.BenchAddStatements(b, openTemp(b))
}

func BenchmarkApplyIndex(b *testing.B) {
	storetest.BenchApplyIndex(b, openTemp(b))
}

// migrationRows returns the rows of schema_migrations as "version name applied_at".
func migrationRows(t *testing.T, d *DB) []string {
	t.Helper()
	rows, err := d.read.Query(`SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v, at int64
		var name string
		if err := rows.Scan(&v, &name, &at); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s %d", v, name, at))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkMigrations fails the test unless rows (from migrationRows) are one
// row for each embedded migration, in order.
func checkMigrations(t *testing.T, rows []string) {
	t.Helper()
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	ok := len(rows) == len(ms)
	for i := 0; ok && i < len(ms); i++ {
		ok = strings.HasPrefix(rows[i], fmt.Sprintf("%d %s ", ms[i].Version, ms[i].Name))
	}
	if !ok {
		t.Fatalf("schema_migrations = %q, want one row for each of %v", rows, ms)
	}
}

func TestReopenKeepsDataAndMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	start := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	s := &sluice.Session{ID: "s1", Identity: sluice.Identity{Subject: "alice"}, Connection: "orders", StartedAt: start}
	if err := d.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	before := migrationRows(t, d)
	checkMigrations(t, before)
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	d, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer d.Close()
	got, err := d.GetSession(ctx, "s1")
	if err != nil {
		t.Fatalf("GetSession after reopen: %v", err)
	}
	// SQLite keeps nanoseconds.
	if !got.StartedAt.Equal(start) || got.Identity.Subject != "alice" {
		t.Errorf("after reopen got %+v", got)
	}
	if after := migrationRows(t, d); !slices.Equal(after, before) {
		t.Errorf("schema_migrations changed on reopen:\nbefore %q\nafter  %q", before, after)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := d.write.Exec(`INSERT INTO schema_migrations VALUES (999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err := Open(ctx, path); err == nil {
		d.Close()
		t.Fatal("Open of a database from a newer sluice succeeded, want an error")
	} else if !strings.Contains(err.Error(), "schema version 999 is newer") {
		t.Fatalf("Open error = %v, want one about the newer schema", err)
	}
}

func TestPreReleaseSchemaIsRefused(t *testing.T) {
	// A file whose 0001_init predates the index of the journal.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	old, err := sql.Open(driverName, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		createMigrationsTable,
		`INSERT INTO schema_migrations VALUES (1, 'init', 0)`,
		`CREATE TABLE sessions (id TEXT NOT NULL PRIMARY KEY)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	if d, err := Open(ctx, path); err == nil {
		d.Close()
		t.Fatal("Open of a pre-release state store succeeded, want an error")
	} else if !strings.Contains(err.Error(), "pre-release sluice with an older schema") {
		t.Fatalf("Open error = %v, want one about the pre-release schema", err)
	}
}

func TestSchemaWithoutReviewsIsRefused(t *testing.T) {
	// A file made while 0001_init had the index of the journal but not
	// the reviews.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := d.write.Exec(`DROP TABLE review_decisions; DROP TABLE reviews`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err := Open(ctx, path); err == nil {
		d.Close()
		t.Fatal("Open of a state store without reviews succeeded, want an error")
	} else if !strings.Contains(err.Error(), "pre-release sluice with an older schema") {
		t.Fatalf("Open error = %v, want one about the pre-release schema", err)
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dir, "state.db")
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d.Close()
	if d.Path() != path {
		t.Errorf("Path = %q, want %q", d.Path(), path)
	}
	// A write makes SQLite create the WAL, which takes the database file's mode.
	s := &sluice.Session{ID: "s1", StartedAt: time.Now()}
	if err := d.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want os.FileMode
	}{
		{filepath.Dir(dir), 0o700 | os.ModeDir},
		{dir, 0o700 | os.ModeDir},
		{path, 0o600},
		{path + "-wal", 0o600},
		{path + "-shm", 0o600},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if got := fi.Mode(); got != c.want {
			t.Errorf("%s has mode %v, want %v", c.path, got, c.want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if d, err := Open(ctx, filepath.Join(t.TempDir(), "what?.db")); err == nil {
		d.Close()
		t.Error("Open of a path with '?' succeeded, want an error")
	}
	// A regular file where the parent directory should be.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if d, err := Open(ctx, filepath.Join(file, "state.db")); err == nil {
		d.Close()
		t.Error("Open under a regular file succeeded, want an error")
	}
	// Not an SQLite file.
	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if d, err := Open(ctx, junk); err == nil {
		d.Close()
		t.Error("Open of a file that is not a database succeeded, want an error")
	}
}

func TestTimeOutOfRange(t *testing.T) {
	d := openTemp(t)
	s := &sluice.Session{ID: "s1", StartedAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := d.CreateSession(context.Background(), s); err == nil || !strings.Contains(err.Error(), "outside the storable range") {
		t.Errorf("CreateSession in the year 3000 = %v, want a range error", err)
	}
	// As a filter bound, a far time is clamped rather than refused.
	got, err := d.ListSessions(context.Background(), store.SessionFilter{Until: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(got) != 0 {
		t.Errorf("ListSessions(until 3000) = %d, %v", len(got), err)
	}
}

// writeRounds is the work one writer does in the concurrency tests below:
// for each round a session with a batch of statements, ended, and a token.
func writeRounds(ctx context.Context, st store.Store, prefix string, rounds int) error {
	for r := range rounds {
		id := fmt.Sprintf("%s-%d", prefix, r)
		now := time.Now()
		if err := st.CreateSession(ctx, &sluice.Session{ID: id, Identity: sluice.Identity{Subject: prefix}, StartedAt: now}); err != nil {
			return err
		}
		var batch []*sluice.StatementRecord
		for i := range 8 {
			batch = append(batch, &sluice.StatementRecord{ID: fmt.Sprintf("%s-q%d", id, i), SessionID: id, Seq: int64(i + 1), Text: "SELECT 1"})
		}
		if err := st.AddStatements(ctx, batch); err != nil {
			return err
		}
		if err := st.EndSession(ctx, id, now.Add(time.Second), sluice.EndClient); err != nil {
			return err
		}
		if err := st.CreateToken(ctx, &sluice.ServiceToken{ID: id, Subject: prefix, IssuedAt: now}); err != nil {
			return err
		}
		if _, err := st.AddUsage(ctx, usageSubject, "claude", usageDay, 1); err != nil {
			return err
		}
	}
	return nil
}

// The key every writer of writeRounds adds one token of usage to per round.
const usageSubject, usageDay = "shared", "2025-03-14"

// checkCounts fails the test unless the file holds exactly the given numbers
// of sessions, statements and tokens, one migration row for each embedded
// migration, and a token of usage for each token (one per round, added by
// every writer to one key).
func checkCounts(t *testing.T, d *DB, sessions, statements, tokens int) {
	t.Helper()
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]int{
		"sessions": sessions, "statement_chunks": statements, "service_tokens": tokens, "schema_migrations": len(ms),
	} {
		count := `count(*)`
		if table == "statement_chunks" {
			count = `coalesce(sum(n), 0)`
		}
		var n int
		if err := d.read.QueryRow(`SELECT ` + count + ` FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
	if n, err := d.Usage(context.Background(), usageSubject, "claude", usageDay); err != nil || n != int64(tokens) {
		t.Errorf("Usage = %d, %v; want %d", n, err, tokens)
	}
}

func TestTwoHandlesWriteConcurrently(t *testing.T) {
	// Two *DB on one file have separate connections, as two processes do;
	// their writers contend for the file's lock and must wait, not fail.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	var dbs [2]*DB
	var wg sync.WaitGroup
	errs := make([]error, len(dbs))
	for i := range dbs { // open at once: both migrate a new file
		wg.Go(func() { dbs[i], errs[i] = Open(ctx, path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}

	const writers, rounds = 4, 10
	for i, d := range dbs {
		for w := range writers {
			wg.Go(func() {
				if err := writeRounds(ctx, d, fmt.Sprintf("db%d-w%d", i, w), rounds); err != nil {
					t.Errorf("db %d writer %d: %v", i, w, err)
				}
			})
		}
	}
	wg.Wait()
	n := len(dbs) * writers * rounds
	checkCounts(t, dbs[0], n, 8*n, n)
}

// Environment of a writer child process; see TestMain.
const (
	childPath   = "SLUICE_SQLITE_TEST_CHILD_PATH"
	childPrefix = "SLUICE_SQLITE_TEST_CHILD_PREFIX"
	childRounds = "SLUICE_SQLITE_TEST_CHILD_ROUNDS"
	childStep   = "SLUICE_SQLITE_TEST_CHILD_STEP" // a review step; see runReviewChild
)

func TestMain(m *testing.M) {
	if path := os.Getenv(childPath); path != "" {
		if step := os.Getenv(childStep); step != "" {
			os.Exit(runReviewChild(path, step))
		}
		os.Exit(runChild(path))
	}
	os.Exit(m.Run())
}

// runChild is a writer in another process: it opens the file, says "ready",
// waits for a line on stdin, writes its rounds and exits 0 on success.
func runChild(path string) int {
	ctx := context.Background()
	d, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	defer d.Close()
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "wait for go:", err)
		return 1
	}
	rounds, _ := strconv.Atoi(os.Getenv(childRounds))
	if err := writeRounds(ctx, d, os.Getenv(childPrefix), rounds); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		return 1
	}
	return 0
}

func TestProcessesWriteConcurrently(t *testing.T) {
	// Child processes open a new file at the same time (racing to migrate
	// it), then all write at once, beside this process.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	const children, rounds = 2, 25
	type child struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		stderr strings.Builder
		ready  chan string // the first line of its stdout
	}
	var kids []*child
	for i := range children {
		c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$"), ready: make(chan string, 1)}
		c.cmd.Env = append(os.Environ(), childPath+"="+path, childPrefix+"="+fmt.Sprintf("child%d", i), childRounds+"="+strconv.Itoa(rounds))
		c.cmd.Stderr = &c.stderr
		stdout, err := c.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if c.stdin, err = c.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
		kids = append(kids, c)
		go func() {
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			c.ready <- line
		}()
	}
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d.Close()
	for i, c := range kids {
		if line := <-c.ready; line != "ready\n" {
			c.cmd.Wait()
			t.Fatalf("child %d did not get ready: %q\n%s", i, line, c.stderr.String())
		}
	}
	for _, c := range kids {
		if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeRounds(ctx, d, "parent", rounds); err != nil {
		t.Errorf("parent: %v", err)
	}
	for i, c := range kids {
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s", i, err, c.stderr.String())
		}
	}
	n := (children + 1) * rounds
	checkCounts(t, d, n, 8*n, n)
	if _, err := d.GetSession(ctx, "child1-0"); errors.Is(err, store.ErrNotFound) {
		t.Error("a child's session is missing")
	}
}

func BenchmarkIndexer(b *testing.B) {
	storetest.BenchIndexer(b, openTemp(b))
}

func TestIsBusy(t *testing.T) {
	// A second writer that may not wait gets SQLite's SQLITE_BUSY, which
	// Open's retry must recognize as such; other errors are not busy.
	path := filepath.Join(t.TempDir(), "busy.db")
	ctx := context.Background()
	var conns [2]*sql.Conn
	for i := range conns {
		db, err := sql.Open(driverName, dsn(path, url.Values{"_busy_timeout": {"0"}}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if conns[i], err = db.Conn(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conns[i].Close() })
	}
	if _, err := conns[0].ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	_, err := conns[1].ExecContext(ctx, "BEGIN IMMEDIATE")
	if err == nil || !isBusy(err) {
		t.Fatalf("a second BEGIN IMMEDIATE failed with %v, which isBusy does not take for SQLITE_BUSY", err)
	}
	if isBusy(fmt.Errorf("open: %w", errors.New("no such table: x"))) || isBusy(nil) {
		t.Error("isBusy took another error for SQLITE_BUSY")
	}
}

func TestManyHandlesOpenANewFileAtOnce(t *testing.T) {
	// Switching a new file to WAL takes a lock SQLite's busy handler does
	// not wait for: handles opened at the same moment must retry, not fail.
	for round := range 10 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("state%d.db", round))
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				d, err := Open(context.Background(), path)
				if err == nil {
					d.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, handle %d: %v", round, i, err)
			}
		}
	}
}
