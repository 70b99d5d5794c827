package pgwire_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/testkit/faultproxy"
	pgup "github.com/sluicehq/sluice/internal/upstream/postgres"
)

// maskEnv is a connection "app" whose agents get pii and secrets masked,
// with two column rules, and whose group dba is exempt.
func maskEnv(t *testing.T) *env {
	e := newEnv(t, withMasking(config.Masking{
		Key: config.NewSecret("a-test-key-of-32-bytes-for-hmac!"),
		Rules: []config.MaskRule{
			{Columns: []string{"*.ssn"}, Strategy: "partial"},
			{Columns: []string{"public.people.phone"}, Strategy: "hash"},
		},
	}), withPolicies(
		config.Policy{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app"},
			Mask: []string{"pii", "secrets"}, Unmasked: []string{"group:dba"}},
	))
	e.superExec(`create table people(id int primary key, email text unique, ssn text, phone text, note text,
		tags text[], doc jsonb, uid uuid);
		insert into people values (1, 'ada@example.com', '123-45-6789', '+1 415 555 2671',
		'card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE', '{ada@example.com,plain}',
		'{"mail": "ada@example.com", "n": 1}', 'f47ac10b-58cc-4372-a567-0e02b2c3d479');
		grant all on people to public`)
	return e
}

func TestMaskingBothFormats(t *testing.T) {
	e := maskEnv(t)
	ctx := context.Background()
	c := e.connect(ctx)
	q := "select email, ssn, phone, note, tags, doc from people where id = 1"
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		var email, ssn, phone, note string
		var tags []string
		var doc map[string]any
		if err := c.QueryRow(ctx, q, mode).Scan(&email, &ssn, &phone, &note, &tags, &doc); err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		if email != "[redacted:email]" || ssn != "***-**-6789" || !strings.HasPrefix(phone, "h:") ||
			note != "card [redacted:payment_card], key [redacted:aws_access_key_id]" ||
			len(tags) != 2 || tags[0] != "[redacted:email]" || tags[1] != "plain" || doc["mail"] != "[redacted:email]" || doc["n"] != 1.0 {
			t.Fatalf("%v: %q %q %q %q %q %v", mode, email, ssn, phone, note, tags, doc)
		}
	}
	// Binary formats of other types stay valid (uuid untouched: no rule).
	var uid pgtype.UUID
	if err := c.QueryRow(ctx, "select uid from people").Scan(&uid); err != nil || !uid.Valid {
		t.Fatalf("uuid: %v %v", uid, err)
	}
	// The hash is deterministic: the same value masks the same way.
	var h1, h2 string
	c.QueryRow(ctx, "select phone from people").Scan(&h1)
	c.QueryRow(ctx, "select phone from people", pgx.QueryExecModeSimpleProtocol).Scan(&h2)
	if h1 != h2 {
		t.Fatalf("hash differs between queries: %q %q", h1, h2)
	}

	// The journal's copy holds what the agent saw, and the counts.
	r := e.waitResult(q)
	if r.Capture == nil || *r.Capture.Rows[0][0] != "[redacted:email]" || r.Masked["email"] == 0 || r.Masked["column_rule"] == 0 {
		t.Fatalf("journal result: %+v masked %v", r.Capture, r.Masked)
	}
}

func TestMaskingErrorsCopyAndJournal(t *testing.T) {
	e := maskEnv(t)
	ctx := context.Background()
	c := e.connect(ctx)
	// A unique violation's DETAIL echoes the value.
	_, err := c.Exec(ctx, "insert into people(id, email) values (2, 'ada@example.com')")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" || strings.Contains(pe.Detail, "ada@") || !strings.Contains(pe.Detail, "[redacted:email]") {
		t.Fatalf("unique violation: %+v", pe)
	}
	// With column rules, COPY (which names no columns) is refused, in
	// text and in binary.
	var buf bytes.Buffer
	for _, q := range []string{"copy (select email, note from people) to stdout", "copy people to stdout (format binary)"} {
		_, err = c.PgConn().CopyTo(ctx, &buf, q)
		if pgCode(err) != "0A000" || buf.Len() != 0 {
			t.Fatalf("%s: %v, %d bytes", q, err, buf.Len())
		}
	}
	var n int
	if err := c.QueryRow(ctx, "select count(*) from people").Scan(&n); err != nil || n != 1 {
		t.Fatalf("session after a refused copy: %d %v", n, err)
	}
	// A statement's secrets are masked in the journal's copy only.
	q := "select 'password=hunter2-very-secret' as conn, email from people"
	var conn, email string
	if err := c.QueryRow(ctx, q, pgx.QueryExecModeSimpleProtocol).Scan(&conn, &email); err != nil {
		t.Fatal(err)
	}
	res := e.waitResult("select 'password=[redacted:conn_string_password]' as conn, email from people")
	if res.Capture == nil || len(res.Capture.Rows) != 1 || *res.Capture.Rows[0][1] != "[redacted:email]" ||
		res.Masked["email"] != 1 || res.Unmasked {
		t.Fatalf("journal result %+v (masked %v)", res.Capture, res.Masked)
	}
	if e.rec.result(q) != nil {
		t.Fatal("the journal holds the statement with its secret in clear")
	}
}

func TestMaskingExemptGroup(t *testing.T) {
	e := maskEnv(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, e.dsn("app", e.token("alice", "agents", "dba"), "require"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	q := "select email, ssn from people"
	var email, ssn string
	if err := c.QueryRow(ctx, q).Scan(&email, &ssn); err != nil {
		t.Fatal(err)
	}
	if email != "ada@example.com" || ssn != "123-45-6789" {
		t.Fatalf("exempt subject saw %q %q", email, ssn)
	}
	res := e.waitResult(q)
	if !res.Unmasked || res.Capture == nil || *res.Capture.Rows[0][0] != "[redacted:email]" {
		t.Fatalf("journal copy of an exempt result: unmasked=%v capture=%v", res.Unmasked, res.Capture)
	}
}

// TestMaskingCopyWithDetectors checks that COPY TO STDOUT in text is masked
// row by row when only detectors apply.
func TestMaskingCopyWithDetectors(t *testing.T) {
	e := newEnv(t, withPolicies(config.Policy{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app"},
		Mask: []string{"pii", "secrets"}}))
	e.superExec(`create table people(id int, email text, note text);
		insert into people values (1, 'ada@example.com', 'key AKIAIOSFODNN7EXAMPLE'), (2, 'x', 'plain');
		grant all on people to public`)
	ctx := context.Background()
	c := e.connect(ctx)
	var buf bytes.Buffer
	if _, err := c.PgConn().CopyTo(ctx, &buf, "copy people to stdout"); err != nil {
		t.Fatal(err)
	}
	want := "1\t[redacted:email]\tkey [redacted:aws_access_key_id]\n2\tx\tplain\n"
	if buf.String() != want {
		t.Fatalf("copy text = %q, want %q", buf.String(), want)
	}
	_, err := c.PgConn().CopyTo(ctx, &buf, "copy people to stdout (format binary)")
	if pgCode(err) != "0A000" {
		t.Fatalf("binary copy: %v", err)
	}
}

// TestMaskingCatalogStalled checks that a table-qualified column rule still
// masks when sluice cannot name the column's table: the catalog's network
// is stalled, the lookup gives up after its timeout, and the column is
// masked as if every table rule applied (fail closed), not passed through.
func TestMaskingCatalogStalled(t *testing.T) {
	var proxy *faultproxy.Proxy
	e := newEnv(t, withMasking(config.Masking{
		Rules: []config.MaskRule{{Columns: []string{"public.accounts.code"}, Strategy: "redact"}},
	}), withPolicies(
		config.Policy{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app"}},
	), withCatalog(func(e *env) (pgup.Targets, time.Duration) {
		proxy = faultproxy.Start(t, e.pg.Addr())
		proxy.Stall()
		tg := e.target(e.db, e.role)
		host, port, _ := net.SplitHostPort(proxy.Addr())
		p, _ := strconv.Atoi(port)
		tg.Host, tg.Port = host, uint16(p)
		return pgup.Targets{"app": tg}, 300 * time.Millisecond
	}))
	e.superExec(`create table accounts(id int, code text); insert into accounts values (1, 'XYZ-1234');
		grant all on accounts to public`)
	ctx := context.Background()
	c := e.connect(ctx)
	start := time.Now()
	var code string
	if err := c.QueryRow(ctx, "select code from accounts", pgx.QueryExecModeSimpleProtocol).Scan(&code); err != nil {
		t.Fatal(err)
	}
	if code == "XYZ-1234" || !strings.HasPrefix(code, "[redacted") {
		t.Fatalf("code = %q, want it masked by the table rule although the table could not be named", code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the query took %s: the catalog lookup did not give up", d)
	}
	if !strings.Contains(e.logs.String(), "masking as if every table rule applied") {
		t.Errorf("the gateway log does not say the table could not be named:\n%s", e.logs.String())
	}
	// Once the network heals, lookups work again and the rule still applies.
	proxy.Resume()
	if err := c.QueryRow(ctx, "select code from accounts", pgx.QueryExecModeSimpleProtocol).Scan(&code); err != nil || code == "XYZ-1234" {
		t.Fatalf("after the network healed: %q, %v", code, err)
	}
}
