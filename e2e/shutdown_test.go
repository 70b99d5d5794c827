package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/sluicehq/sluice"
)

// shutdownNotice is how long a client may wait, after SIGTERM, to be told
// that its session is over.
const shutdownNotice = 5 * time.Second

// TestGracefulShutdown sends SIGTERM while one session is idle and another
// runs a query: both clients must be told why their session ends (FATAL
// 57P01), the process must exit 0 promptly (well within its 30s grace),
// and the state store must record both sessions as ended by the shutdown.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	pg, db := newDatabase(t)
	cfg := appConfig(t, pg, db, pg.SCRAMUser())
	g := startGateway(t, cfg)
	idle := connectBounded(t, g.pgAddr, cfg.issue("idle-bot", "agents"))
	busy := connectBounded(t, g.pgAddr, cfg.issue("busy-bot", "agents"))
	var one int
	if err := idle.QueryRow(t.Context(), "select 1").Scan(&one); err != nil {
		t.Fatal(err)
	}

	busyCtx, busyCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer busyCancel()
	busyErr := make(chan error, 1)
	go func() {
		_, err := busy.Exec(busyCtx, "select pg_sleep(30)")
		busyErr <- err
	}()
	super, err := pg.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(context.Background())
	waitUntil(t, 10*time.Second, "pg_sleep(30) to run upstream", func() bool {
		var n int
		err := super.QueryRow(t.Context(), "select count(*) from pg_stat_activity where query = 'select pg_sleep(30)' and state = 'active'").Scan(&n)
		return err == nil && n == 1
	})
	if n, err := g.activeSessions(); err != nil || n != 2 {
		t.Fatalf("sluice_postgres_sessions = %d (%v), want 2", n, err)
	}

	sent := time.Now()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// The idle client: its next read is the gateway's goodbye.
	ctx, cancel := context.WithTimeout(context.Background(), shutdownNotice)
	defer cancel()
	msg, err := idle.PgConn().ReceiveMessage(ctx)
	checkShutdownError(t, "idle session", msg, err, time.Since(sent))

	// The busy client: its query ends with the goodbye.
	select {
	case err := <-busyErr:
		checkShutdownError(t, "session running pg_sleep(30)", nil, err, time.Since(sent))
	case <-time.After(shutdownNotice):
		t.Errorf("SLUICE BUG: the query in flight at SIGTERM got no answer within %s: sluice closed the "+
			"upstream connection but neither told the client (57P01) nor closed the client connection", shutdownNotice)
		busyCancel() // pgx then gives up on the socket and closes it
		<-busyErr
	}

	select {
	case <-g.exited:
	case <-time.After(shutdownNotice):
		t.Errorf("SLUICE BUG: sluice serve still runs %s after SIGTERM: it waits for its clients to "+
			"leave (up to its 30s grace) instead of ending their sessions; closing the clients now", shutdownNotice)
		idle.Close(context.Background())
		busyCancel()
		select {
		case <-g.exited:
		case <-time.After(stopDeadline):
			t.Fatalf("sluice serve still runs %s after its clients left", stopDeadline)
		}
	}
	t.Logf("sluice serve exited %s after SIGTERM", time.Since(sent).Round(time.Millisecond))
	if code, _ := g.stop(); code != 0 {
		t.Fatalf("sluice serve exited with code %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(g.logs(), `msg="shutting down"`) {
		t.Error("the gateway did not log its shutdown")
	}

	st := stateStore(t, cfg.dataDir)
	for _, subject := range []string{"idle-bot", "busy-bot"} {
		ss, stmts := sessionsOf(t, st, subject)
		if len(ss) != 1 {
			t.Fatalf("%d sessions recorded for %s, want 1", len(ss), subject)
		}
		if ss[0].EndReason != "gateway_shutdown" || ss[0].EndedAt.Before(sent.Add(-time.Second)) {
			t.Errorf("%s: session ended at %v with reason %q, want gateway_shutdown after the SIGTERM at %v",
				subject, ss[0].EndedAt, ss[0].EndReason, sent)
		}
		if subject == "busy-bot" {
			rs := stmts[ss[0].ID]
			if len(rs) != 1 || rs[0].Text != "select pg_sleep(30)" || rs[0].Status != "aborted" {
				t.Errorf("busy-bot: statements %s, want the interrupted pg_sleep(30), aborted", describe(rs))
			}
		}
	}
}

// connectBounded connects to "app" with pgx's default cancellation: a
// context that ends sets a deadline on the socket, so no read outlives it.
func connectBounded(t *testing.T, addr, token string) *pgx.Conn {
	t.Helper()
	cfg := pgxConfig(t, addr, "app", token, "disable")
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	c, err := connectConfig(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkShutdownError checks that a client was told FATAL 57P01.
func checkShutdownError(t *testing.T, what string, msg any, err error, took time.Duration) {
	t.Helper()
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		if pe.Code != "57P01" || pe.Severity != "FATAL" || !strings.Contains(pe.Message, "sluice is shutting down") {
			t.Errorf("%s got %s %s %q, want FATAL 57P01 saying sluice is shutting down", what, pe.Severity, pe.Code, pe.Message)
		}
	case pgconn.Timeout(err):
		t.Errorf("SLUICE BUG: %s: after SIGTERM the client received nothing for %s: sluice neither sent "+
			"FATAL 57P01 nor closed the connection", what, took.Round(time.Millisecond))
	case err != nil:
		t.Errorf("%s: after SIGTERM the connection failed without the 57P01 \"sluice is shutting down\" error: %v", what, err)
	default:
		t.Errorf("%s received %T after SIGTERM, want FATAL 57P01", what, msg)
	}
}

// describe renders statement records for a failure message.
func describe(rs []*sluice.StatementRecord) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("#%d %q %s %q", r.Seq, r.Text, r.Status, r.Error))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
