package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPsql drives the binary with psql: \copy both ways, a multi-statement
// string, and scripts that hit an error with and without ON_ERROR_STOP.
func TestPsql(t *testing.T) {
	t.Parallel()
	pg, db := newDatabase(t)
	cfg := appConfig(t, pg, db, pg.SCRAMUser())
	g := startGateway(t, cfg)
	tok := cfg.issue("psql-bot", "agents")
	client := newClient(t, g.pgAddr, "app", tok)

	t.Run("copy round trip", func(t *testing.T) {
		c := client.with(t)
		c.mustPsql("", "-c", "create table items(id int primary key, name text, note text)")
		in := copyFixture()
		if err := os.WriteFile(filepath.Join(c.dir, "in.csv"), in, 0o600); err != nil {
			t.Fatal(err)
		}
		out := c.mustPsql("", "-c", `\copy items from 'in.csv' with (format csv)`)
		if want := fmt.Sprintf("COPY %d\n", copyRows); out != want {
			t.Fatalf("\\copy in printed %q, want %q", out, want)
		}
		c.mustPsql("", "-c", `\copy (select * from items order by id) to 'out.csv' with (format csv)`)
		got, err := os.ReadFile(filepath.Join(c.dir, "out.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, in) {
			t.Fatalf("\\copy out differs from what \\copy in loaded: %d bytes in, %d out; first difference at byte %d",
				len(in), len(got), firstDiff(in, got))
		}
		// The server holds the same data, including NULL versus empty.
		sums := c.mustPsql("", "-c", "select count(*), count(note), sum(length(name)) from items")
		if want := fmt.Sprintf("%d|%d|%d\n", copyRows, copyRows-1, copyNameChars); sums != want {
			t.Fatalf("table summary = %q, want %q", sums, want)
		}
	})

	t.Run("multi-statement string", func(t *testing.T) {
		c := client.with(t)
		out := c.mustPsql("", "-c", "create table m(x int); insert into m values (1), (2), (39); select sum(x) from m; select 'second', count(*) from m")
		// One simple Query; psql 15 shows every result it returns.
		if want := "CREATE TABLE\nINSERT 0 3\n42\nsecond|3\n"; out != want {
			t.Fatalf("multi-statement -c printed %q, want %q", out, want)
		}
		// Without -c, psql sends each statement of stdin on its own.
		out = c.mustPsql("select sum(x) from m; select max(x) from m;\n")
		if out != "42\n39\n" {
			t.Fatalf("script printed %q", out)
		}
	})

	script := `select 'before';
select * from no_such_table;
select 'after';
begin;
insert into m values (100);
select 1/0;
select 'in failed tx';
rollback;
select count(*) from m where x = 100;
`
	t.Run("error mid-script continues", func(t *testing.T) {
		c := client.with(t)
		r := c.psql(script, "-v", "ON_ERROR_STOP=0")
		if r.code != 0 {
			t.Fatalf("psql with ON_ERROR_STOP=0: exit %d, want 0\nstderr: %s", r.code, r.stderr)
		}
		if r.stdout != "before\nafter\nBEGIN\nINSERT 0 1\nROLLBACK\n0\n" {
			t.Fatalf("stdout = %q, want the statements around the errors to run", r.stdout)
		}
		for _, want := range []string{
			`relation "no_such_table" does not exist`,
			"division by zero",
			"current transaction is aborted, commands ignored until end of transaction block",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		}
	})

	t.Run("error stops with ON_ERROR_STOP=1", func(t *testing.T) {
		c := client.with(t)
		r := c.psql(script, "-v", "ON_ERROR_STOP=1")
		if r.code != 3 || r.stdout != "before\n" || !strings.Contains(r.stderr, "no_such_table") {
			t.Fatalf("psql with ON_ERROR_STOP=1: exit %d (want 3), stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	// The session records: psql's statements ended ok or error as they did.
	g.waitIdle()
	g.stopClean()
	st := stateStore(t, cfg.dataDir)
	ss, stmts := sessionsOf(t, st, "psql-bot")
	if len(ss) != 8 { // one per psql run
		t.Fatalf("%d sessions recorded for psql-bot, want 8", len(ss))
	}
	var sawDivZero, sawMissing bool
	for _, s := range ss {
		if s.EndReason != "client_closed" {
			t.Errorf("session %s ended with %q, want client_closed", s.ID, s.EndReason)
		}
		for _, r := range stmts[s.ID] {
			if strings.Contains(r.Text, "1/0") {
				sawDivZero = sawDivZero || r.Status == "error" && strings.HasPrefix(r.Error, "22012")
			}
			if strings.Contains(r.Text, "no_such_table") && r.Status == "error" && strings.HasPrefix(r.Error, "42P01") {
				sawMissing = true
			}
		}
	}
	if !sawDivZero || !sawMissing {
		t.Errorf("state store lacks the failed statements as errors (division by zero: %v, missing table: %v)", sawDivZero, sawMissing)
		for _, s := range ss {
			t.Logf("session %s (%s): %s", s.ID, s.EndReason, describe(stmts[s.ID]))
		}
	}
}

// copyRows is the number of rows of copyFixture; copyNameChars the total
// length of their names in characters.
const (
	copyRows      = 2004
	copyNameChars = 5 + 10 + 14 + 18 + 1999*7 + 300_000
)

// copyFixture is a CSV file in exactly the form PostgreSQL writes it, so
// that \copy out must reproduce it byte for byte: quoting only where needed,
// "" for an empty string, nothing for NULL, a multi-line value, non-ASCII
// text, many small rows and one row larger than sluice's 256 KiB
// streaming threshold.
func copyFixture() []byte {
	var b bytes.Buffer
	b.WriteString("1,plain,\n")                             // NULL note
	b.WriteString("2,\"with,comma\",\"\"\n")                // empty note
	b.WriteString("3,\"quote \"\"inside\"\"\",\"x\"\"\"\n") // quotes
	b.WriteString("4,\"two\nlines, ünïcödé\",✓ ok\n")       // newline, UTF-8
	for i := 5; i < 2005; i++ {
		if i == 1000 {
			fmt.Fprintf(&b, "%d,%s,big\n", i, strings.Repeat("x", 300_000))
			continue
		}
		fmt.Fprintf(&b, "%d,row%04d,n%d\n", i, i, i*7)
	}
	return b.Bytes()
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
