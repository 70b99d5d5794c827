package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/testkit"
)

// TestUpstreamRestart kills the PostgreSQL server behind a running gateway:
// open sessions end with a clear error, new sessions are refused with 08006
// while it is down, and work again once it is back, without restarting
// sluice.
func TestUpstreamRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pg := testkit.StartPostgres(t)
	db := testkit.UniqueName(t)
	if err := pg.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	cfg := newConfig(t,
		[]connSpec{{Name: "app", Address: pg.Addr(), Database: db, User: pg.SCRAMUser().Name, Password: pg.SCRAMUser().Password, ConnectTimeout: "5s"}},
		[]policySpec{{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app"}}})
	g := startGateway(t, cfg)
	tok := cfg.issue("restart-bot", "agents")

	idle := connectBounded(t, g.pgAddr, tok)
	busy := connectBounded(t, g.pgAddr, tok)
	if _, err := idle.Exec(ctx, "create table t(x int); insert into t values (1)"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "checkpoint"); err != nil { // make the table survive the crash
		t.Fatal(err)
	}
	busyCtx, busyCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer busyCancel()
	busyErr := make(chan error, 1)
	go func() {
		_, err := busy.Exec(busyCtx, "select pg_sleep(60)")
		busyErr <- err
	}()
	waitUntil(t, 10*time.Second, "pg_sleep(60) to run upstream", func() bool {
		var n int
		err := idle.QueryRow(ctx, "select count(*) from pg_stat_activity where query = 'select pg_sleep(60)' and state = 'active'").Scan(&n)
		return err == nil && n == 1
	})

	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	lost := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error after the upstream was killed", what)
		}
		pe := pgError(t, err)
		if pe.Code != "08006" || pe.Severity != "FATAL" || !strings.Contains(pe.Message, "connection to the database was lost") {
			t.Fatalf("%s: got %s %s %q, want FATAL 08006 saying the connection to the database was lost", what, pe.Severity, pe.Code, pe.Message)
		}
		for _, s := range []string{pg.Addr(), strconv.Itoa(pg.Port()), pg.SCRAMUser().Password} {
			if strings.Contains(pe.Message, s) {
				t.Errorf("%s: the error shows %q", what, s)
			}
		}
	}
	// The query in flight fails at once, not when pg_sleep would end.
	select {
	case err := <-busyErr:
		lost("query in flight", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the query in flight got no answer 10s after the upstream died")
	}
	// The idle session learns it on its next read.
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := idle.PgConn().ReceiveMessage(rctx)
	lost("idle session", err)
	if _, err := idle.Exec(ctx, "select 1"); err == nil {
		t.Fatal("the idle session still runs queries after its upstream died")
	}

	// While the upstream is down: refused with 08006 naming the connection.
	_, err = tryConnect(t, g.pgAddr, "app", tok)
	if err == nil {
		t.Fatal("a session opened while the upstream is down")
	}
	if pe := pgError(t, err); pe.Code != "08006" || !strings.Contains(pe.Message, `connection "app"`) {
		t.Fatalf("connect while down: %s %q, want 08006 naming connection \"app\"", pe.Code, pe.Message)
	}

	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	c := connect(t, g.pgAddr, "app", tok)
	var x int
	if err := c.QueryRow(ctx, "select x from t").Scan(&x); err != nil || x != 1 {
		t.Fatalf("after the restart: select x = %d, %v", x, err)
	}
	c.Close(ctx)

	g.waitIdle()
	g.stopClean()
	ss, stmts := sessionsOf(t, stateStore(t, cfg.dataDir), "restart-bot")
	reasons := map[string]int{}
	sleeps := 0
	for _, s := range ss {
		reasons[s.EndReason]++
		for _, r := range stmts[s.ID] {
			if r.Text == "select pg_sleep(60)" {
				sleeps++
				if r.Status != "aborted" {
					t.Errorf("the pg_sleep cut by the crash is recorded with status %q, want aborted", r.Status)
				}
			}
		}
	}
	if sleeps != 1 {
		t.Errorf("the pg_sleep cut by the crash is recorded %d times, want once", sleeps)
	}
	// Two sessions cut by the crash, one refused at the upstream dial, and
	// the one after the restart.
	if reasons["upstream_closed"] != 2 || reasons["upstream_unavailable"] != 1 || reasons["client_closed"] != 1 {
		t.Fatalf("session end reasons = %v, want 2 upstream_closed, 1 upstream_unavailable, 1 client_closed", reasons)
	}
}
