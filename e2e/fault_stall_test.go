package e2e

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

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
	s.g.upstreamState = func() string { return pgActivity(pg.SuperuserDSN(db)) }
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
	ctx := faultContext(t, time.Minute)
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
// bytes read from it.
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

// heldBack waits until the count n stops moving between two polls: a
// writer that pushes as fast as it can is then blocked by back-pressure.
func heldBack(t *testing.T, what string, n func() int64) {
	t.Helper()
	last := int64(-1)
	waitUntil(t, 10*time.Second, what+" to be held back by the stall", func() bool {
		cur := n()
		held := cur == last
		last = cur
		return held
	})
}

// sendCancel sends a CancelRequest for the session with key pid/secret to
// sluice at addr, as a client does.
func sendCancel(t *testing.T, addr string, pid uint32, secret []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg, err := (&pgproto3.CancelRequest{ProcessID: pid, SecretKey: secret}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, c) // sluice answers nothing and hangs up
}

// TestFaultStalledCopyIn stalls the upstream network while two clients
// stream COPY FROM STDIN through sluice, so that sluice's writes upstream
// block and it stops reading the clients. Both clients cancel; the cancel
// cannot reach the database. One then gives up and closes its socket
// (pgx), the other keeps waiting for an answer. Within sluice's cancel
// timeout, the waiting client is told FATAL 08006 why its session is over,
// both sessions end, and the other connection is served meanwhile; after
// the network recovers no backend is left and nothing was copied.
func TestFaultStalledCopyIn(t *testing.T) {
	t.Parallel()
	s := newStallSetup(t, "stall-copier")
	ctx := faultContext(t, time.Minute)
	if _, err := s.super.Exec(ctx, "create table sink(line text); grant all on sink to public"); err != nil {
		t.Fatal(err)
	}
	other := connectApp(t, s.g, "direct", s.token, "stall-other", clientCancelDelay)
	leaks := s.g.leakCheck(t)

	// The client that gives up: pgx's CopyFrom from an endless source.
	copier := connectApp(t, s.g, "app", s.token, "stall-copier", clientCancelDelay)
	src := &endlessCopy{line: []byte(strings.Repeat("x", 100) + "\n")}
	copyCtx, copyCancel := context.WithCancel(context.Background())
	defer copyCancel()
	copyErr := make(chan error, 1)
	go func() {
		_, err := copier.PgConn().CopyFrom(copyCtx, src, "copy sink from stdin")
		copyErr <- err
	}()
	// The client that waits: raw CopyData until the socket blocks.
	raw := newRawSession(t, s.g, "app", s.token, "stall-raw")
	raw.send(&pgproto3.Query{String: "copy sink from stdin"})
	expect[*pgproto3.CopyInResponse](raw)
	chunk, err := (&pgproto3.CopyData{Data: bytes.Repeat([]byte(strings.Repeat("y", 99)+"\n"), 640)}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	var rawSent atomic.Int64
	rawDone := make(chan struct{})
	go func() {
		defer close(rawDone)
		for {
			if _, err := raw.hc.Conn.Write(chunk); err != nil {
				return // sluice closed the session
			}
			rawSent.Add(int64(len(chunk)))
		}
	}()
	waitUntil(t, 10*time.Second, "both COPYs to stream rows upstream", func() bool {
		var n, copies int64
		err := s.super.QueryRow(ctx, `select count(*), coalesce(min(tuples_processed), 0) from pg_stat_progress_copy
			where relid = 'sink'::regclass`).Scan(&copies, &n)
		return err == nil && copies == 2 && n > 1000
	})

	s.proxy.Stall()
	heldBack(t, "the pgx COPY", src.n.Load)
	heldBack(t, "the raw COPY", rawSent.Load)

	cancelAt := time.Now()
	copyCancel()
	sendCancel(t, s.g.pgAddr, raw.hc.PID, raw.hc.SecretKey)
	select {
	case err := <-copyErr:
		if err == nil {
			t.Fatal("the COPY succeeded on a stalled upstream")
		}
	case <-time.After(clientCancelDelay + 10*time.Second):
		t.Fatal("the pgx client's canceled COPY did not return")
	}
	// The waiting client is told why its session is over.
	raw.hc.Conn.SetReadDeadline(time.Now().Add(gatewayCancelTimeout + 10*time.Second))
	msg, err := raw.fe.Receive()
	if err != nil {
		t.Fatalf("the waiting client got no answer %s after its cancel: %v", time.Since(cancelAt).Round(time.Millisecond), err)
	}
	e, ok := msg.(*pgproto3.ErrorResponse)
	if !ok || e.Severity != "FATAL" || e.Code != "08006" || !strings.Contains(e.Message, "did not act on the cancel request") {
		t.Fatalf("the waiting client got %#v, want FATAL 08006 saying the database did not act on the cancel", msg)
	}
	took := time.Since(cancelAt)
	t.Logf("the waiting client was told %q %s after its cancel", e.Message, took.Round(time.Millisecond))
	if took < gatewayCancelTimeout-500*time.Millisecond || took > gatewayCancelTimeout+3*time.Second {
		t.Fatalf("the waiting client was told %s after its cancel, want about sluice's cancel timeout (%s)", took, gatewayCancelTimeout)
	}
	<-rawDone
	waitUntil(t, 5*time.Second, "the gateway to end both COPY sessions", func() bool {
		n, err := s.g.activeSessions()
		return err == nil && n == 1
	})
	var one int
	if err := other.QueryRow(ctx, "select 1").Scan(&one); err != nil {
		t.Fatalf("the other connection after the abandoned COPYs: %v", err)
	}

	s.proxy.Resume()
	waitBackends(t, s.super, s.db, "stall-copier", 0, 10*time.Second)
	waitBackends(t, s.super, s.db, "stall-raw", 0, 10*time.Second)
	var rows int
	if err := s.super.QueryRow(ctx, "select count(*) from sink").Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("rows copied by the abandoned COPYs: %d, %v; want 0", rows, err)
	}
	other.Close(ctx)
	s.g.waitIdle()
	leaks()
	s.g.stopClean()
	if rs := statementsWith(t, s.cfg.dataDir, "stall-copier", "copy sink from stdin"); len(rs) != 2 || rs[0].Status != "aborted" || rs[1].Status != "aborted" {
		t.Fatalf("the abandoned COPYs are recorded as %s, want twice, aborted", describe(rs))
	}
	ss, _ := sessionsOf(t, stateStore(t, s.cfg.dataDir), "stall-copier")
	reasons := map[string]int{}
	for _, sess := range ss {
		reasons[sess.EndReason]++
	}
	if reasons["upstream_closed"] != 2 {
		t.Fatalf("session end reasons = %v, want the two COPY sessions upstream_closed", reasons)
	}
}
