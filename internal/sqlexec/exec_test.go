package sqlexec_test

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/sqlexec"
	"github.com/sluicehq/sluice/internal/testkit"
	pgup "github.com/sluicehq/sluice/internal/upstream/postgres"
)

func TestMain(m *testing.M) { testkit.RunMain(m) }

// results keeps the results the gate records.
type results struct {
	mu  sync.Mutex
	res map[string]*sluice.Result
}

func (r *results) Record(_ context.Context, ev *sluice.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Type == sluice.EventResult {
		r.res[ev.Request.ID] = ev.Result
	}
	return nil
}

// TestRun runs statements on a real PostgreSQL through a gate session
// whose policy masks emails: rows come back masked, within the caller's
// row limit, the journal's capture within its caps; binary values and
// parameters go as recorded; a failure is reported with its SQLSTATE,
// masked.
func TestRun(t *testing.T) {
	pg := testkit.Shared(t)
	ctx := context.Background()
	db := testkit.UniqueName(t)
	if err := pg.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	r := pg.SCRAMUser()
	ts := pgup.Targets{"app": {Host: pg.Host(), Port: uint16(pg.Port()), Database: db, User: r.Name, Password: r.Password,
		SSLMode: "disable", ConnectTimeout: 5 * time.Second}}
	pol, err := policy.New([]config.Policy{{Name: "p", Subjects: []string{"*"}, Connections: []string{"app"}, Mask: []string{"email"}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &results{res: map[string]*sluice.Result{}}
	g := gate.New(pol, map[string]sluice.ConnType{"app": sluice.ConnPostgres}, rec, nil)
	gs, err := g.OpenSession(ctx, gate.SessionInfo{Identity: &sluice.Identity{Subject: "ci"}, Connection: "app",
		Protocol: sluice.ProtoRun, ClientAddr: netip.MustParseAddrPort("127.0.0.1:1")})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := ts.Connect(ctx, "app", sqlexec.StartupParams("sluice test", gs.ReadOnly()))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	x := &sqlexec.Executor{CaptureRows: 2, CaptureBytes: 1 << 10, KeepRows: 3}
	run := func(st sqlexec.Statement) (*sqlexec.Outcome, *sluice.Result) {
		t.Helper()
		req := &sluice.Request{Kind: sluice.KindSQL, Text: st.Text, Params: st.Params}
		if _, err := gs.Begin(ctx, req); err != nil {
			t.Fatal(err)
		}
		out := x.Run(ctx, gs, pc, req, st)
		return out, rec.res[req.ID]
	}

	out, res := run(sqlexec.Statement{Text: "create table u(id int, email text unique); insert into u select g, 'user' || g || '@example.com' from generate_series(1, 5) g"})
	if out.Err != nil || res.Tag != "CREATE TABLE; INSERT 0 5" || res.Rows != 5 || res.Capture != nil {
		t.Fatalf("setup: %v %+v", out.Err, res)
	}
	out, res = run(sqlexec.Statement{Text: "select id, email from u order by id"})
	if out.Err != nil || res.Rows != 5 || len(out.Rows) != 3 || !out.Truncated || strings.Contains(*out.Rows[0][1], "user1@") {
		t.Fatalf("select: %v rows %d kept %d truncated %v first %v", out.Err, res.Rows, len(out.Rows), out.Truncated, *out.Rows[0][1])
	}
	if c := res.Capture; c == nil || len(c.Rows) != 2 || !c.Truncated || *c.Rows[1][1] != *out.Rows[1][1] || res.Masked["email"] == 0 {
		t.Fatalf("capture %+v masked %v", res.Capture, res.Masked)
	}
	// Binary results and parameters, as a driver would have sent them.
	two := `\x00000002`
	out, res = run(sqlexec.Statement{Text: "select id from u where id = $1::int4", Params: []*string{&two}, ParamFormats: []int16{1},
		ResultFormats: []int16{1}, Extended: true})
	if out.Err != nil || len(out.Rows) != 1 || *out.Rows[0][0] != `\x00000002` || res.Capture.Columns[0].Format != 1 {
		t.Fatalf("binary: %v %v", out.Err, out.Rows)
	}
	// A failure: its SQLSTATE, and its detail masked like results (it
	// echoes the value).
	out, res = run(sqlexec.Statement{Text: "insert into u values (9, 'user1@example.com')"})
	if out.Err == nil || res.Status != sluice.StatusError || !strings.HasPrefix(res.Error, "23505: ") ||
		!strings.Contains(res.Error, "Key (email)") || strings.Contains(res.Error, "user1@example.com") {
		t.Fatalf("failure: %v %+v", out.Err, res)
	}
	out, _ = run(sqlexec.Statement{Text: "select $1::text", Params: []*string{nil}, Extended: true})
	if out.Err != nil || out.Rows[0][0] != nil {
		t.Fatalf("NULL parameter: %v %v", out.Err, out.Rows)
	}
}
