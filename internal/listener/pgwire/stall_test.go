package pgwire_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/testkit/faultproxy"
	pgup "github.com/sluicehq/sluice/internal/upstream/postgres"
)

// copyRows is an endless COPY text source that counts what was read.
type copyRows struct{ n atomic.Int64 }

func (r *copyRows) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
		if i%64 == 63 {
			p[i] = '\n'
		}
	}
	r.n.Add(int64(len(p)))
	return len(p), nil
}

// copyUntilCanceled streams rows into sink on conn until ctx ends, and
// returns CopyFrom's error on the channel.
func copyUntilCanceled(ctx context.Context, c *pgx.Conn, src *copyRows) <-chan error {
	errc := make(chan error, 1)
	go func() {
		_, err := c.PgConn().CopyFrom(ctx, src, "copy sink from stdin")
		errc <- err
	}()
	return errc
}

// TestCancelWhileUpstreamWriteIsStuck checks the bound on a cancel request
// that meets a write upstream the database does not take. With the network
// to the database stalled under a COPY FROM STDIN, sluice blocks writing
// upstream and stops reading the client; the client's cancel cannot reach
// the database. sluice must end the session after its cancel timeout with
// FATAL 08006 and record the COPY as aborted. A cancel the database acts
// on must not end the session: it is watched the same way and the session
// outlives the timeout.
func TestCancelWhileUpstreamWriteIsStuck(t *testing.T) {
	var proxy *faultproxy.Proxy
	e := newEnv(t,
		withTargets(func(e *env) pgup.Targets {
			proxy = faultproxy.Start(t, e.pg.Addr())
			host, port, _ := net.SplitHostPort(proxy.Addr())
			p, _ := strconv.Atoi(port)
			stalled := e.target(e.db, e.role)
			stalled.Host, stalled.Port = host, uint16(p)
			return pgup.Targets{"app": stalled, "direct": e.target(e.db, e.role)}
		}),
		withPolicies(config.Policy{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app", "direct"}}))
	e.superExec("create table sink(line text); grant all on sink to public")
	ctx := context.Background()
	connectTo := func(conn, subject string) *pgx.Conn {
		cfg, err := pgx.ParseConfig(e.dsn(conn, e.token(subject, "agents"), "require"))
		if err != nil {
			t.Fatal(err)
		}
		// Cancel with a cancel request and keep waiting for the answer.
		cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
			return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 30 * time.Second}
		}
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(ctx) })
		return c
	}
	super, err := pgx.Connect(ctx, e.pg.SuperuserDSN(e.db))
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(ctx)
	streaming := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			var copies int
			err := super.QueryRow(ctx, "select count(*) from pg_stat_progress_copy where tuples_processed > 1000").Scan(&copies)
			if err == nil && copies == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d COPYs streaming upstream (%v), want %d", copies, err, n)
			}
			time.Sleep(10 * time.Millisecond) // poll interval
		}
	}

	// A cancel the database acts on: 57014, and the session goes on.
	healthy := connectTo("direct", "healthy")
	hctx, hcancel := context.WithCancel(ctx)
	herr := copyUntilCanceled(hctx, healthy, &copyRows{})
	streaming(1)
	hcancel()
	if err := <-herr; pgCode(err) != "57014" {
		t.Fatalf("canceled COPY on a healthy upstream: %v, want 57014", err)
	}
	// Outlive the cancel timeout in a statement of the same session.
	slept := make(chan error, 1)
	go func() { _, err := healthy.Exec(ctx, "select pg_sleep(6)"); slept <- err }()

	// A cancel that cannot reach the database while sluice is stuck
	// writing the COPY's data to it.
	stuck := connectTo("app", "stuck")
	src := &copyRows{}
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	serr := copyUntilCanceled(sctx, stuck, src)
	streaming(1)
	proxy.Stall()
	defer proxy.Resume()
	for last := int64(-1); ; { // until back-pressure holds the client
		n := src.n.Load()
		if n == last {
			break
		}
		last = n
		time.Sleep(50 * time.Millisecond) // poll interval
	}
	start := time.Now()
	scancel()
	select {
	case err := <-serr:
		// The client hears FATAL 08006, or, when the session ends while
		// the driver is still writing COPY data, the closed connection.
		var pe *pgconn.PgError
		fatal := errors.As(err, &pe) && pe.Severity == "FATAL" && pe.Code == "08006"
		if !fatal && (err == nil || !strings.Contains(err.Error(), "closed network connection") && !strings.Contains(err.Error(), "connection reset")) {
			t.Fatalf("canceled COPY on a stalled upstream: %v, want FATAL 08006 or the connection closed", err)
		}
		if took := time.Since(start); took < 4*time.Second || took > 9*time.Second {
			t.Fatalf("the stuck session ended %s after the cancel, want after the 5s cancel timeout", took)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the cancel of a COPY stuck on a stalled upstream got no answer in 20s")
	}
	sess, stmts := e.waitSession("stuck")
	if sess.EndReason != "upstream_closed" || len(stmts) != 1 || stmts[0].Status != "aborted" {
		t.Fatalf("stuck session: ended %q with %d statements (%+v), want upstream_closed and the COPY aborted", sess.EndReason, len(stmts), stmts)
	}

	if err := <-slept; err != nil {
		t.Fatalf("the session whose cancel the database acted on, after the cancel timeout: %v", err)
	}
	if n := e.srv.Sessions(); n != 1 {
		t.Fatalf("%d sessions relaying, want the healthy one", n)
	}
}
