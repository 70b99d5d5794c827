package e2e

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/testkit"
	"github.com/sluicehq/sluice/internal/testkit/faultproxy"
)

// Timeouts of the stall tests.
const (
	// stallConnectTimeout is connect_timeout of the connection behind the
	// fault proxy.
	stallConnectTimeout = 2 * time.Second
	// clientCancelDelay is how long the test's pgx clients wait, after
	// sending a cancel request, before they give up on the socket.
	clientCancelDelay = time.Second
	// gatewayCancelTimeout is how long sluice tries to deliver a cancel
	// request upstream for a client that went away (cancelTimeout in
	// pgwire) before it closes the upstream connection regardless.
	gatewayCancelTimeout = 5 * time.Second
)

// stallSetup is a gateway with connection "app" behind a fault proxy and
// connection "direct" to the same database without one.
type stallSetup struct {
	pg    *testkit.Postgres
	db    string
	proxy *faultproxy.Proxy
	cfg   *sluiceConfig
	g     *gateway
	token string
	super *pgx.Conn // superuser, directly on the database
}

func newStallSetup(t *testing.T, subject string) *stallSetup {
	t.Helper()
	pg, db := newDatabase(t)
	role := pg.SCRAMUser()
	s := &stallSetup{pg: pg, db: db, proxy: faultproxy.Start(t, pg.Addr())}
	s.cfg = newConfig(t,
		[]connSpec{
			{Name: "app", Address: s.proxy.Addr(), Database: db, User: role.Name, Password: role.Password,
				ConnectTimeout: stallConnectTimeout.String()},
			{Name: "direct", Address: pg.Addr(), Database: db, User: role.Name, Password: role.Password},
		},
		[]policySpec{{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app", "direct"}}})
	s.g = startGateway(t, s.cfg)
	s.token = s.cfg.issue(subject, "agents")
	super, err := pg.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(context.Background()) })
	s.super = super
	return s
}

// TestFaultStalledUpstream stalls the network between sluice and
// PostgreSQL (bytes stop, nothing closes) while one session runs a query,
// one is idle, and one uses another connection. A new session on the
// stalled connection fails within its connect_timeout with 08006; the
// other connection is served as before; the busy client that gives up is
// let go within its own cancel delay and its session ends within sluice's
// cancel timeout; after the network recovers the idle session and new
// sessions work again and the abandoned query's backend is gone.
func TestFaultStalledUpstream(t *testing.T) {
	t.Parallel()
	s := newStallSetup(t, "stall-bot")
	ctx := t.Context()
	leaks := s.g.leakCheck(t)

	busy := connectApp(t, s.g, "app", s.token, "stall-busy", clientCancelDelay)
	idle := connectApp(t, s.g, "app", s.token, "stall-idle", clientCancelDelay)
	other := connectApp(t, s.g, "direct", s.token, "stall-other", clientCancelDelay)
	for _, c := range []*pgx.Conn{busy, idle, other} {
		if _, err := c.Exec(ctx, "select 1"); err != nil {
			t.Fatal(err)
		}
	}
	busyCtx, busyCancel := context.WithCancel(context.Background())
	defer busyCancel()
	busyErr := make(chan error, 1)
	go func() {
		_, err := busy.Exec(busyCtx, "select pg_sleep(30)")
		busyErr <- err
	}()
	waitActive(t, s.super, s.db, "stall-busy", "select pg_sleep(30)")

	s.proxy.Stall()

	// A new session on the stalled connection: refused with 08006 once
	// connect_timeout has passed, not hung.
	connStart := time.Now()
	connErr := make(chan error, 1)
	go func() {
		_, err := tryConnect(t, s.g.pgAddr, "app", s.token)
		connErr <- err
	}()
	// Meanwhile, the other connection is served as before.
	for i := range 20 {
		qStart := time.Now()
		var n int
		if err := other.QueryRow(ctx, "select $1::int", i).Scan(&n); err != nil || n != i {
			t.Fatalf("query %d on the other connection while app is stalled: %d, %v", i, n, err)
		}
		if took := time.Since(qStart); took > time.Second {
			t.Fatalf("query %d on the other connection took %s while app is stalled", i, took)
		}
	}
	select {
	case err := <-connErr:
		took := time.Since(connStart)
		if err == nil {
			t.Fatal("a session opened on a stalled upstream")
		}
		if pe := pgError(t, err); pe.Code != "08006" || !strings.Contains(pe.Message, `connection "app"`) {
			t.Fatalf("connect while stalled: %s %q, want 08006 naming connection \"app\"", pe.Code, pe.Message)
		}
		if took < stallConnectTimeout-200*time.Millisecond || took > stallConnectTimeout+3*time.Second {
			t.Fatalf("connect while stalled failed after %s, want about connect_timeout (%s)", took, stallConnectTimeout)
		}
	case <-time.After(stallConnectTimeout + 10*time.Second):
		t.Fatalf("a new session on a stalled upstream got no answer %s after connect_timeout", 10*time.Second)
	}

	// The busy client gives up: its cancel request cannot reach the
	// database, so pgx closes the socket after its cancel delay; the
	// gateway ends the session within its own cancel timeout.
	sessionsBefore, err := s.g.activeSessions()
	if err != nil || sessionsBefore != 3 {
		t.Fatalf("sessions before the cancel: %d %v, want 3", sessionsBefore, err)
	}
	cancelAt := time.Now()
	busyCancel()
	select {
	case err := <-busyErr:
		if err == nil {
			t.Fatal("pg_sleep(30) succeeded on a stalled upstream")
		}
		if took := time.Since(cancelAt); took > clientCancelDelay+3*time.Second {
			t.Fatalf("the canceled query returned %s after the cancel", took)
		}
	case <-time.After(clientCancelDelay + 10*time.Second):
		t.Fatal("the client's canceled query did not return")
	}
	waitUntil(t, clientCancelDelay+gatewayCancelTimeout+5*time.Second, "the gateway to end the abandoned session", func() bool {
		n, err := s.g.activeSessions()
		return err == nil && n == 2
	})
	t.Logf("the abandoned session ended %s after the client's cancel", time.Since(cancelAt).Round(time.Millisecond))
	if _, err := other.Exec(ctx, "select 1"); err != nil {
		t.Fatalf("the other connection after the abandoned session ended: %v", err)
	}

	// The network recovers.
	s.proxy.Resume()
	var one int
	if err := idle.QueryRow(ctx, "select 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("the idle session after the stall: %d, %v", one, err)
	}
	after := connectApp(t, s.g, "app", s.token, "stall-after", clientCancelDelay)
	if err := after.QueryRow(ctx, "select 2").Scan(&one); err != nil || one != 2 {
		t.Fatalf("a new session after the stall: %d, %v", one, err)
	}
	// The cancel sluice sent for the abandoned query arrives with the
	// network, and its upstream connection's end too: no backend lingers.
	waitBackends(t, s.super, s.db, "stall-busy", 0, 10*time.Second)

	for _, c := range []*pgx.Conn{idle, other, after} {
		c.Close(ctx)
	}
	s.g.waitIdle()
	leaks()
	s.g.stopClean()

	rs := statementsWith(t, s.cfg.dataDir, "stall-bot", "select pg_sleep(30)")
	if len(rs) != 1 || rs[0].Status != "aborted" {
		t.Fatalf("the abandoned pg_sleep is recorded as %s, want once, aborted", describe(rs))
	}
	ss, _ := sessionsOf(t, stateStore(t, s.cfg.dataDir), "stall-bot")
	reasons := map[string]int{}
	for _, sess := range ss {
		reasons[sess.EndReason]++
	}
	if reasons["upstream_unavailable"] != 1 || reasons["client_closed"] != 4 {
		t.Fatalf("session end reasons = %v, want 1 upstream_unavailable (the connect while stalled) and 4 client_closed", reasons)
	}
}

// endlessCopy is an io.Reader of COPY text rows without end; it counts the
// bytes read from it. Safe for concurrent use of Bytes.
type endlessCopy struct {
	n    atomic.Int64
	line []byte
	off  int
}

func (r *endlessCopy) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.line[r.off:])
		n += c
		r.off = (r.off + c) % len(r.line)
	}
	r.n.Add(int64(n))
	return n, nil
}

var _ io.Reader = (*endlessCopy)(nil)

// TestFaultStalledCopyIn stalls the upstream network while a client
// streams COPY FROM STDIN through sluice, so that sluice's writes upstream
// block; the client gives up (cancel, then it closes its socket). The
// session must still end within a bounded time, the other connection must
// be served meanwhile, and after the network recovers no backend is left
// and nothing was copied.
func TestFaultStalledCopyIn(t *testing.T) {
	t.Parallel()
	s := newStallSetup(t, "stall-copier")
	ctx := t.Context()
	if err := s.pg.Exec(ctx, "select 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.super.Exec(ctx, "create table sink(line text); grant all on sink to public"); err != nil {
		t.Fatal(err)
	}
	other := connectApp(t, s.g, "direct", s.token, "stall-other", clientCancelDelay)
	leaks := s.g.leakCheck(t)

	copier := connectApp(t, s.g, "app", s.token, "stall-copier", clientCancelDelay)
	src := &endlessCopy{line: []byte(strings.Repeat("x", 100) + "\n")}
	copyCtx, copyCancel := context.WithCancel(context.Background())
	defer copyCancel()
	copyErr := make(chan error, 1)
	go func() {
		_, err := copier.PgConn().CopyFrom(copyCtx, src, "copy sink from stdin")
		copyErr <- err
	}()
	waitUntil(t, 10*time.Second, "the COPY to stream rows upstream", func() bool {
		var n int64
		err := s.super.QueryRow(ctx, "select coalesce(sum(tuples_processed), 0) from pg_stat_progress_copy where relid = 'sink'::regclass").Scan(&n)
		return err == nil && n > 10000
	})

	s.proxy.Stall()
	// Wait until the client is held back: what it sends no longer moves.
	var last int64 = -1
	waitUntil(t, 10*time.Second, "the client's COPY to be held back by the stall", func() bool {
		n := src.n.Load()
		held := n == last
		last = n
		return held
	})
	cancelAt := time.Now()
	copyCancel()
	select {
	case err := <-copyErr:
		if err == nil {
			t.Fatal("the COPY succeeded on a stalled upstream")
		}
	case <-time.After(clientCancelDelay + 10*time.Second):
		t.Fatal("the client's canceled COPY did not return")
	}
	dl := time.Now().Add(12*time.Second)
	for { n, _ := s.g.activeSessions(); if n == 1 { break }; if time.Now().After(dl) { s.g.signalStop(syscall.SIGQUIT); t.Fatal("hang") }; time.Sleep(50*time.Millisecond) }
	t.Logf("the abandoned COPY session ended %s after the client's cancel", time.Since(cancelAt).Round(time.Millisecond))
	if _, err := other.Exec(ctx, "select 1"); err != nil {
		t.Fatalf("the other connection after the abandoned COPY: %v", err)
	}

	s.proxy.Resume()
	waitBackends(t, s.super, s.db, "stall-copier", 0, 10*time.Second)
	var rows int
	if err := s.super.QueryRow(ctx, "select count(*) from sink").Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("rows copied by the abandoned COPY: %d, %v; want 0", rows, err)
	}
	other.Close(ctx)
	s.g.waitIdle()
	leaks()
	s.g.stopClean()
	if rs := statementsWith(t, s.cfg.dataDir, "stall-copier", "copy sink from stdin"); len(rs) != 1 || rs[0].Status != "aborted" {
		t.Fatalf("the abandoned COPY is recorded as %s, want once, aborted", describe(rs))
	}
}
