package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
	mcpsrv "github.com/sluicehq/sluice/internal/listener/mcp"
)

// The protocol versions the MCP endpoint is tested with: the two that
// Claude Code speaks today (initialize handshake, sessions), the newest
// with sessions, and the SDK's newest (stateless, "" picks it).
var mcpVersions = []string{"2025-03-26", "2025-06-18", "2025-11-25", ""}

// mcpSetup is a gateway with connection "app" (customers and orders) for
// group ai-agents: reads allowed, writes allowed, destructive statements
// held for group dba, privileged ones denied; and connection "secret",
// granted to nobody.
type mcpSetup struct {
	cfg                  *sluiceConfig
	g                    *gateway
	agent, alice, intern string // tokens
	agentSub, internSub  string
}

func newMCPSetup(t *testing.T, edit ...func(*fileConfig)) *mcpSetup {
	t.Helper()
	pg, db := newDatabase(t)
	role := pg.SCRAMUser()
	cfg := newConfig(t,
		[]connSpec{
			{Name: "app", Address: pg.Addr(), Database: db, User: role.Name, Password: role.Password},
			{Name: "secret", Address: pg.Addr(), Database: db, User: role.Name, Password: role.Password},
		},
		[]policySpec{{Name: "agents", Subjects: []string{"group:ai-agents"}, Connections: []string{"app"}, Rules: []ruleSpec{
			{When: "privileged || unknown", Action: "deny", Message: "not through an agent"},
			{When: "read", Action: "allow"},
			{When: "destructive || where_missing", Action: "review", Approvers: []string{"group:dba"}, Wait: "60s"},
			{When: "write || ddl", Action: "allow"},
		}}}, edit...)
	s := &mcpSetup{cfg: cfg, g: startGateway(t, cfg), agentSub: "agent-7", internSub: "intern-1"}
	s.agent = cfg.issue(s.agentSub, "ai-agents")
	s.alice = cfg.issue("alice", "dba")
	s.intern = cfg.issue(s.internSub, "interns")
	c, err := pg.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	_, err = c.Exec(t.Context(), `create table customers(id int primary key, name text not null, email text);
		insert into customers values (1, 'Ada', 'ada@example.com'), (2, 'Grace', 'grace@example.com'), (3, 'Edsger', null);
		create table orders(id serial primary key, customer int references customers, total numeric(10,2) default 0);
		grant all on all tables in schema public to public; grant all on all sequences in schema public to public`)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bearerTransport adds a bearer token to every request.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.token != "" {
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// mcpURL is the gateway's MCP endpoint.
func (g *gateway) mcpURL() string { return "http://" + g.httpAddr + "/mcp" }

// mcpClient connects an MCP client with token at protocol version (""
// for the SDK's newest); a cleanup closes it.
func mcpClient(t *testing.T, g *gateway, token, version string, opts *mcp.ClientOptions) (*mcp.ClientSession, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	transport := &mcp.StreamableClientTransport{Endpoint: g.mcpURL(), HTTPClient: &http.Client{Transport: bearerTransport{token}}, MaxRetries: -1}
	client := mcp.NewClient(&mcp.Implementation{Name: "sluice-e2e", Version: "1"}, opts)
	cs, err := client.Connect(ctx, transport, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { cs.Close() })
	return cs, nil
}

func mustMCPClient(t *testing.T, g *gateway, token, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	cs, err := mcpClient(t, g, token, version, opts)
	if err != nil {
		t.Fatalf("MCP client (protocol %q): %v", version, err)
	}
	return cs
}

// call calls a tool and fails the test on a protocol error; tool errors
// are results.
func call(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliDeadline)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s %v: %v", name, args, err)
	}
	return res
}

// textOf returns a result's text content.
func textOf(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// decode decodes a result's structured content, failing on a tool error.
func decode[T any](t *testing.T, res *mcp.CallToolResult) T {
	t.Helper()
	var out T
	if res.IsError {
		t.Fatalf("tool error: %s", textOf(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	return out
}

// toolError returns the text of a tool error, failing when the call did
// not fail.
func toolError(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if !res.IsError {
		t.Fatalf("want a tool error, got %s", textOf(res))
	}
	return textOf(res)
}

// rowsOf renders rows as "a|b" lines, NULL as "NULL".
func rowsOf(rows [][]*string) []string {
	var out []string
	for _, r := range rows {
		vals := make([]string, len(r))
		for i, v := range r {
			if v == nil {
				vals[i] = "NULL"
			} else {
				vals[i] = *v
			}
		}
		out = append(out, strings.Join(vals, "|"))
	}
	return out
}

// mcpRecords is what the journal holds about MCP sessions.
type mcpRecords struct {
	starts   map[string]*sluice.Event // session start by session id
	ends     map[string]string        // end reason by session id
	requests []*sluice.Event          // requests of MCP sessions
	results  map[string]*sluice.Event // results by request id
	failures []*sluice.Event          // auth failures at the MCP front door
	calls    []*sluice.Event          // requests sluice answered itself, outside sessions
}

// mcpJournal reads the journal of dataDir.
func mcpJournal(t *testing.T, dataDir string) *mcpRecords {
	t.Helper()
	j := &mcpRecords{starts: map[string]*sluice.Event{}, ends: map[string]string{}, results: map[string]*sluice.Event{}}
	err := scanJournal(dataDir, func(rec *journal.Record) error {
		ev := &rec.Event
		switch ev.Type {
		case sluice.EventSessionStart:
			if ev.Protocol == sluice.ProtoMCP {
				j.starts[ev.Session] = ev
			}
		case sluice.EventSessionEnd:
			j.ends[ev.Session] = ev.Reason
		case sluice.EventRequest:
			if j.starts[ev.Session] != nil {
				j.requests = append(j.requests, ev)
			}
			if ev.Session == "" && ev.Request.Kind == sluice.KindTool {
				j.calls = append(j.calls, ev)
			}
		case sluice.EventResult:
			if j.starts[ev.Session] != nil || ev.Session == "" && ev.Request.Kind == sluice.KindTool {
				j.results[ev.Request.ID] = ev
			}
		case sluice.EventAuthFailure:
			if ev.Protocol == sluice.ProtoMCP {
				j.failures = append(j.failures, ev)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// request returns the journal's request with text, or nil.
func (j *mcpRecords) request(text string) *sluice.Event {
	for _, ev := range j.requests {
		if ev.Request.Text == text {
			return ev
		}
	}
	return nil
}

// waitSessionsEnded waits until every MCP session of subject in the
// journal has ended, and returns the journal.
func waitSessionsEnded(t *testing.T, dataDir, subject string, n int) *mcpRecords {
	t.Helper()
	var j *mcpRecords
	waitUntil(t, 20*time.Second, "the MCP sessions to be recorded as ended", func() bool {
		j = mcpJournal(t, dataDir)
		started, ended := 0, 0
		for id, ev := range j.starts {
			if ev.Identity.Subject == subject {
				started++
				if _, ok := j.ends[id]; ok {
					ended++
				}
			}
		}
		return started >= n && ended == started
	})
	return j
}

// TestMCPListDescribeQuery drives every tool with the SDK's client, in
// every protocol version, and checks what the journal holds of each call.
func TestMCPListDescribeQuery(t *testing.T) {
	t.Parallel()
	s := newMCPSetup(t)
	for _, version := range mcpVersions {
		name := version
		if name == "" {
			name = "newest"
		}
		t.Run(name, func(t *testing.T) {
			before := mcpJournal(t, s.cfg.dataDir)
			earlier := before.starts // sessions of the subtests before
			cs := mustMCPClient(t, s.g, s.agent, version, nil)
			got := cs.InitializeResult().ProtocolVersion
			if want := version; (want != "" && got != want) || (want == "" && got != "2026-07-28") {
				t.Fatalf("negotiated protocol %q, want %q", got, version)
			}
			var tools []string
			for tool, err := range cs.Tools(t.Context(), nil) {
				if err != nil {
					t.Fatal(err)
				}
				tools = append(tools, tool.Name)
			}
			slices.Sort(tools)
			if want := []string{"describe", "list_connections", "query", "review_status"}; !slices.Equal(tools, want) {
				t.Fatalf("tools %v, want %v", tools, want)
			}

			// list_connections: only app, with what its rules do.
			list := decode[mcpsrv.ConnectionsOutput](t, call(t, cs, "list_connections", nil))
			if list.Subject != s.agentSub || len(list.Connections) != 1 {
				t.Fatalf("list_connections: %+v", list)
			}
			app := list.Connections[0]
			want := mcpsrv.Access{Read: "allow", Write: "allow", DDL: "allow", Destructive: "review by group:dba (1 approval(s))",
				Privileged: "deny: not through an agent"}
			if app.Name != "app" || app.Type != "postgres" || app.Policy != "agents" || app.ReadOnly || app.Access != want {
				t.Fatalf("list_connections: %+v, want access %+v", app, want)
			}

			// describe: the tables with their columns, then one table.
			tables := decode[mcpsrv.ResultOutput](t, call(t, cs, "describe", map[string]any{"connection": "app"}))
			if got := rowsOf(tables.Rows); !slices.Equal(got, []string{
				"public|customers|table|id integer, name text, email text",
				"public|orders|table|id integer, customer integer, total numeric(10,2)",
			}) {
				t.Fatalf("describe app: %q", got)
			}
			cols := decode[mcpsrv.ResultOutput](t, call(t, cs, "describe", map[string]any{"connection": "app", "table": "orders"}))
			if got := rowsOf(cols.Rows); !slices.Equal(got, []string{
				"public|orders|id|integer|false|nextval('orders_id_seq'::regclass)|true",
				"public|orders|customer|integer|true|NULL|false",
				"public|orders|total|numeric(10,2)|true|0|false",
			}) {
				t.Fatalf("describe orders: %q", got)
			}
			if msg := toolError(t, call(t, cs, "describe", map[string]any{"connection": "app", "table": "nope"})); !strings.Contains(msg, `no table or view "nope"`) {
				t.Fatalf("describe of a missing table: %s", msg)
			}

			// query: rows as a table and as structured content, capped.
			sel := "select id, name, email from customers order by id"
			res := call(t, cs, "query", map[string]any{"connection": "app", "sql": sel, "max_rows": 2})
			out := decode[mcpsrv.ResultOutput](t, res)
			if out.Status != "ok" || out.Tag != "SELECT 3" || out.RowCount != 3 || !out.Truncated || len(out.Columns) != 3 ||
				out.Columns[0] != (mcpsrv.ColumnInfo{Name: "id", Type: "int4"}) || out.Columns[2].Type != "text" {
				t.Fatalf("query: %+v", out)
			}
			if got := rowsOf(out.Rows); !slices.Equal(got, []string{"1|Ada|ada@example.com", "2|Grace|grace@example.com"}) {
				t.Fatalf("query rows %q", got)
			}
			if text := textOf(res); !strings.Contains(text, "Grace | grace@example.com") || !strings.Contains(text, "(2 of 3 rows shown") {
				t.Fatalf("query text:\n%s", text)
			}
			all := decode[mcpsrv.ResultOutput](t, call(t, cs, "query", map[string]any{"connection": "app", "sql": sel}))
			if got := rowsOf(all.Rows); len(got) != 3 || got[2] != "3|Edsger|NULL" || all.Truncated {
				t.Fatalf("query without max_rows: %q truncated=%v", got, all.Truncated)
			}
			ins := decode[mcpsrv.ResultOutput](t, call(t, cs, "query", map[string]any{"connection": "app",
				"sql": "insert into orders(customer, total) values (1, 9.5)"}))
			if ins.Tag != "INSERT 0 1" || len(ins.Columns) != 0 {
				t.Fatalf("insert: %+v", ins)
			}
			if msg := toolError(t, call(t, cs, "query", map[string]any{"connection": "app", "sql": "select * from missing"})); !strings.Contains(msg, "ERROR 42P01") {
				t.Fatalf("error from the database: %s", msg)
			}
			msg := toolError(t, call(t, cs, "query", map[string]any{"connection": "app", "sql": "copy customers to program 'cat'"}))
			if !strings.Contains(msg, "not through an agent") || !strings.Contains(msg, "PROGRAM") {
				t.Fatalf("denied statement: %s", msg)
			}
			if msg := toolError(t, call(t, cs, "query", map[string]any{"connection": "nope", "sql": "select 1"})); !strings.Contains(msg, `connection "nope" does not exist`) {
				t.Fatalf("unknown connection: %s", msg)
			}
			if err := cs.Close(); err != nil {
				t.Fatal(err)
			}

			// The journal: every statement with the agent's identity, in MCP
			// sessions; one session for all calls when the protocol has
			// sessions (ended by the client), one per call when not.
			sessions := map[string]bool{}
			var j *mcpRecords
			waitUntil(t, 20*time.Second, "the calls' sessions to end in the journal", func() bool {
				j = mcpJournal(t, s.cfg.dataDir)
				clear(sessions)
				ended := true
				for _, text := range []string{sel, "select * from missing", "copy customers to program 'cat'"} {
					for _, ev := range j.requests {
						if ev.Request.Text == text && earlier[ev.Session] == nil {
							sessions[ev.Session] = true
							_, ok := j.ends[ev.Session]
							ended = ended && ok
						}
					}
				}
				return len(sessions) > 0 && ended
			})
			for id := range sessions {
				start := j.starts[id]
				if start.Connection != "app" || start.Identity.Groups[0] != "ai-agents" || start.Identity.Method != sluice.AuthServiceToken {
					t.Fatalf("session start %+v", start)
				}
				if reason := j.ends[id]; reason != sluice.EndClient {
					t.Fatalf("session %s ended with %q, want %q", id, reason, sluice.EndClient)
				}
			}
			if stateful := version != ""; stateful && len(sessions) != 1 {
				t.Fatalf("%d gate sessions for one MCP session", len(sessions))
			}
			for _, ev := range j.requests {
				if !sessions[ev.Session] {
					continue
				}
				if ev.Request.Subject != s.agentSub || ev.Request.Connection != "app" || ev.Request.Kind != sluice.KindSQL {
					t.Fatalf("request record %+v", ev.Request)
				}
			}
			if ev := j.request("copy customers to program 'cat'"); ev == nil || ev.Decision.Action != sluice.ActionDeny {
				t.Fatalf("denied statement's record: %+v", ev)
			}
			describes := 0
			for _, ev := range j.requests {
				if sessions[ev.Session] && strings.HasPrefix(ev.Request.Text, "SELECT n.nspname AS schema") {
					describes++
					if ev.Request.Class != sluice.ClassRead || ev.Decision.Action != sluice.ActionAllow {
						t.Fatalf("describe recorded as %v %s", ev.Request.Class, ev.Decision.Action)
					}
				}
			}
			if stateful := version != ""; stateful && describes != 3 {
				t.Fatalf("%d describe requests in the session's journal, want 3", describes)
			}
			// The result records what the agent saw: the two rows it got.
			var capRows []string
			for _, ev := range j.requests {
				if sessions[ev.Session] && ev.Request.Text == sel {
					if res := j.results[ev.Request.ID]; res != nil && res.Result.Capture != nil && res.Result.Capture.Truncated {
						capRows = rowsOf(res.Result.Capture.Rows)
					}
				}
			}
			if !slices.Equal(capRows, []string{"1|Ada|ada@example.com", "2|Grace|grace@example.com"}) {
				t.Fatalf("captured rows of the capped query: %q", capRows)
			}
			// list_connections, which sluice answers itself, is journaled
			// too: who asked, and what it was told.
			calls := j.calls[len(before.calls):]
			if len(calls) != 1 {
				t.Fatalf("%d calls answered by sluice in the journal, want list_connections once", len(calls))
			}
			ask, answer := calls[0], j.results[calls[0].Request.ID]
			if r := ask.Request; r.Text != "list_connections {}" || r.Subject != s.agentSub || ask.Decision.Action != sluice.ActionAllow {
				t.Fatalf("list_connections record %+v %+v", r, ask.Decision)
			}
			if answer == nil || answer.Seq < ask.Seq || answer.Result.Status != sluice.StatusOK || answer.Result.Rows != 1 ||
				answer.Result.Capture == nil || !slices.Equal(rowsOf(answer.Result.Capture.Rows), []string{"app|postgres|agents|false"}) {
				t.Fatalf("list_connections answer record %+v", answer)
			}
		})
	}
}

// TestMCPTransactionSpansCalls checks that the calls of one MCP session
// share a database session: a transaction begun in one call is visible in
// the next, and a rollback undoes it.
func TestMCPTransactionSpansCalls(t *testing.T) {
	t.Parallel()
	s := newMCPSetup(t)
	cs := mustMCPClient(t, s.g, s.agent, "2025-06-18", nil)
	for _, sql := range []string{"begin", "update customers set name = 'Ada L.' where id = 1"} {
		call(t, cs, "query", map[string]any{"connection": "app", "sql": sql})
	}
	in := decode[mcpsrv.ResultOutput](t, call(t, cs, "query", map[string]any{"connection": "app", "sql": "select name from customers where id = 1"}))
	call(t, cs, "query", map[string]any{"connection": "app", "sql": "rollback"})
	after := decode[mcpsrv.ResultOutput](t, call(t, cs, "query", map[string]any{"connection": "app", "sql": "select name from customers where id = 1"}))
	if a, b := rowsOf(in.Rows), rowsOf(after.Rows); len(a) != 1 || a[0] != "Ada L." || len(b) != 1 || b[0] != "Ada" {
		t.Fatalf("inside the transaction %q, after rollback %q", a, b)
	}
}

// TestMCPReviewApprovedWhileWaiting holds a DELETE without WHERE: the call
// reports its wait as progress notifications naming the review, an
// approver approves it with the CLI, and the waiting call returns the
// statement's result.
func TestMCPReviewApprovedWhileWaiting(t *testing.T) {
	t.Parallel()
	s := newMCPSetup(t, func(fc *fileConfig) { fc.MCP.ReviewWait = "60s" })
	progress := make(chan string, 16)
	cs := mustMCPClient(t, s.g, s.agent, "2025-06-18", &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			if req.Params.ProgressToken == "delete-1" {
				select {
				case progress <- req.Params.Message:
				default:
				}
			}
		}})
	done := make(chan *mcp.CallToolResult, 1)
	go func() {
		params := &mcp.CallToolParams{Name: "query", Arguments: map[string]any{"connection": "app", "sql": "DELETE FROM customers"}}
		params.SetProgressToken("delete-1")
		res, err := cs.CallTool(context.Background(), params)
		if err != nil {
			t.Errorf("held call: %v", err)
		}
		done <- res
	}()
	var msg string
	select {
	case msg = <-progress:
	case <-time.After(30 * time.Second):
		t.Fatal("no progress notification while the call is held")
	}
	m := regexp.MustCompile(`held for review (rv_[a-z0-9]+): waiting up to .* for approval by group:dba`).FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("progress message %q", msg)
	}
	id := m[1]
	select {
	case res := <-done:
		t.Fatalf("the call returned before the approval: %s", textOf(res))
	default:
	}
	r := runSluice(t, []string{"SLUICE_TOKEN=" + s.alice, "SLUICE_SERVER=http://" + s.g.httpAddr, "HOME=" + t.TempDir()},
		"reviews", "approve", id, "--reason", "clean test orders")
	if r.code != 0 || !strings.Contains(r.stdout, "approved") {
		t.Fatalf("approve: %d %s %s", r.code, r.stdout, r.stderr)
	}
	var res *mcp.CallToolResult
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the call still waits after the approval")
	}
	out := decode[mcpsrv.ResultOutput](t, res)
	if out.Status != "ok" || out.Tag != "DELETE 3" {
		t.Fatalf("approved call: %+v", out)
	}
	left := decode[mcpsrv.ResultOutput](t, call(t, cs, "query", map[string]any{"connection": "app", "sql": "select count(*) from customers"}))
	if got := rowsOf(left.Rows); !slices.Equal(got, []string{"0"}) {
		t.Fatalf("rows left after the approved delete: %q", got)
	}
	cs.Close()
	j := waitSessionsEnded(t, s.cfg.dataDir, s.agentSub, 1)
	ev := j.request("DELETE FROM customers")
	if ev == nil || ev.Decision.Action != sluice.ActionReview || ev.Decision.ReviewID != id || j.results[ev.Request.ID] == nil ||
		j.results[ev.Request.ID].Result.Tag != "DELETE 3" {
		t.Fatalf("journal of the held statement: %+v", ev)
	}
}

// TestMCPReviewPendingThenApproved lets the short MCP wait end: the call
// returns a pending result naming the review; review_status follows it;
// after the approval the same query runs once, and a second run opens a
// new review.
func TestMCPReviewPendingThenApproved(t *testing.T) {
	t.Parallel()
	s := newMCPSetup(t, func(fc *fileConfig) { fc.MCP.ReviewWait = "1s" })
	cs := mustMCPClient(t, s.g, s.agent, "", nil)
	del := map[string]any{"connection": "app", "sql": "delete from customers where true"}
	res := call(t, cs, "query", del)
	pending := decode[mcpsrv.ResultOutput](t, res)
	rv := pending.Review
	if pending.Status != "pending_review" || rv == nil || !strings.HasPrefix(rv.ID, "rv_") || rv.Status != "pending" ||
		!slices.Equal(rv.Approvers, []string{"group:dba"}) || rv.MinApprovals != 1 || rv.Requester != s.agentSub ||
		rv.Statement != "delete from customers where true" {
		t.Fatalf("pending result: %+v %+v", pending, rv)
	}
	for _, want := range []string{"review_status", "sluice reviews show " + rv.ID, "sluice reviews approve " + rv.ID} {
		if !strings.Contains(pending.Next, want) || !strings.Contains(textOf(res), want) {
			t.Fatalf("pending result does not say %q:\n%s\n%s", want, pending.Next, textOf(res))
		}
	}
	status := decode[mcpsrv.ReviewStatusOutput](t, call(t, cs, "review_status", map[string]any{"review_id": rv.ID}))
	if status.Review.Status != "pending" || !strings.Contains(status.Next, "Waiting for 1 more approval(s) from group:dba") {
		t.Fatalf("review_status while pending: %+v", status)
	}
	// Someone who is neither requester, approver nor auditor sees nothing.
	other := mustMCPClient(t, s.g, s.intern, "", nil)
	if msg := toolError(t, call(t, other, "review_status", map[string]any{"review_id": rv.ID})); !strings.Contains(msg, "no review") {
		t.Fatalf("review_status of a stranger: %s", msg)
	}
	r := runSluice(t, []string{"SLUICE_TOKEN=" + s.alice, "SLUICE_SERVER=http://" + s.g.httpAddr, "HOME=" + t.TempDir()},
		"reviews", "approve", rv.ID, "--reason", "fine")
	if r.code != 0 {
		t.Fatalf("approve: %d %s", r.code, r.stderr)
	}
	status = decode[mcpsrv.ReviewStatusOutput](t, call(t, cs, "review_status", map[string]any{"review_id": rv.ID}))
	if status.Review.Status != "approved" || len(status.Review.Votes) != 1 || status.Review.Votes[0].By != "alice" ||
		!strings.Contains(status.Next, "Call query again with exactly the same SQL") {
		t.Fatalf("review_status after approval: %+v", status)
	}
	ran := decode[mcpsrv.ResultOutput](t, call(t, cs, "query", del))
	if ran.Status != "ok" || ran.Tag != "DELETE 3" {
		t.Fatalf("query after approval: %+v", ran)
	}
	status = decode[mcpsrv.ReviewStatusOutput](t, call(t, cs, "review_status", map[string]any{"review_id": rv.ID}))
	if status.Review.Status != "executed" {
		t.Fatalf("review after its run: %+v", status.Review)
	}
	again := decode[mcpsrv.ResultOutput](t, call(t, cs, "query", del))
	if again.Status != "pending_review" || again.Review == nil || again.Review.ID == rv.ID {
		t.Fatalf("second run must open a new review: %+v", again)
	}

	// Every review_status call is in the journal with what it answered,
	// the stranger's refused one included.
	j := mcpJournal(t, s.cfg.dataDir)
	var story []string
	for _, ask := range j.calls {
		answer := j.results[ask.Request.ID]
		if answer == nil || ask.Request.Text != `review_status {"review_id":"`+rv.ID+`"}` {
			t.Fatalf("call record %+v, answer %+v", ask.Request, answer)
		}
		who := "agent"
		if ask.Request.Subject != s.agentSub {
			who = ask.Request.Subject
		}
		told := answer.Result.Error
		if answer.Result.Status == sluice.StatusOK {
			told = rowsOf(answer.Result.Capture.Rows)[0]
		}
		story = append(story, who+": "+told)
	}
	want := []string{
		"agent: " + rv.ID + "|pending|0|1",
		s.internSub + `: no review "` + rv.ID + `" that you may see; review ids look like rv_... and come from a pending query result`,
		"agent: " + rv.ID + "|approved|1|1",
		"agent: " + rv.ID + "|executed|1|1",
	}
	if !slices.Equal(story, want) {
		t.Fatalf("review_status calls in the journal:\n got %q\nwant %q", story, want)
	}
}

// TestMCPAuth checks the MCP authorization flow: 401 with the protected
// resource metadata's link, the metadata itself, invalid tokens, and the
// Origin check.
func TestMCPAuth(t *testing.T) {
	t.Parallel()
	s := newMCPSetup(t, func(fc *fileConfig) { fc.MCP.AllowedOrigins = []string{"https://console.example.com"} })
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`
	post := func(token, origin string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, s.g.mcpURL(), strings.NewReader(initialize))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	metadataURL := "http://" + s.g.httpAddr + "/.well-known/oauth-protected-resource/mcp"

	resp, _ := post("", "")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Bearer resource_metadata="`+metadataURL+`"` {
		t.Fatalf("no token: %s, WWW-Authenticate %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
	resp, body := post("sluice_st_not-a-real-token", "")
	if want := `Bearer resource_metadata="` + metadataURL + `", error="invalid_token", error_description="`; resp.StatusCode != http.StatusUnauthorized ||
		!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), want) || !strings.Contains(body, "invalid_token") {
		t.Fatalf("bad token: %s, WWW-Authenticate %q, body %s", resp.Status, resp.Header.Get("WWW-Authenticate"), body)
	}
	resp, body = post(s.agent, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"protocolVersion":"2025-06-18"`) {
		t.Fatalf("good token: %s %s", resp.Status, body)
	}

	// The metadata, at the link and at the root well-known path.
	for _, u := range []string{metadataURL, "http://" + s.g.httpAddr + "/.well-known/oauth-protected-resource"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		var md struct {
			Resource             string   `json:"resource"`
			BearerMethods        []string `json:"bearer_methods_supported"`
			AuthorizationServers []string `json:"authorization_servers"`
			ResourceName         string   `json:"resource_name"`
		}
		err = json.NewDecoder(resp.Body).Decode(&md)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || md.Resource != s.g.mcpURL() || !slices.Equal(md.BearerMethods, []string{"header"}) ||
			len(md.AuthorizationServers) != 0 || md.ResourceName != "sluice" {
			t.Fatalf("metadata at %s: %s %+v %v", u, resp.Status, md, err)
		}
	}

	// Browsers only from allowed origins; other clients send no Origin.
	if resp, _ := post(s.agent, "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %s", resp.Status)
	}
	resp, _ = post(s.agent, "https://console.example.com")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "https://console.example.com" {
		t.Fatalf("allowed origin: %s %q", resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
	}

	// The SDK client with a bad token cannot connect.
	if _, err := mcpClient(t, s.g, "sluice_st_not-a-real-token", "2025-06-18", nil); err == nil {
		t.Fatal("connected with a bad token")
	}
	j := mcpJournal(t, s.cfg.dataDir)
	if len(j.failures) < 2 || j.failures[0].Reason != "token is not valid" || j.failures[0].Identity != nil {
		t.Fatalf("auth failures in the journal: %d %+v", len(j.failures), j.failures)
	}
	if s.g.stopClean(); strings.Contains(s.g.logs(), "sluice_st_not-a-real-token") || strings.Contains(s.g.logs(), s.agent) {
		t.Fatal("a token appears in the gateway's log")
	}
}

// TestMCPNoGrant checks a subject that no policy grants anything.
func TestMCPNoGrant(t *testing.T) {
	t.Parallel()
	s := newMCPSetup(t)
	cs := mustMCPClient(t, s.g, s.intern, "2025-06-18", nil)
	res := call(t, cs, "list_connections", nil)
	if list := decode[mcpsrv.ConnectionsOutput](t, res); len(list.Connections) != 0 || !strings.Contains(textOf(res), "may use no connection") {
		t.Fatalf("list_connections without a grant: %+v %s", list, textOf(res))
	}
	for tool, args := range map[string]map[string]any{
		"query":    {"connection": "app", "sql": "select 1"},
		"describe": {"connection": "app"},
	} {
		msg := toolError(t, call(t, cs, tool, args))
		if !strings.Contains(msg, `"intern-1" has no grant for connection "app"`) {
			t.Fatalf("%s without a grant: %s", tool, msg)
		}
	}
	msg := toolError(t, call(t, cs, "query", map[string]any{"connection": "secret", "sql": "select 1"}))
	if !strings.Contains(msg, `has no grant for connection "secret"`) {
		t.Fatalf("query of an ungranted connection: %s", msg)
	}
	j := mcpJournal(t, s.cfg.dataDir)
	if len(j.starts) != 0 || len(j.failures) < 3 || j.failures[0].Reason != "no grant" || j.failures[0].Identity.Subject != s.internSub {
		t.Fatalf("journal: %d sessions, failures %+v", len(j.starts), j.failures)
	}
}

// TestMCPSessionIdleAndShutdown checks that an idle MCP session's gate
// session ends as idle_timeout, and that stopping the gateway ends open
// ones (with their standalone SSE streams) as gateway_shutdown, promptly.
func TestMCPSessionIdleAndShutdown(t *testing.T) {
	t.Parallel()
	s := newMCPSetup(t, func(fc *fileConfig) { fc.MCP.SessionIdle = "2s" })
	idle := mustMCPClient(t, s.g, s.agent, "2025-06-18", nil)
	call(t, idle, "query", map[string]any{"connection": "app", "sql": "select 1"})
	j := waitSessionsEnded(t, s.cfg.dataDir, s.agentSub, 1)
	for id := range j.starts {
		if j.ends[id] != "idle_timeout" {
			t.Fatalf("idle session ended as %q", j.ends[id])
		}
	}
	bob := s.cfg.issue("bob", "ai-agents")
	open := mustMCPClient(t, s.g, bob, "2025-06-18", nil)
	call(t, open, "query", map[string]any{"connection": "app", "sql": "select 2"})
	s.g.stopClean()
	j = mcpJournal(t, s.cfg.dataDir)
	n := 0
	for id, ev := range j.starts {
		if ev.Identity.Subject == "bob" {
			n++
			if j.ends[id] != sluice.EndShutdown {
				t.Fatalf("open session at shutdown ended as %q", j.ends[id])
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d sessions of bob", n)
	}
}

// TestMCPStdioBridge spawns `sluice mcp` as a stdio MCP server and drives
// it with the SDK's command transport: tools, results, pending reviews and
// tool errors pass through; the bridge's calls share a gate session, and
// when the gateway ends that session for being idle, the next call opens a
// new one.
func TestMCPStdioBridge(t *testing.T) {
	t.Parallel()
	s := newMCPSetup(t, func(fc *fileConfig) { fc.MCP.ReviewWait = "1s"; fc.MCP.SessionIdle = "3s" })
	cmd := exec.Command(sluiceBin, "mcp", "--server", "http://"+s.g.httpAddr)
	cmd.Env = []string{"SLUICE_TOKEN=" + s.agent, "HOME=" + t.TempDir()}
	stderr := newOutBuffer()
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "sluice-e2e-stdio", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), cliDeadline)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to sluice mcp: %v\nstderr: %s", err, stderr)
	}
	defer cs.Close()
	n := 0
	for _, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 4 {
		t.Fatalf("the bridge offers %d tools, want 4", n)
	}
	sel := map[string]any{"connection": "app", "sql": "select name from customers where id = 2"}
	out := decode[mcpsrv.ResultOutput](t, call(t, cs, "query", sel))
	if got := rowsOf(out.Rows); !slices.Equal(got, []string{"Grace"}) {
		t.Fatalf("query through the bridge: %q", got)
	}
	pending := decode[mcpsrv.ResultOutput](t, call(t, cs, "query", map[string]any{"connection": "app", "sql": "delete from orders"}))
	if pending.Status != "pending_review" || pending.Review == nil {
		t.Fatalf("held statement through the bridge: %+v", pending)
	}
	if msg := toolError(t, call(t, cs, "query", map[string]any{"connection": "secret", "sql": "select 1"})); !strings.Contains(msg, "has no grant") {
		t.Fatalf("tool error through the bridge: %s", msg)
	}

	// The gateway ends the idle session; the bridge carries on in a new one.
	waitSessionsEnded(t, s.cfg.dataDir, s.agentSub, 1)
	out = decode[mcpsrv.ResultOutput](t, call(t, cs, "query", sel))
	if got := rowsOf(out.Rows); !slices.Equal(got, []string{"Grace"}) {
		t.Fatalf("query after the gateway ended the idle session: %q", got)
	}
	if err := cs.Close(); err != nil {
		t.Fatalf("close: %v\nstderr: %s", err, stderr)
	}
	j := waitSessionsEnded(t, s.cfg.dataDir, s.agentSub, 2)
	reasons := map[string]int{}
	var last *sluice.Event
	for id, ev := range j.starts {
		if ev.Identity.Subject != s.agentSub {
			t.Fatalf("bridge session of %+v", ev.Identity)
		}
		reasons[j.ends[id]]++
		if last == nil || ev.Seq > last.Seq {
			last = ev
		}
	}
	if reasons["idle_timeout"] < 1 || j.ends[last.Session] != sluice.EndClient {
		t.Fatalf("bridge sessions ended %v; the last as %q, want client_closed", reasons, j.ends[last.Session])
	}
	if ev := j.request("select name from customers where id = 2"); ev == nil || ev.Request.Subject != s.agentSub {
		t.Fatalf("the bridge's query is not in the journal with the agent's identity: %+v", ev)
	}
}

// gatewayFingerprint is the TLS fingerprint serve printed.
func (g *gateway) fingerprint(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*tls:\s+(SHA256:[0-9A-F:]+)$`).FindStringSubmatch(g.stdout.String())
	if m == nil {
		t.Fatalf("serve printed no tls fingerprint:\n%s", g.stdout.String())
	}
	return m[1]
}

// TestConnectPsql runs `sluice connect` and uses its endpoint with a plain
// postgres:// URL and no password: psql, and pgx whose cancel request is
// forwarded.
func TestConnectPsql(t *testing.T) {
	t.Parallel()
	s := newMCPSetup(t)
	cmd := exec.Command(sluiceBin, "connect", "app", "--listen", "127.0.0.1:0", "--postgres", s.g.pgAddr, "--fingerprint", s.g.fingerprint(t))
	cmd.Env = []string{"SLUICE_TOKEN=" + s.agent, "HOME=" + t.TempDir()}
	stdout, stderr := newOutBuffer(), newOutBuffer()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	exited := make(chan error, 1)
	if err := startWithTests(cmd, func(err error) { exited <- err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(stopDeadline):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("sluice connect stdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
	})
	var addr string
	deadline := time.After(startDeadline)
	for addr == "" {
		if m := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)\n`).FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case <-stdout.notify:
		case err := <-exited:
			t.Fatalf("sluice connect exited: %v\n%s", err, stderr)
		case <-deadline:
			t.Fatal("sluice connect printed no address")
		}
	}

	// psql with a plain URL: no password, no TLS to the local endpoint.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliDeadline)
	defer cancel()
	psql := exec.CommandContext(ctx, "psql", "-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1", "postgresql://"+addr+"/app",
		"-c", "select name from customers order by id", "-c", "select current_setting('application_name')")
	psql.Env = append(env, "PGAPPNAME=psql-via-connect", "PGCONNECT_TIMEOUT=10")
	out, err := psql.CombinedOutput()
	if err != nil || string(out) != "Ada\nGrace\nEdsger\npsql-via-connect\n" {
		t.Fatalf("psql through sluice connect: %v\n%s", err, out)
	}

	// A pgx cancel request reaches the gateway, and through it the database.
	cfg, err := pgx.ParseConfig("postgres://someone@" + addr + "/whatever?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BuildContextWatcherHandler = pgxConfig(t, addr, "app", "", "disable").BuildContextWatcherHandler
	conn, err := connectConfig(t, cfg)
	if err != nil {
		t.Fatalf("pgx through sluice connect: %v", err)
	}
	qctx, qcancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer qcancel()
	start := time.Now()
	_, err = conn.Exec(qctx, "select pg_sleep(30)")
	if pe := pgError(t, err); pe.Code != "57014" || time.Since(start) > 10*time.Second {
		t.Fatalf("canceled query: %s %s after %s", pe.Code, pe.Message, time.Since(start))
	}
	var n int
	if err := conn.QueryRow(context.Background(), "select count(*) from customers").Scan(&n); err != nil || n != 3 {
		t.Fatalf("after the cancel: %d %v", n, err)
	}
	conn.Close(context.Background())

	// The gateway saw the agent's identity, as for any pgwire client.
	s.g.waitIdle()
	s.g.stopClean()
	ss, stmts := sessionsOf(t, stateStore(t, s.cfg.dataDir), s.agentSub)
	if len(ss) != 2 {
		t.Fatalf("%d sessions of the agent, want 2 (psql and pgx)", len(ss))
	}
	for _, sess := range ss {
		if sess.Protocol != sluice.ProtoPostgres || sess.Connection != "app" || sess.EndReason != sluice.EndClient {
			t.Fatalf("session %+v", sess)
		}
	}
	if first := stmts[ss[0].ID]; len(first) != 2 || first[0].Text != "select name from customers order by id" || first[0].Rows != 3 {
		t.Fatalf("psql's statements: %+v", first)
	}
	// The local endpoint refuses non-loopback addresses to listen on.
	if r := runSluice(t, []string{"SLUICE_TOKEN=x"}, "connect", "app", "--listen", "0.0.0.0:0", "--postgres", s.g.pgAddr); r.code == 0 || !strings.Contains(r.stderr, "loopback") {
		t.Fatalf("non-loopback --listen: %d %s", r.code, r.stderr)
	}
}

// TestMCPQueryMasked checks that query results are masked as the PostgreSQL
// front door masks them, and that the journal holds the masked copy.
func TestMCPQueryMasked(t *testing.T) {
	t.Parallel()
	s := newMCPSetup(t, func(fc *fileConfig) {
		fc.Masking = map[string]any{"rules": []map[string]any{{"columns": []string{"*.email"}, "strategy": "redact"}}}
		fc.Policies[0].Mask = []string{"pii"}
	})
	cs := mustMCPClient(t, s.g, s.agent, "2025-06-18", nil)
	out := decode[mcpsrv.ResultOutput](t, call(t, cs, "query", map[string]any{"connection": "app",
		"sql": "select id, email, 'call ada@example.com' as note from customers where id = 1"}))
	rows := rowsOf(out.Rows)
	if len(rows) != 1 || strings.Contains(rows[0], "ada@example.com") || !strings.HasPrefix(rows[0], "1|") {
		t.Fatalf("masked row: %q", rows)
	}
	cs.Close()
	s.g.stopClean()
	err := filepath.WalkDir(filepath.Join(s.cfg.dataDir, "journal"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(data), "ada@example.com") {
			return errors.New("the journal holds the clear email: " + path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMCPStatementRunsAsWritten checks that a secret in a statement is
// masked in the journal's copy only: the database runs the statement as the
// agent wrote it.
func TestMCPStatementRunsAsWritten(t *testing.T) {
	t.Parallel()
	s := newMCPSetup(t, func(fc *fileConfig) { fc.Policies[0].Mask = []string{"secrets"} })
	cs := mustMCPClient(t, s.g, s.agent, "2025-06-18", nil)
	const token = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
	out := decode[mcpsrv.ResultOutput](t, call(t, cs, "query", map[string]any{"connection": "app",
		"sql": "select length('" + token + "') as n, left('" + token + "', 4) as prefix"}))
	if rows := rowsOf(out.Rows); len(rows) != 1 || rows[0] != "40|ghp_" {
		t.Fatalf("the database did not get the statement as written: %q", rows)
	}
	cs.Close()
	s.g.stopClean()
	checkNoSecret(t, filepath.Join(s.cfg.dataDir, "journal"), token)
}
