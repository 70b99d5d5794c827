package pgwire_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/config"
	pgup "github.com/sluicehq/sluice/internal/upstream/postgres"
)

// tap is a TCP relay in front of PostgreSQL that keeps every byte sluice
// sends upstream.
type tap struct {
	ln   net.Listener
	sent *syncBuffer
}

func newTap(t *testing.T, upstream string) *tap {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{ln: ln, sent: &syncBuffer{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(io.MultiWriter(u, tp.sent), c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	return tp
}

// TestDeniedStatementNeverReachesUpstream checks, on the wire to
// PostgreSQL, that a statement a rule denies is never sent, neither as a
// simple query nor as a Parse, and that the session goes on.
func TestDeniedStatementNeverReachesUpstream(t *testing.T) {
	var tp *tap
	e := newEnv(t, withTargets(func(e *env) pgup.Targets {
		tp = newTap(t, e.pg.Addr())
		tg := e.target(e.db, e.role)
		tg.Host, tg.Port = "127.0.0.1", uint16(tp.ln.Addr().(*net.TCPAddr).Port)
		return pgup.Targets{"app": tg}
	}), withPolicies(config.Policy{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app"},
		Rules: []config.Rule{
			{When: "privileged || unknown", Action: "deny", Message: "no server files"},
			{When: "true", Action: "allow"},
		}}))
	ctx := context.Background()
	c := e.connect(ctx)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement,
		pgx.QueryExecModeExec, pgx.QueryExecModeDescribeExec} {
		_, err := c.Exec(ctx, "select pg_read_file('/etc/hostname') as secret_marker", mode)
		if pgCode(err) != "42501" || !strings.Contains(err.Error(), "no server files") {
			t.Fatalf("%v: %v", mode, err)
		}
		var n int
		if err := c.QueryRow(ctx, "select 41 + 1", mode).Scan(&n); err != nil || n != 42 {
			t.Fatalf("%v: session after a denial: %d %v", mode, n, err)
		}
	}
	if strings.Contains(tp.sent.String(), "secret_marker") {
		t.Fatal("a denied statement reached the upstream")
	}
	if !strings.Contains(tp.sent.String(), "select 41 + 1") {
		t.Fatal("the tap saw nothing: the test would pass for the wrong reason")
	}
}

// TestReadOnlyPolicyOpensReadOnlyUpstream checks the second line of
// defence: a policy that only ever allows reads gets an upstream session
// in which PostgreSQL itself refuses writes.
func TestReadOnlyPolicyOpensReadOnlyUpstream(t *testing.T) {
	e := newEnv(t, withPolicies(config.Policy{Name: "readers", Subjects: []string{"group:agents"}, Connections: []string{"app"},
		Rules: []config.Rule{{When: "read", Action: "allow"}, {When: "true", Action: "deny"}}}))
	ctx := context.Background()
	c := e.connect(ctx)
	var ro string
	if err := c.QueryRow(ctx, "show default_transaction_read_only").Scan(&ro); err != nil || ro != "on" {
		t.Fatalf("default_transaction_read_only = %q, %v", ro, err)
	}
	// A write the rules deny never gets there; and the read-only session
	// would refuse one the classifier missed.
	if _, err := c.Exec(ctx, "create table t(id int)"); pgCode(err) != "42501" {
		t.Fatalf("create table: %v", err)
	}
}
