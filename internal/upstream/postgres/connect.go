package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// cancelGrace is how long a connection from Connect waits for the server to
// act on a cancel request before it is closed.
const cancelGrace = 5 * time.Second

// Connect connects and authenticates to t like Dial, but hands back a
// pgconn connection to drive with pgconn's API instead of a raw connection
// to relay: the MCP front door runs whole statements and reads their
// results. params are startup parameters as for Dial. When the context of
// a running statement ends, the statement is canceled upstream. The caller owns the
// connection and must Close it; like any pgconn.PgConn it is not safe for
// concurrent use. Errors never contain the password.
func Connect(ctx context.Context, t Target, params map[string]string) (*pgconn.PgConn, error) {
	cfg, err := config(t)
	if err != nil {
		return nil, err
	}
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	// A context that ends while a statement runs cancels the statement
	// with a cancel request, and gives up on the connection only if the
	// server does not answer soon after.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: cancelGrace}
	}
	if t.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.ConnectTimeout)
		defer cancel()
	}
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect upstream %s:%d: %w", t.Host, t.Port, scrub(err, t.Password))
	}
	return pc, nil
}

// Connect connects to the named connection's server; see Connect.
func (ts Targets) Connect(ctx context.Context, name string, params map[string]string) (*pgconn.PgConn, error) {
	t, ok := ts[name]
	if !ok {
		return nil, fmt.Errorf("no upstream target for connection %q", name)
	}
	return Connect(ctx, t, params)
}
