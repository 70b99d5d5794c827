package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/replay"
	"github.com/sluicehq/sluice/internal/testkit"
)

// replaySetup is a gateway with a production connection "app" and a
// sandbox "staging" on two real databases whose orders differ, an agent
// of group agents on app, and an auditor of group security with a grant on
// staging.
type replaySetup struct {
	cfg            *sluiceConfig
	g              *gateway
	pg             *testkit.Postgres
	prod, sandbox  string // database names
	role           testkit.Role
	agent, auditor string // tokens
}

const ordersTable = "create table orders(id int primary key, status text not null)"

func newReplaySetup(t *testing.T) *replaySetup {
	t.Helper()
	pg, prod := newDatabase(t)
	sandbox := testkit.UniqueName(t)
	if err := pg.CreateDatabase(t.Context(), sandbox); err != nil {
		t.Fatal(err)
	}
	role := pg.SCRAMUser()
	s := &replaySetup{pg: pg, prod: prod, sandbox: sandbox, role: role}
	s.exec(t, prod, ordersTable, "insert into orders values (1, 'open'), (2, 'open'), (3, 'open')")
	s.exec(t, sandbox, ordersTable, "insert into orders values (1, 'open'), (2, 'shipped'), (4, 'open')")
	s.cfg = newConfig(t,
		[]connSpec{
			{Name: "app", Address: pg.Addr(), Database: prod, User: role.Name, Password: role.Password},
			{Name: "staging", Address: pg.Addr(), Database: sandbox, User: role.Name, Password: role.Password, Sandbox: true},
		},
		[]policySpec{
			{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app"}, Rules: []ruleSpec{
				{When: "ddl || destructive", Action: "deny", Message: "no destructive changes"},
				{When: "true", Action: "allow"},
			}},
			{Name: "sandbox-ops", Subjects: []string{"group:security"}, Connections: []string{"staging"}},
		},
		func(fc *fileConfig) { fc.Audit = map[string]any{"auditors": []string{"group:security"}} })
	s.g = startGateway(t, s.cfg)
	s.agent = s.cfg.issue("agent-7", "agents")
	s.auditor = s.cfg.issue("olga", "security")
	return s
}

// exec runs statements directly on a database, as sluice's role.
func (s *replaySetup) exec(t *testing.T, db string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), s.pg.DSN(s.role.Name, s.role.Password, db, "disable"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, st := range stmts {
		if _, err := conn.Exec(t.Context(), st); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
}

// orders returns a database's orders as "id:status" in id order.
func (s *replaySetup) orders(t *testing.T, db string) string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), s.pg.DSN(s.role.Name, s.role.Password, db, "disable"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), "select id, status from orders order by id")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var id int
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d:%s", id, st))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

// agentSession runs an agent's session on app and returns its id once
// the index has recorded its end.
func (s *replaySetup) agentSession(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, s.g.pgAddr, "app", s.agent)
	// 1: a read (simple protocol: text values).
	if _, err := conn.Exec(ctx, "select id, status from orders order by id", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	// 2: an update with a parameter (extended protocol).
	if tag, err := conn.Exec(ctx, "update orders set status = 'shipped' where status = 'open' and id <= $1", 2); err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("update: %v %v", tag, err)
	}
	// 3: denied; 4: failed.
	if _, err := conn.Exec(ctx, "delete from orders"); err == nil {
		t.Fatal("the delete was not denied")
	}
	if _, err := conn.Exec(ctx, "select * from no_such_table"); err == nil {
		t.Fatal("the select of a missing table did not fail")
	}
	// 5: a read whose value comes back in binary format (pgx asks for it).
	var shipped int64
	if err := conn.QueryRow(ctx, "select count(*) from orders where status = 'shipped'").Scan(&shipped); err != nil || shipped != 2 {
		t.Fatalf("count: %d %v", shipped, err)
	}
	// 6: a write.
	if _, err := conn.Exec(ctx, "insert into orders values (10, 'new')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	var id string
	waitUntil(t, 15*time.Second, "the agent's session to end in the index", func() bool {
		r := runSluice(t, nil, "audit", "search", "--config", s.cfg.path, "--subject", "agent-7", "--json")
		var stmts []*sluice.StatementRecord
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &stmts) != nil || len(stmts) != 6 {
			return false
		}
		id = stmts[0].SessionID
		resp := s.api(t, "/api/v1/audit/sessions/"+id)
		return strings.Contains(resp, `"end_reason": "client_closed"`)
	})
	return id
}

// api GETs an admin API path as the auditor and returns the body.
func (s *replaySetup) api(t *testing.T, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.g.httpAddr+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.auditor)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// replay runs `sluice audit replay` through the gateway as the holder of
// token.
func (s *replaySetup) replay(t *testing.T, token string, args ...string) cliResult {
	t.Helper()
	env := []string{"SLUICE_TOKEN=" + token, "SLUICE_SERVER=http://" + s.g.httpAddr, "HOME=" + t.TempDir()}
	return runSluice(t, env, append([]string{"audit", "replay"}, args...)...)
}

func (s *replaySetup) replayJSON(t *testing.T, args ...string) *replay.Report {
	t.Helper()
	r := s.replay(t, s.auditor, append(args, "--json")...)
	if r.code != 0 {
		t.Fatalf("audit replay %v: exit %d\n%s\n%s", args, r.code, r.stdout, r.stderr)
	}
	var rep replay.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("replay report: %v\n%s", err, r.stdout)
	}
	return &rep
}

// TestReplayAgainstSandbox records an agent's session on one database and
// replays it on a second one whose data differs: the differences are
// reported per statement, the rollback leaves the sandbox as it was,
// --commit changes it, a connection that is not a sandbox is refused, and
// each replay is a session of the auditor in the journal.
func TestReplayAgainstSandbox(t *testing.T) {
	t.Parallel()
	s := newReplaySetup(t)
	session := s.agentSession(t)
	before := s.orders(t, s.sandbox)
	if before != "1:open 2:shipped 4:open" {
		t.Fatalf("sandbox before: %s", before)
	}

	rep := s.replayJSON(t, session, "--against", "staging")
	if rep.Replayed != 4 || rep.Skipped != 2 || rep.Differing != 2 || rep.Against != "staging" || rep.Session != session ||
		!strings.Contains(rep.Outcome, "rolled back") {
		b, _ := json.MarshalIndent(rep, "", "  ")
		t.Fatalf("report: %d replayed, %d skipped, %d differing, outcome %q\n%s", rep.Replayed, rep.Skipped, rep.Differing, rep.Outcome, b)
	}
	st := rep.Statements
	if len(st) != 6 {
		t.Fatalf("%d statements, want 6", len(st))
	}
	// 1: the sandbox's rows differ from those the agent saw.
	if d := st[0].Rows; d == nil || len(d.Changed) != 1 || *d.Changed[0].Sandbox[1] != "shipped" ||
		len(d.Missing) != 1 || *d.Missing[0][0] != "3" || len(d.Extra) != 1 || *d.Extra[0][0] != "4" {
		t.Fatalf("select: %+v %+v", st[0].Differences, st[0].Rows)
	}
	// 2: the update touches one row there, two here.
	if st[1].Original.Tag != "UPDATE 2" || st[1].Sandbox.Tag != "UPDATE 1" || len(st[1].Differences) != 1 ||
		!strings.Contains(st[1].Differences[0], "rows: 2 originally, 1 on the sandbox") {
		t.Fatalf("update: %+v %+v %v", st[1].Original, st[1].Sandbox, st[1].Differences)
	}
	// 3, 4: denied and failed statements are not replayed, with the reason.
	if !strings.Contains(st[2].Skipped, "denied: no destructive changes") || !strings.Contains(st[3].Skipped, "failed originally: 42P01") {
		t.Fatalf("skips: %q, %q", st[2].Skipped, st[3].Skipped)
	}
	// 5: the binary count compares equal (the replay asks for binary too).
	if len(st[4].Differences) != 0 || st[4].Sandbox.Tag != "SELECT 1" || st[4].Rows == nil || st[4].Rows.Compared != 1 {
		t.Fatalf("count: %+v %+v", st[4].Differences, st[4].Rows)
	}
	if len(st[5].Differences) != 0 || st[5].Sandbox.Tag != "INSERT 0 1" {
		t.Fatalf("insert: %+v %+v", st[5].Differences, st[5].Sandbox)
	}
	if after := s.orders(t, s.sandbox); after != before {
		t.Fatalf("the rolled back replay changed the sandbox: %s, was %s", after, before)
	}

	// The readable report says the same.
	r := s.replay(t, s.auditor, session, "--against", "staging")
	for _, want := range []string{"4 statements replayed, 2 skipped, 2 with differences", "DIFFERS: rows: 2 originally, 1 on the sandbox",
		"~ ('2', 'open') -> ('2', 'shipped')", "- ('3', 'open')", "+ ('4', 'open')", "not replayed: denied: no destructive changes"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("report lacks %q:\n%s", want, r.stdout)
		}
	}

	// --commit keeps the changes.
	rep = s.replayJSON(t, session, "--against", "staging", "--commit")
	if !strings.HasPrefix(rep.Outcome, "committed") {
		t.Fatalf("commit outcome %q", rep.Outcome)
	}
	if after := s.orders(t, s.sandbox); after != "1:shipped 2:shipped 4:open 10:new" {
		t.Fatalf("sandbox after the committed replay: %s", after)
	}

	// Production is not a sandbox; an agent is not an auditor.
	if r := s.replay(t, s.auditor, session, "--against", "app"); r.code != 2 || !strings.Contains(r.stderr, `connection "app" is not a sandbox`) {
		t.Fatalf("replay against app: exit %d\n%s", r.code, r.stderr)
	}
	if r := s.replay(t, s.agent, session, "--against", "staging"); r.code != 3 || !strings.Contains(r.stderr, "may not read the audit trail") {
		t.Fatalf("replay by the agent: exit %d\n%s", r.code, r.stderr)
	}
	if r := s.replay(t, s.auditor, "no-such-session", "--against", "staging"); r.code != 2 || !strings.Contains(r.stderr, "not in the audit index") {
		t.Fatalf("replay of an unknown session: exit %d\n%s", r.code, r.stderr)
	}
	if got := s.orders(t, s.prod); got != "1:shipped 2:shipped 3:open 10:new" {
		t.Fatalf("production changed by replays: %s", got)
	}

	// The journal holds both replays as sessions of the auditor on the
	// sandbox, with every statement sent there.
	s.g.stopClean()
	type replaySession struct{ texts []string }
	replays := map[string]*replaySession{}
	var order []string
	err := scanJournal(s.cfg.dataDir, func(rec *journal.Record) error {
		ev := rec.Event
		switch {
		case ev.Type == sluice.EventSessionStart && ev.Protocol == sluice.ProtoReplay:
			if ev.Identity.Subject != "olga" || ev.Connection != "staging" {
				t.Errorf("replay session of %s on %s", ev.Identity.Subject, ev.Connection)
			}
			replays[ev.Session] = &replaySession{}
			order = append(order, ev.Session)
		case ev.Type == sluice.EventRequest && replays[ev.Session] != nil:
			if !strings.Contains(ev.Request.Note, "replay of session "+session) {
				t.Errorf("replayed request without its origin: %+v", ev.Request)
			}
			replays[ev.Session].texts = append(replays[ev.Session].texts, ev.Request.Text)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(order) != 3 {
		t.Fatalf("%d replay sessions in the journal, want 3", len(order))
	}
	first, last := replays[order[0]].texts, replays[order[2]].texts
	if first[0] != "BEGIN" || first[len(first)-1] != "ROLLBACK" || last[len(last)-1] != "COMMIT" ||
		!slices.Contains(first, "update orders set status = 'shipped' where status = 'open' and id <= $1") ||
		slices.Contains(first, "delete from orders") {
		t.Fatalf("replay requests: %q ... %q", first, last)
	}
}
