package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/testkit"
)

// streamResult is the large result streamed directly and through a fresh
// sluice with everything on.
type streamResult struct {
	mb                     int
	direct, sluice         time.Duration
	rssBefore, rssPeak     int64 // sluice's VmRSS before and VmHWM after, in KiB
	rowsDirect, rowsSluice int64
}

// bigStream fetches about mb MB of rows directly and through a new
// gateway, and reads the gateway's peak RSS.
func bigStream(ctx context.Context, bin, work string, pg *testkit.Postgres, role testkit.Role, direct target, mb int) (*streamResult, error) {
	g, err := startSluice(bin, filepath.Join(work, "stream"), pg.Addr(), role, benchMask, "")
	if err != nil {
		return nil, err
	}
	defer g.stop()
	through := g.target("sluice")
	rows := int64(mb) * 1024 * 1024 / 1000
	q := fmt.Sprintf("select repeat('x', 992) || lpad(g::text, 8, '0') from generate_series(1, %d) g", rows)
	res := &streamResult{mb: mb}
	if res.rssBefore, err = testkit.ProcStatusKiB(g.pid(), "VmRSS"); err != nil {
		return nil, err
	}
	if res.direct, res.rowsDirect, err = fetch(ctx, direct, q); err != nil {
		return nil, err
	}
	if res.sluice, res.rowsSluice, err = fetch(ctx, through, q); err != nil {
		return nil, err
	}
	if res.rowsDirect != rows || res.rowsSluice != rows {
		return nil, fmt.Errorf("large result: %d rows direct, %d through sluice, want %d", res.rowsDirect, res.rowsSluice, rows)
	}
	if res.rssPeak, err = testkit.ProcStatusKiB(g.pid(), "VmHWM"); err != nil {
		return nil, err
	}
	return res, nil
}

// fetch reads every row of q and returns the time and row count.
func fetch(ctx context.Context, t target, q string) (time.Duration, int64, error) {
	c, err := pgx.Connect(ctx, t.dsn())
	if err != nil {
		return 0, 0, err
	}
	defer c.Close(ctx)
	start := time.Now()
	rs, err := c.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return 0, 0, err
	}
	var n int64
	for rs.Next() {
		n++
	}
	if err := rs.Err(); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", t.name, err)
	}
	return time.Since(start), n, nil
}

// idleResult is the memory of many idle sessions.
type idleResult struct {
	n             int
	before, after int64 // KiB
}

// idleSessions opens n sessions through a new gateway, holds them idle
// and reads the gateway's RSS before and after.
func idleSessions(ctx context.Context, bin, work string, pg *testkit.Postgres, role testkit.Role, n int) (*idleResult, error) {
	g, err := startSluice(bin, filepath.Join(work, "idle"), pg.Addr(), role, benchMask, "")
	if err != nil {
		return nil, err
	}
	defer g.stop()
	t := g.target("sluice")
	res := &idleResult{n: n}
	// One session first, so the baseline has the code paths warm.
	warm, err := pgx.Connect(ctx, t.dsn())
	if err != nil {
		return nil, err
	}
	warm.Close(ctx)
	if res.before, err = testkit.ProcStatusKiB(g.pid(), "VmRSS"); err != nil {
		return nil, err
	}
	conns := make([]*pgx.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := pgx.Connect(ctx, t.dsn())
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close(ctx)
			}
		}
	}()
	select {
	case err := <-errs:
		return nil, fmt.Errorf("open idle sessions: %w", err)
	default:
	}
	if res.after, err = testkit.ProcStatusKiB(g.pid(), "VmRSS"); err != nil {
		return nil, err
	}
	return res, nil
}
