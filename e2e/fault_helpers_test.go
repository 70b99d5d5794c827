package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/testkit"
)

// Goroutine-leak checks. The gateway is a process of its own, so its
// goroutines are counted from the go_goroutines gauge of its /metrics.
const (
	// goroutineMargin is how far above its baseline the gateway's count
	// may settle: runtime and net/http goroutines that come and go (the
	// scrape's own connection, timers) without being tied to a session.
	goroutineMargin = 3
	// settleDeadline bounds the wait for the count to come back down: a
	// session ends within cancelTimeout (5s) of its client or upstream
	// going away.
	settleDeadline = 15 * time.Second
)

// faultContext is the context of a fault test's client calls: it ends
// after d, so that a call the gateway never answers fails the test instead
// of hanging it, and when the test fails, a cleanup makes the test's
// gateways print their goroutines (SIGQUIT; the stacks are in the log)
// before they are stopped. Call it after starting the gateways.
func faultContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(func() {
		cancel()
		if t.Failed() {
			running.dumpStacks(t)
		}
	})
	return ctx
}

// goroutines reads the gateway's go_goroutines gauge.
func (g *gateway) goroutines() (int, error) { return g.gauge("go_goroutines") }

// gauge reads one of the gateway's metrics.
func (g *gateway) gauge(name string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f, err := testkit.Gauge(ctx, "http://"+g.httpAddr+"/metrics", name)
	return int(f), err
}

// leakCheck takes the gateway's goroutine count now as the baseline and
// returns the check to run after the fault, once the test's clients are
// gone: it polls until the count is back within goroutineMargin of the
// baseline, and otherwise fails the test and makes the gateway print its
// goroutines (SIGQUIT; the stacks are in the test's log).
func (g *gateway) leakCheck(t *testing.T) (check func()) {
	t.Helper()
	base, err := g.goroutines()
	if err != nil {
		t.Fatalf("goroutine baseline: %v", err)
	}
	return func() {
		t.Helper()
		deadline := time.Now().Add(settleDeadline)
		for {
			n, err := g.goroutines()
			if err == nil && n <= base+goroutineMargin {
				t.Logf("gateway goroutines: %d before the fault, %d after", base, n)
				return
			}
			if time.Now().After(deadline) {
				g.signalStop(syscall.SIGQUIT)
				t.Fatalf("goroutine leak: the gateway runs %d goroutines (%v) %s after the fault, %d before it (margin %d); its stacks follow in the log",
					n, err, settleDeadline, base, goroutineMargin)
			}
			time.Sleep(50 * time.Millisecond) // poll interval
		}
	}
}

// backendsOf lists the client backends of database db on the server of
// super whose application_name is app, as "pid state query" lines.
func backendsOf(t *testing.T, super *pgx.Conn, db, app string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := super.Query(ctx, `select pid, coalesce(state, ''), query from pg_stat_activity
		where datname = $1 and application_name = $2 and backend_type = 'client backend' and pid <> pg_backend_pid()`, db, app)
	if err != nil {
		t.Fatalf("pg_stat_activity: %v", err)
	}
	var out []string
	for rows.Next() {
		var pid int
		var state, query string
		if err := rows.Scan(&pid, &state, &query); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s %q", pid, state, query))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitBackends polls until database db has exactly n client backends named
// app, and fails the test with the ones it has otherwise.
func waitBackends(t *testing.T, super *pgx.Conn, db, app string, n int, d time.Duration) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(d)
	for {
		if got = backendsOf(t, super, db, app); len(got) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends named %q after %s, want %d: %v", len(got), app, d, n, got)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// waitActive polls until a backend named app runs query.
func waitActive(t *testing.T, super *pgx.Conn, db, app, query string) {
	t.Helper()
	waitUntil(t, 10*time.Second, fmt.Sprintf("%q to run upstream", query), func() bool {
		for _, b := range backendsOf(t, super, db, app) {
			if strings.Contains(b, " active ") && strings.HasSuffix(b, strconv.Quote(query)) {
				return true
			}
		}
		return false
	})
}

// connectApp opens a pgx connection through sluice to connection conn with
// application_name app (which sluice passes upstream, so that the test can
// find the session's backend) and a cancel request, then a socket deadline
// after cancelDelay, when a context ends.
func connectApp(t *testing.T, g *gateway, conn, token, app string, cancelDelay time.Duration) *pgx.Conn {
	t.Helper()
	cfg := pgxConfig(t, g.pgAddr, conn, token, "disable")
	cfg.RuntimeParams["application_name"] = app
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelDelay}
	}
	c, err := connectConfig(t, cfg)
	if err != nil {
		t.Fatalf("connect to %q through sluice: %v", conn, err)
	}
	return c
}

// rawSession connects through sluice like connectApp and then takes the
// socket over, so that a test can send protocol messages and drop the
// connection at any point, as a crashing client would.
type rawSession struct {
	t  *testing.T
	g  *gateway
	fe *pgproto3.Frontend
	hc *pgconn.HijackedConn
}

func newRawSession(t *testing.T, g *gateway, conn, token, app string) *rawSession {
	t.Helper()
	c := connectApp(t, g, conn, token, app, time.Second)
	hc, err := c.PgConn().Hijack()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hc.Conn.Close() })
	return &rawSession{t: t, g: g, fe: hc.Frontend, hc: hc}
}

// send sends msgs and flushes them.
func (r *rawSession) send(msgs ...pgproto3.FrontendMessage) {
	r.t.Helper()
	for _, m := range msgs {
		r.fe.Send(m)
	}
	r.hc.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := r.fe.Flush(); err != nil {
		r.t.Fatalf("send %T: %v", msgs[0], err)
	}
}

// receive reads the next message within 10s. The message is valid until
// the next receive.
func (r *rawSession) receive() pgproto3.BackendMessage {
	r.t.Helper()
	r.hc.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	m, err := r.fe.Receive()
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			r.g.dumpWaiting(r.t, "a raw session got no answer within 10s")
		}
		r.t.Fatalf("receive: %v", err)
	}
	if e, ok := m.(*pgproto3.ErrorResponse); ok {
		r.t.Fatalf("unexpected error from sluice: %s %s", e.Code, e.Message)
	}
	return m
}

// expect reads messages until one of type T arrives.
func expect[T pgproto3.BackendMessage](r *rawSession) T {
	r.t.Helper()
	for {
		if m, ok := r.receive().(T); ok {
			return m
		}
	}
}

// crash closes the socket with a RST, without a Terminate message: what
// the gateway sees of a client process that dies.
func (r *rawSession) crash() {
	if tc, ok := r.hc.Conn.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0)
	}
	r.hc.Conn.Close()
}

// journalResults returns the result records of the requests whose text
// starts with prefix, in journal order. Read it after the gateway stopped.
func journalResults(t *testing.T, dataDir, prefix string) []*sluice.Result {
	t.Helper()
	var out []*sluice.Result
	err := scanJournal(dataDir, func(r *journal.Record) error {
		ev := r.Event
		if ev.Type == sluice.EventResult && ev.Request != nil && ev.Result != nil && strings.HasPrefix(ev.Request.Text, prefix) {
			out = append(out, ev.Result)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// statementsWith returns the subject's statement records (from the state
// store of the stopped gateway) whose text starts with prefix.
func statementsWith(t *testing.T, dataDir, subject, prefix string) []*sluice.StatementRecord {
	t.Helper()
	ss, stmts := sessionsOf(t, stateStore(t, dataDir), subject)
	var out []*sluice.StatementRecord
	for _, s := range ss {
		for _, r := range stmts[s.ID] {
			if strings.HasPrefix(r.Text, prefix) {
				out = append(out, r)
			}
		}
	}
	return out
}
