package sqlclass

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/testkit"
)

func TestMain(m *testing.M) { testkit.RunMain(m) }

// fixtures creates the objects the table's statements name, so that
// PostgreSQL gets as far as its read-only check.
const fixtures = `
CREATE TABLE t (id int PRIMARY KEY, v text, n int);
INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2);
CREATE TABLE u (id int PRIMARY KEY, v text);
INSERT INTO u VALUES (1, 'x'), (3, 'y');
CREATE SCHEMA app;
CREATE TABLE app.users (id int);
CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, abalance int);
INSERT INTO pgbench_accounts VALUES (48213, 0);
CREATE TABLE orders (id int, total int);
CREATE TABLE "Orders" (id int, total int);
CREATE TABLE "DELETE" (x int);
CREATE TABLE "my.table" (x int);
CREATE TABLE "we""ird" (x int);
CREATE TABLE dat (x int);
CREATE SEQUENCE s;
CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
CREATE UNIQUE INDEX ON mv (id);
`

// readOnlyChecker runs statements against a real PostgreSQL inside BEGIN
// READ ONLY ... ROLLBACK, each on a connection of its own, in a database
// with fixtures of its own.
type readOnlyChecker struct {
	dsn string
}

func newReadOnlyChecker(tb testing.TB) *readOnlyChecker {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg := testkit.Shared(tb)
	db := testkit.UniqueName(tb)
	if err := pg.CreateDatabase(ctx, db); err != nil {
		tb.Fatal(err)
	}
	r := &readOnlyChecker{dsn: pg.SuperuserDSN(db)}
	conn, err := pgconn.Connect(ctx, r.dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fixtures).ReadAll(); err != nil {
		tb.Fatalf("fixtures: %v", err)
	}
	return r
}

var paramRef = regexp.MustCompile(`\$[0-9]`)

// run runs text in a read-only transaction and returns the error
// PostgreSQL reported for it, if any. A statement text with parameters is
// run through the extended protocol with every parameter '1'.
func (r *readOnlyChecker) run(tb testing.TB, text string) error {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, r.dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "BEGIN READ ONLY").ReadAll(); err != nil {
		tb.Fatal(err)
	}
	a := Classify(text)
	upper := strings.ToUpper(text)
	switch {
	case len(a.Statements) == 1 && a.Statements[0].Kind == "copy_to" && strings.Contains(upper, "STDOUT"):
		_, err = conn.CopyTo(ctx, io.Discard, text)
	case len(a.Statements) == 1 && a.Statements[0].Kind == "copy_from" && strings.Contains(upper, "STDIN"):
		_, err = conn.CopyFrom(ctx, strings.NewReader(""), text)
	case len(a.Statements) == 1 && a.Statements[0].Kind != "prepare" && paramRef.MatchString(text):
		var sd *pgconn.StatementDescription
		sd, err = conn.Prepare(ctx, "", text, nil)
		if err == nil {
			params := make([][]byte, len(sd.ParamOIDs))
			for i := range params {
				params[i] = []byte("1")
			}
			err = conn.ExecPrepared(ctx, "", params, nil, nil).Read().Err
		}
	default:
		_, err = conn.Exec(ctx, text).ReadAll()
	}
	_, _ = conn.Exec(ctx, "ROLLBACK").ReadAll()
	return err
}

func isReadOnlyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "25006"
}

// TestReadAgreesWithPostgres runs every table statement classified exactly
// read inside a read-only transaction: PostgreSQL's own enforcement must
// not find a write in any of them.
func TestReadAgreesWithPostgres(t *testing.T) {
	r := newReadOnlyChecker(t)
	ran, failed := 0, 0
	for _, tc := range table {
		if tc.class != sluice.ClassRead || strings.IndexByte(tc.sql, 0) >= 0 {
			continue
		}
		ran++
		err := r.run(t, tc.sql)
		if isReadOnlyViolation(err) {
			t.Errorf("%q is classified read, but PostgreSQL refused it in a read-only transaction: %v", tc.sql, err)
		} else if err != nil {
			failed++
			t.Logf("%q: %v (not a read-only violation)", tc.sql, err)
		}
	}
	t.Logf("%d read statements run, %d failed for other reasons", ran, failed)
	if ran < 100 {
		t.Errorf("only %d read statements run", ran)
	}
}

// knownWrites are statements PostgreSQL refuses in a read-only transaction
// (SQLSTATE 25006) once fixtures exist.
var knownWrites = []string{
	"INSERT INTO t VALUES (100, 'a', 1)",
	"INSERT INTO t SELECT id + 1000, v, n FROM t",
	"UPDATE t SET v = 'x' WHERE id = 1",
	`UPDATE "Orders" SET total = 0 WHERE 'id' = 'id'`,
	"DELETE FROM t WHERE id = 1",
	"DELETE FROM t",
	"DeLeTe FrOm T",
	`DELETE FROM U&"\0074" WHERE id = 1`,
	"MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE",
	"TRUNCATE t",
	"DROP TABLE u",
	"CREATE TABLE zz (x int)",
	"CREATE TEMP TABLE zz (x int)",
	"ALTER TABLE t ADD COLUMN zz int",
	"ALTER TABLE t DROP COLUMN n",
	"CREATE INDEX ON t (v)",
	"CREATE SEQUENCE zz",
	"CREATE VIEW zzv AS SELECT 1",
	"COMMENT ON TABLE t IS 'x'",
	"GRANT SELECT ON t TO PUBLIC",
	"SELECT nextval('s')",
	"SELECT setval('s', 5)",
	"SELECT ('s'::text).nextval",
	"SELECT * FROM t FOR UPDATE",
	"SELECT * FROM t FOR KEY SHARE",
	"DECLARE c2 CURSOR FOR SELECT * FROM t FOR UPDATE",
	"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
	"WITH x AS (UPDATE t SET n = n + 1 WHERE id = 1 RETURNING *) SELECT 1",
	"SELECT * INTO zz FROM t",
	"CREATE TABLE zz AS SELECT 1",
	"EXPLAIN ANALYZE DELETE FROM t",
	"COPY t FROM STDIN",
	"COPY (DELETE FROM t RETURNING *) TO STDOUT",
	"REFRESH MATERIALIZED VIEW mv",
	"PREPARE w AS DELETE FROM t WHERE id = 1; EXECUTE w",
	"SELECT 1; DELETE FROM t WHERE id = 2",
	"UPDATE t SET v = $1 WHERE id = $2",
	"DELETE FROM t WHERE $1",
}

// TestKnownWritesRefusedByPostgres checks the other direction: statements
// PostgreSQL refuses as writes are never classified as pure reads.
func TestKnownWritesRefusedByPostgres(t *testing.T) {
	r := newReadOnlyChecker(t)
	for _, sql := range knownWrites {
		if a := Classify(sql); a.ReadOnly() {
			t.Errorf("%q is classified read", sql)
		}
		if err := r.run(t, sql); !isReadOnlyViolation(err) {
			t.Errorf("%q: PostgreSQL did not refuse it as a write in a read-only transaction (err %v)", sql, err)
		}
	}
}

// assertReadAccepted fails when text is classified exactly read and
// PostgreSQL refuses it as a write; used by the fuzz target's seed run.
func (r *readOnlyChecker) assertReadAccepted(t *testing.T, a *Analysis) {
	if !a.ReadOnly() || a.Err != nil || strings.IndexByte(a.Text, 0) >= 0 {
		return
	}
	if err := r.run(t, a.Text); isReadOnlyViolation(err) {
		t.Fatal(fmt.Errorf("%q is classified read, but PostgreSQL refused it as a write: %w", a.Text, err))
	}
}
