package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice/internal/testkit"
	pgup "github.com/sluicehq/sluice/internal/upstream/postgres"
)

// TestConnect checks the pgconn connection Connect opens: the startup
// parameters reach the server, a context that ends cancels the running
// statement (the connection stays usable), and a wrong password never
// shows in the error.
func TestConnect(t *testing.T) {
	pg := testkit.Shared(t)
	ctx := context.Background()
	db := testkit.UniqueName(t)
	if err := pg.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	r := pg.SCRAMUser()
	ts := pgup.Targets{"app": {Host: pg.Host(), Port: uint16(pg.Port()), Database: db, User: r.Name, Password: r.Password,
		SSLMode: "disable", ConnectTimeout: 5 * time.Second}}
	pc, err := ts.Connect(ctx, "app", map[string]string{"application_name": "sluice test", "default_transaction_read_only": "on"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	res := pc.ExecParams(ctx, "select current_setting('application_name'), current_setting('default_transaction_read_only')", nil, nil, nil, nil).Read()
	if res.Err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != "sluice test" || string(res.Rows[0][1]) != "on" {
		t.Fatalf("startup parameters: %v %q", res.Err, res.Rows)
	}

	qctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = pc.Exec(qctx, "select pg_sleep(30)").ReadAll()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" || time.Since(start) > 5*time.Second {
		t.Fatalf("statement under an ended context: %v after %s, want 57014 from a cancel request", err, time.Since(start))
	}
	if pc.IsClosed() {
		t.Fatal("the cancel closed the connection")
	}
	if res := pc.ExecParams(ctx, "select 1", nil, nil, nil, nil).Read(); res.Err != nil {
		t.Fatalf("after the cancel: %v", res.Err)
	}

	bad := ts["app"]
	bad.Password = "wrong-password-1234"
	if _, err := pgup.Connect(ctx, bad, nil); err == nil || strings.Contains(err.Error(), bad.Password) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := ts.Connect(ctx, "nope", nil); err == nil {
		t.Fatal("unknown connection accepted")
	}
}
