package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"

	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/migrate"
	"github.com/sluicehq/sluice/internal/store/storetest"
	"github.com/sluicehq/sluice/internal/testkit"
)

func TestMain(m *testing.M) { testkit.RunMain(m) }

// newDatabase creates an empty database on the shared server and returns
// the DSN of a non-superuser test role for it.
func newDatabase(t testing.TB) string {
	t.Helper()
	pg := testkit.Shared(t)
	name := testkit.UniqueName(t)
	if err := pg.CreateDatabase(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	u := pg.SCRAMUser()
	return pg.DSN(u.Name, u.Password, name, "disable")
}

// openTemp opens a store in a new database and closes it when the test ends.
func openTemp(t testing.TB) *DB {
	t.Helper()
	d, err := Open(context.Background(), newDatabase(t))
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

func TestOpenNeverReturnsThePassword(t *testing.T) {
	ctx := context.Background()
	pg := testkit.Shared(t)
	db := testkit.UniqueName(t)
	if err := pg.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	wrong := "wr0ng-" + rand.Text() // random, so it cannot occur by chance
	roles := []testkit.Role{pg.SCRAMUser(), pg.MD5User(), pg.PlainUser()}
	for _, role := range roles {
		t.Run(string(role.Method), func(t *testing.T) {
			for _, c := range []struct {
				name, dsn, secret, want string
			}{
				{"wrong password", pg.DSN(role.Name, wrong, db, ""), wrong, "password authentication failed"},
				{"wrong password key=value", fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=disable",
					pg.Host(), pg.Port(), role.Name, wrong, db), wrong, "password authentication failed"},
				{"unknown database", pg.DSN(role.Name, role.Password, "no_such_db", ""), role.Password, "does not exist"},
			} {
				d, err := Open(ctx, c.dsn)
				if err == nil {
					d.Close()
					t.Fatalf("%s: Open succeeded, want an error", c.name)
				}
				if strings.Contains(err.Error(), c.secret) {
					t.Errorf("%s: the error holds the password: %v", c.name, err)
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: error = %v, want one saying %q", c.name, err, c.want)
				}
			}
		})
	}
	// Malformed DSNs that carry a password: the parser may not find where
	// the password ends, so the error must not echo the DSN at all.
	for _, dsn := range []string{
		"postgres://sluice:" + wrong + "@127.0.0.1:notaport/db",
		"postgres://sluice:" + wrong + "@[::1/db",
		"host=127.0.0.1 password='" + wrong,
		"host=127.0.0.1 password=" + wrong + " sslmode=bogus",
	} {
		d, err := Open(ctx, dsn)
		if err == nil {
			d.Close()
			t.Errorf("Open(malformed DSN) succeeded, want an error")
			continue
		}
		if strings.Contains(err.Error(), wrong) {
			t.Errorf("the error for a malformed DSN holds the password: %v", err)
		}
	}
}

func TestRedact(t *testing.T) {
	cause := fmt.Errorf("dial: %w", context.DeadlineExceeded)
	err := redact(fmt.Errorf("connect with s3cret: %w", cause), "s3cret")
	if got, want := err.Error(), "connect with xxxxx: dial: context deadline exceeded"; got != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("a redacted error no longer matches its cause's sentinel")
	}
	if errors.Unwrap(err) != nil {
		t.Error("a redacted error unwraps to its unredacted cause")
	}
	plain := errors.New("no secret here")
	if got := redact(plain, "s3cret"); got != plain {
		t.Errorf("redact changed an error without the password: %v", got)
	}
	if got := redact(plain, ""); got != plain {
		t.Errorf("redact with an empty password changed the error: %v", got)
	}
	if redact(nil, "s3cret") != nil {
		t.Error("redact(nil) is not nil")
	}
}

// migrationRows returns the rows of schema_migrations as "version name applied_at".
func migrationRows(t *testing.T, d *DB) []string {
	t.Helper()
	rows, _ := d.pool.Query(context.Background(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
		var v int
		var name string
		var at time.Time
		err := row.Scan(&v, &name, &at)
		return fmt.Sprintf("%d %s %s", v, name, at.UTC().Format(time.RFC3339Nano)), err
	})
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
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

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	// Replicas starting together race to migrate a new database; the
	// advisory lock lets one apply each migration and the others see it.
	ctx := context.Background()
	dsn := newDatabase(t)
	const replicas = 6
	dbs := make([]*DB, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { dbs[i], errs[i] = Open(ctx, dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	checkMigrations(t, migrationRows(t, dbs[0]))
	// Every replica writes, and every other one reads what it wrote.
	for i, d := range dbs {
		s := &sluice.Session{ID: fmt.Sprintf("s%d", i), StartedAt: time.Now()}
		if err := d.CreateSession(ctx, s); err != nil {
			t.Fatalf("replica %d: CreateSession: %v", i, err)
		}
	}
	got, err := dbs[replicas-1].ListSessions(ctx, store.SessionFilter{})
	if err != nil || len(got) != replicas {
		t.Fatalf("ListSessions = %d sessions, %v; want %d", len(got), err, replicas)
	}
}

func TestReplicasAddUsage(t *testing.T) {
	// Replicas, each with its own pool, add to one subject's usage at once;
	// every add counts and every replica reads the same total.
	ctx := context.Background()
	dsn := newDatabase(t)
	const replicas, workers, adds = 3, 4, 25
	dbs := make([]*DB, replicas)
	for i := range dbs {
		d, err := Open(ctx, dsn)
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer d.Close()
		dbs[i] = d
	}
	var wg sync.WaitGroup
	for i, d := range dbs {
		for w := range workers {
			wg.Go(func() {
				for range adds {
					if _, err := d.AddUsage(ctx, "alice", "claude", "2025-03-14", 2); err != nil {
						t.Errorf("replica %d worker %d: AddUsage: %v", i, w, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	for i, d := range dbs {
		if n, err := d.Usage(ctx, "alice", "claude", "2025-03-14"); err != nil || n != 2*replicas*workers*adds {
			t.Errorf("replica %d: Usage = %d, %v; want %d", i, n, err, 2*replicas*workers*adds)
		}
	}
}

func TestReopenKeepsDataAndMigrations(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	d, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	start := time.Date(2025, 1, 2, 3, 4, 5, 6789, time.UTC)
	if err := d.CreateSession(ctx, &sluice.Session{ID: "s1", Connection: "orders", StartedAt: start}); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	before := migrationRows(t, d)
	d.Close()

	d, err = Open(ctx, dsn)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer d.Close()
	got, err := d.GetSession(ctx, "s1")
	if err != nil {
		t.Fatalf("GetSession after reopen: %v", err)
	}
	// timestamptz keeps microseconds; pgx truncates the rest.
	if want := start.Truncate(time.Microsecond); !got.StartedAt.Equal(want) || got.Connection != "orders" {
		t.Errorf("after reopen got started %v connection %q, want %v orders", got.StartedAt, got.Connection, want)
	}
	if after := migrationRows(t, d); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("schema_migrations changed on reopen:\nbefore %q\nafter  %q", before, after)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	d, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := d.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (999, 'future')`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err := Open(ctx, dsn); err == nil {
		d.Close()
		t.Fatal("Open of a database from a newer sluice succeeded, want an error")
	} else if !strings.Contains(err.Error(), "schema version 999 is newer") {
		t.Fatalf("Open error = %v, want one about the newer schema", err)
	}
}

func TestPreReleaseSchemaIsRefused(t *testing.T) {
	// A database whose 0001_init predates the index of the journal.
	ctx := context.Background()
	dsn := newDatabase(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		createMigrationsTable,
		`INSERT INTO schema_migrations (version, name) VALUES (1, 'init')`,
		`CREATE TABLE sessions (id text NOT NULL PRIMARY KEY)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)
	if d, err := Open(ctx, dsn); err == nil {
		d.Close()
		t.Fatal("Open of a pre-release state store succeeded, want an error")
	} else if !strings.Contains(err.Error(), "pre-release sluice with an older schema") {
		t.Fatalf("Open error = %v, want one about the pre-release schema", err)
	}
}

func TestSchemaWithoutReviewsIsRefused(t *testing.T) {
	// A database made while 0001_init had the index of the journal but
	// not the reviews.
	ctx := context.Background()
	dsn := newDatabase(t)
	d, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := d.pool.Exec(ctx, `DROP TABLE review_decisions, reviews`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err := Open(ctx, dsn); err == nil {
		d.Close()
		t.Fatal("Open of a state store without reviews succeeded, want an error")
	} else if !strings.Contains(err.Error(), "pre-release sluice with an older schema") {
		t.Fatalf("Open error = %v, want one about the pre-release schema", err)
	}
}

func TestCleanArgs(t *testing.T) {
	bad, good := "\xff\xfeend", "fine"
	groups := []string{"ok", "nul\x00"}
	params := []*string{nil, &good, &bad}
	args := cleanArgs([]any{"a\xffb", "plain", groups, params, 42})

	if got, want := args[0], "a\uFFFDb"; got != want {
		t.Errorf("string = %q, want %q", got, want)
	}
	if got := args[1]; got != "plain" {
		t.Errorf("valid string = %q, want it unchanged", got)
	}
	if got := args[2].([]string); !slices.Equal(got, []string{"ok", "nul\uFFFD"}) {
		t.Errorf("[]string = %q", got)
	}
	got := args[3].([]*string)
	if len(got) != 3 || got[0] != nil || *got[1] != "fine" || *got[2] != "\uFFFDend" {
		t.Errorf("[]*string = %v", got)
	}
	if args[4] != 42 {
		t.Errorf("int = %v, want 42", args[4])
	}
	// The caller's slices and strings are untouched.
	if groups[1] != "nul\x00" || *params[2] != "\xff\xfeend" || bad != "\xff\xfeend" {
		t.Error("cleanArgs modified the caller's values")
	}
}
