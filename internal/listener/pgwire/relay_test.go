package pgwire_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluicehq/sluice"
)

// TestPsqlSimpleProtocolAndCopy drives sluice with psql: simple queries,
// a multi-statement string, and \copy in both directions.
func TestPsqlSimpleProtocolAndCopy(t *testing.T) {
	e := newEnv(t)
	tok := e.token("psql-user", "agents")
	out, err := e.psql(tok, "", "-c", "create table items(id int primary key, name text)",
		"-c", "insert into items values (1, 'one'), (2, 'two'); insert into items values (3, 'three')",
		"-c", "select current_user, count(*) from items")
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(out); got != e.role.Name+"|3" {
		t.Fatalf("psql output %q, want the upstream role and 3 rows", got)
	}

	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	var csv strings.Builder
	for i := 10; i < 1010; i++ {
		fmt.Fprintf(&csv, "%d,name %d\n", i, i)
	}
	if err := os.WriteFile(in, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(dir, "out.csv")
	out, err = e.psql(tok, "", "-c", `\copy items from '`+in+`' with (format csv)`,
		"-c", `\copy (select id, name from items where id >= 10 order by id) to '`+outFile+`' with (format csv)`,
		"-c", "select count(*) from items")
	if err != nil {
		t.Fatalf("psql copy: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(out); got != "1003" {
		t.Fatalf("count after \\copy from = %q, want 1003", got)
	}
	back, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(back) != csv.String() {
		t.Fatalf("\\copy to returned %d bytes, want the %d bytes copied in", len(back), csv.Len())
	}

	// Errors come back as PostgreSQL errors and the session goes on.
	out, err = e.psql(tok, "select 1/0;\nselect 'still here';\n", "-v", "ON_ERROR_STOP=0")
	if !strings.Contains(out, "division by zero") || !strings.Contains(out, "still here") {
		t.Fatalf("error then query: %v\n%s", err, out)
	}
}

// TestPgxExtendedProtocol drives sluice with pgx: prepared statements,
// binary results, parameters, COPY, large values and pipelined batches.
func TestPgxExtendedProtocol(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.connect(ctx)

	if _, err := c.Exec(ctx, "create table t(id int8 primary key, payload bytea, note text, at timestamptz)"); err != nil {
		t.Fatal(err)
	}
	// Named prepared statement, reused.
	if _, err := c.Prepare(ctx, "ins", "insert into t(id, payload, note, at) values ($1, $2, $3, $4)"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC)
	for i := int64(1); i <= 3; i++ {
		if _, err := c.Exec(ctx, "ins", i, []byte{0, byte(i), 0xff}, fmt.Sprintf("note %d", i), at); err != nil {
			t.Fatal(err)
		}
	}
	// Binary results of several types.
	var (
		id      int64
		payload []byte
		note    string
		got     time.Time
	)
	err := c.QueryRow(ctx, "select id, payload, note, at from t where id = $1", int64(2)).Scan(&id, &payload, &note, &got)
	if err != nil {
		t.Fatal(err)
	}
	if id != 2 || !bytes.Equal(payload, []byte{0, 2, 0xff}) || note != "note 2" || !got.Equal(at) {
		t.Fatalf("row = %d %x %q %v", id, payload, note, got)
	}

	// COPY FROM STDIN (binary, via CopyFrom) and COPY TO STDOUT.
	rows := make([][]any, 500)
	for i := range rows {
		rows[i] = []any{int64(100 + i), []byte("p"), fmt.Sprintf("copied %d", i), at}
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"id", "payload", "note", "at"}, pgx.CopyFromRows(rows))
	if err != nil || n != 500 {
		t.Fatalf("CopyFrom = %d, %v", n, err)
	}
	var buf bytes.Buffer
	tag, err := c.PgConn().CopyTo(ctx, &buf, "copy (select id from t order by id) to stdout")
	if err != nil || tag.RowsAffected() != 503 || strings.Count(buf.String(), "\n") != 503 {
		t.Fatalf("CopyTo = %v, %v, %d lines", tag, err, strings.Count(buf.String(), "\n"))
	}

	// A 5 MB value in a parameter (a large client message) and back (a
	// large DataRow, streamed through).
	big := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16)
	if _, err := c.Exec(ctx, "insert into t(id, payload) values (9999, $1)", big); err != nil {
		t.Fatal(err)
	}
	var back []byte
	if err := c.QueryRow(ctx, "select payload from t where id = 9999").Scan(&back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, big) {
		t.Fatalf("large value came back as %d bytes, want %d", len(back), len(big))
	}
	var textBack string
	if err := c.QueryRow(ctx, "select encode(payload, 'escape') from t where id = 9999", pgx.QueryResultFormats{pgx.TextFormatCode}).Scan(&textBack); err != nil {
		t.Fatal(err)
	}
	if textBack != string(big) {
		t.Fatal("large text value differs")
	}

	// A pipelined batch with an error in the middle: later statements in
	// the same batch are skipped, as PostgreSQL does.
	b := &pgx.Batch{}
	b.Queue("select 1")
	b.Queue("select 1/0")
	b.Queue("select 3")
	br := c.SendBatch(ctx, b)
	var one int
	if err := br.QueryRow().Scan(&one); err != nil || one != 1 {
		t.Fatalf("batch first = %d, %v", one, err)
	}
	if _, err := br.Exec(); pgCode(err) != "22012" {
		t.Fatalf("batch second error = %v, want division_by_zero", err)
	}
	br.Close()
	if err := c.QueryRow(ctx, "select 42").Scan(&one); err != nil || one != 42 {
		t.Fatalf("after batch: %d, %v", one, err)
	}
}

// TestListenNotify checks asynchronous notifications relay while idle.
func TestListenNotify(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	listener, talker := e.connect(ctx), e.connect(ctx)
	if _, err := listener.Exec(ctx, "listen jobs"); err != nil {
		t.Fatal(err)
	}
	if _, err := talker.Exec(ctx, "select pg_notify('jobs', 'hello from the other side')"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := listener.WaitForNotification(wctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.Channel != "jobs" || n.Payload != "hello from the other side" {
		t.Fatalf("notification %+v", n)
	}
}

// TestCancel checks that a client's cancel request, which carries the key
// sluice issued, reaches the upstream query.
func TestCancel(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.connect(ctx)
	if pid := c.PgConn().PID(); pid == 0 {
		t.Fatal("no backend key data")
	}
	// The pid the client sees is sluice's, not the upstream's.
	var upstreamPID uint32
	if err := c.QueryRow(ctx, "select pg_backend_pid()").Scan(&upstreamPID); err != nil {
		t.Fatal(err)
	}
	if upstreamPID == c.PgConn().PID() {
		t.Fatal("the upstream's cancel key leaked to the client")
	}

	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := c.Exec(ctx, "select pg_sleep(30)")
		done <- err
	}()
	// Wait until the query is running upstream, then cancel it.
	waitFor(t, 10*time.Second, "pg_sleep running", func() bool {
		var n int
		sc, err := pgx.Connect(ctx, e.pg.SuperuserDSN(e.db))
		if err != nil {
			return false
		}
		defer sc.Close(ctx)
		sc.QueryRow(ctx, "select count(*) from pg_stat_activity where query = 'select pg_sleep(30)' and state = 'active'").Scan(&n)
		return n == 1
	})
	if err := c.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if pgCode(err) != "57014" {
		t.Fatalf("canceled query returned %v, want 57014", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatal("cancel took too long")
	}
	var v int
	if err := c.QueryRow(ctx, "select 7").Scan(&v); err != nil || v != 7 {
		t.Fatalf("session after cancel: %d %v", v, err)
	}
}

// TestContextCancelUsesCancelRequest checks pgx's own cancel-on-context path.
func TestContextCancelUsesCancelRequest(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.connect(ctx)
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err := c.Exec(qctx, "select pg_sleep(20)")
	if err == nil {
		t.Fatal("query survived its context")
	}
	if !pgconn.Timeout(err) && pgCode(err) != "57014" {
		t.Fatalf("err = %v", err)
	}
}

// TestRecords checks that sessions and statements land in the state store.
func TestRecords(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, e.dsn("app", e.token("recorder", "agents"), "require"))
	if err != nil {
		t.Fatal(err)
	}
	c.Exec(ctx, "create table r(id int)")
	c.Exec(ctx, "insert into r select generate_series(1, 7)")
	var n int
	c.QueryRow(ctx, "select count(*) from r where id > $1", 2).Scan(&n)
	c.Exec(ctx, "select * from missing_table")
	c.Close(ctx)

	sess, stmts := e.waitSession("recorder")
	if sess.Connection != "app" || sess.Protocol != sluice.ProtoPostgres || sess.EndReason != sluice.EndClient ||
		!strings.HasPrefix(sess.ClientAddr, "127.0.0.1:") || sess.Identity.Method != sluice.AuthServiceToken ||
		strings.Join(sess.Identity.Groups, ",") != "agents" {
		t.Fatalf("session = %+v", sess)
	}
	byText := map[string]*sluice.StatementRecord{}
	for _, s := range stmts {
		byText[s.Text] = s
	}
	check := func(text string, rows int64, status, errPrefix string) *sluice.StatementRecord {
		t.Helper()
		s := byText[text]
		if s == nil {
			t.Fatalf("statement %q not recorded; have %d statements", text, len(stmts))
		}
		if s.Rows != rows || s.Status != status || !strings.HasPrefix(s.Error, errPrefix) || s.Decision != sluice.ActionAllow {
			t.Fatalf("statement %q = rows %d status %s error %q decision %s", text, s.Rows, s.Status, s.Error, s.Decision)
		}
		return s
	}
	check("insert into r select generate_series(1, 7)", 7, sluice.StatusOK, "")
	sel := check("select count(*) from r where id > $1", 1, sluice.StatusOK, "")
	if len(sel.Params) != 1 || sel.Params[0] == nil || *sel.Params[0] != `\x00000002` {
		t.Fatalf("params = %v", sel.Params)
	}
	check("select * from missing_table", 0, sluice.StatusError, "42P01: ")
	if sel.Duration <= 0 || sel.StartedAt.IsZero() {
		t.Fatalf("timing = %v at %v", sel.Duration, sel.StartedAt)
	}
}

// TestJournalFailureRefuses checks that a request whose audit record cannot
// be written is refused, in both protocols, and never reaches the upstream.
func TestJournalFailureRefuses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.connect(ctx)
	if _, err := c.Exec(ctx, "create table j(id int)"); err != nil {
		t.Fatal(err)
	}
	e.rec.failing.Store(true)
	_, err := c.Exec(ctx, "insert into j values (1)")
	if pgCode(err) != "58030" || !strings.Contains(err.Error(), "audit journal") {
		t.Fatalf("extended insert while journal fails: %v", err)
	}
	_, err = c.Exec(ctx, "insert into j values (2)", pgx.QueryExecModeSimpleProtocol)
	if pgCode(err) != "58030" {
		t.Fatalf("simple insert while journal fails: %v", err)
	}
	e.rec.failing.Store(false)
	var n int
	if err := c.QueryRow(ctx, "select count(*) from j").Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after refused inserts = %d, %v (want 0: nothing was forwarded)", n, err)
	}
}

// TestTLS checks TLS negotiation and that plaintext is refused off loopback
// when not allowed.
func TestTLS(t *testing.T) {
	e := newEnv(t, withoutPlaintextLoopback())
	ctx := context.Background()
	tok := e.token("bot", "agents")
	c, err := pgx.Connect(ctx, e.dsn("app", tok, "require"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatal("sslmode=require did not give a TLS connection")
	}
	c.Close(ctx)
	_, err = pgx.Connect(ctx, e.dsn("app", tok, "disable"))
	if pgCode(err) != "28000" || !strings.Contains(err.Error(), "encrypted connection") {
		t.Fatalf("plaintext connect: %v", err)
	}
	if strings.Contains(e.logs.String(), tok) {
		t.Fatal("token in log")
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not a fixed wait
	}
}
