package e2e

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/testkit"
)

// TestFaultUpstreamRestart kills the PostgreSQL server behind a running
// gateway while one session waits in a query, one receives a large result
// and one is idle: open sessions end with a clear error, the interrupted
// statements are recorded as aborted with the rows the agent received, new
// sessions are refused with 08006 while it is down, and work again once it
// is back, without restarting sluice, which leaks no goroutine.
func TestFaultUpstreamRestart(t *testing.T) {
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
	ctx = faultContext(t, time.Minute)
	tok := cfg.issue("restart-bot", "agents")
	leaks := g.leakCheck(t)

	idle := connectBounded(t, g.pgAddr, tok)
	busy := connectBounded(t, g.pgAddr, tok)
	stream := connectBounded(t, g.pgAddr, tok)
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
	// A result streaming to its client when the server dies (the
	// set-returning function in the select list streams its rows).
	const streamQuery = "select generate_series(1, 50000000) as g, repeat('x', 100) as pad"
	var streamed atomic.Int64
	streamErr := make(chan error, 1)
	go func() {
		rows, err := stream.Query(busyCtx, streamQuery, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			streamErr <- err
			return
		}
		for rows.Next() {
			streamed.Add(1)
		}
		streamErr <- rows.Err()
	}()
	waitUntil(t, 10*time.Second, "the stream to deliver rows", func() bool { return streamed.Load() > 10000 })

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
	select {
	case err := <-streamErr:
		lost("result stream in flight", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the result stream in flight got no answer 10s after the upstream died")
	}
	received := streamed.Load()
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
	leaks()
	g.stopClean()
	ss, stmts := sessionsOf(t, stateStore(t, cfg.dataDir), "restart-bot")
	reasons := map[string]int{}
	sleeps, streams := 0, 0
	for _, s := range ss {
		reasons[s.EndReason]++
		for _, r := range stmts[s.ID] {
			switch r.Text {
			case "select pg_sleep(60)":
				sleeps++
				if r.Status != "aborted" {
					t.Errorf("the pg_sleep cut by the crash is recorded with status %q, want aborted", r.Status)
				}
			case streamQuery:
				streams++
				// sluice counts the rows it relayed; the client received
				// them or some of them were still in flight.
				if r.Status != "aborted" || r.Rows < received {
					t.Errorf("the stream cut by the crash is recorded as %s with %d rows, want aborted with at least the %d rows the client received",
						r.Status, r.Rows, received)
				}
			}
		}
	}
	if sleeps != 1 || streams != 1 {
		t.Errorf("the pg_sleep and the stream cut by the crash are recorded %d and %d times, want once each", sleeps, streams)
	}
	// Three sessions cut by the crash, one refused at the upstream dial,
	// and the one after the restart.
	if reasons["upstream_closed"] != 3 || reasons["upstream_unavailable"] != 1 || reasons["client_closed"] != 1 {
		t.Fatalf("session end reasons = %v, want 3 upstream_closed, 1 upstream_unavailable, 1 client_closed", reasons)
	}
}
