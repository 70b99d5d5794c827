package pgwire_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/testkit"
	pgup "github.com/sluicehq/sluice/internal/upstream/postgres"
)

// TestUpstreamAuthAndTLS checks each upstream authentication method and TLS
// mode sluice dials with, each behind its own connection name.
func TestUpstreamAuthAndTLS(t *testing.T) {
	var pg *testkit.Postgres
	e := newEnv(t, withTargets(func(e *env) pgup.Targets {
		pg = e.pg
		scram, md5, plain := e.target(e.db, pg.SCRAMUser()), e.target(e.db, pg.MD5User()), e.target(e.db, pg.PlainUser())
		require, full, wrongName := scram, scram, scram
		require.SSLMode = "require"
		full.SSLMode, full.SSLRootCert = "verify-full", pg.CAFile()
		wrongName.SSLMode, wrongName.SSLRootCert, wrongName.Host = "verify-full", pg.CAFile(), "localhost.invalid"
		return pgup.Targets{"app": scram, "md5": md5, "plain": plain, "tls-require": require, "tls-full": full, "tls-wrong-name": wrongName}
	}), withPolicies(config.Policy{Name: "all", Subjects: []string{"group:agents"}, Connections: []string{"*"}}))
	ctx := context.Background()
	tok := e.token("bot", "agents")
	expect := map[string]struct{ user, ssl string }{
		"app":         {pg.SCRAMUser().Name, "f"},
		"md5":         {pg.MD5User().Name, "f"},
		"plain":       {pg.PlainUser().Name, "f"},
		"tls-require": {pg.SCRAMUser().Name, "t"},
		"tls-full":    {pg.SCRAMUser().Name, "t"},
	}
	for conn, want := range expect {
		t.Run(conn, func(t *testing.T) {
			c, err := pgx.Connect(ctx, e.dsn(conn, tok, "require"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			var user, ssl string
			err = c.QueryRow(ctx, "select current_user, coalesce((select ssl::text from pg_stat_ssl where pid = pg_backend_pid()), 'f')").Scan(&user, &ssl)
			if err != nil {
				t.Fatal(err)
			}
			if user != want.user || ssl[:1] != want.ssl {
				t.Fatalf("upstream user %s ssl %s, want %s %s", user, ssl, want.user, want.ssl)
			}
		})
	}
	t.Run("verify-full with a wrong host name", func(t *testing.T) {
		_, err := pgx.Connect(ctx, e.dsn("tls-wrong-name", tok, "require"))
		if pgCode(err) != "08006" || !strings.Contains(err.Error(), `behind connection "tls-wrong-name"`) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestNoticesParameterStatusAndUnnamedStatements covers the messages that
// arrive outside a result and the unnamed statement and portal.
func TestNoticesParameterStatusAndUnnamedStatements(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var notices []string
	cfg, err := pgx.ParseConfig(e.dsn("app", e.token("bot", "agents"), "require"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Severity+": "+n.Message) }
	cfg.RuntimeParams["application_name"] = "agent-app"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if got := c.PgConn().ParameterStatus("application_name"); got != "agent-app" {
		t.Fatalf("application_name = %q: startup parameters were not forwarded", got)
	}
	if _, err := c.Exec(ctx, "do $$ begin raise notice 'hello %', 42; end $$"); err != nil {
		t.Fatal(err)
	}
	if len(notices) != 1 || notices[0] != "NOTICE: hello 42" {
		t.Fatalf("notices = %q", notices)
	}
	if _, err := c.Exec(ctx, "set application_name = 'renamed'"); err != nil {
		t.Fatal(err)
	}
	if got := c.PgConn().ParameterStatus("application_name"); got != "renamed" {
		t.Fatalf("ParameterStatus after SET = %q", got)
	}
	// The unnamed statement and portal (QueryExecModeExec) with text and
	// binary parameters.
	var s string
	var n int64
	err = c.QueryRow(ctx, "select $1::text || '!', $2::int8 * 2", pgx.QueryExecModeExec, "hi", int64(21)).Scan(&s, &n)
	if err != nil || s != "hi!" || n != 42 {
		t.Fatalf("unnamed: %q %d %v", s, n, err)
	}
	// DescribeExec and cached describe modes too.
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeDescribeExec, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeSimpleProtocol} {
		if err := c.QueryRow(ctx, "select $1::int8 + 1", mode, int64(1)).Scan(&n); err != nil || n != 2 {
			t.Fatalf("mode %v: %d %v", mode, n, err)
		}
	}
}
