package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/testkit"
)

// runSetup is a gateway whose policy lets group ci read at once, holds
// writes and DDL for group dba, and denies destructive statements; with a
// CI token and an approver's.
type runSetup struct {
	cfg          *sluiceConfig
	g            *gateway
	pg           *testkit.Postgres
	db           string
	role         testkit.Role
	ci, alice    string // tokens
	dir          string // where scripts are written
	githubSecret string
}

func newRunSetup(t *testing.T, edit ...func(*fileConfig)) *runSetup {
	t.Helper()
	pg, db := newDatabase(t)
	role := pg.SCRAMUser()
	s := &runSetup{pg: pg, db: db, role: role, dir: t.TempDir()}
	s.sql(t, "create table orders(id int primary key, status text not null)",
		"insert into orders values (1, 'open'), (2, 'closed'), (3, 'closed')")
	edit = append([]func(*fileConfig){func(fc *fileConfig) { fc.Reviews.Groups = map[string][]string{"dba": {"alice"}} }}, edit...)
	s.cfg = newConfig(t,
		[]connSpec{{Name: "orders", Address: pg.Addr(), Database: db, User: role.Name, Password: role.Password}},
		[]policySpec{{Name: "ci", Subjects: []string{"group:ci"}, Connections: []string{"orders"}, Rules: []ruleSpec{
			{When: "privileged || unknown", Action: "deny", Message: "not from CI"},
			{When: "destructive", Action: "deny", Message: "no destructive changes from CI"},
			{When: "read", Action: "allow"},
			{When: "ddl || write", Action: "review", Approvers: []string{"group:dba"}, Wait: "10m"},
		}}}, edit...)
	s.g = startGateway(t, s.cfg)
	s.ci = s.cfg.issue("deploy-bot", "ci")
	s.alice = s.cfg.issue("alice", "dba")
	return s
}

// sql runs statements directly on the database, as sluice's role; with
// one query among them it returns its rows as "a:b" joined by spaces.
func (s *runSetup) sql(t *testing.T, stmts ...string) string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), s.pg.DSN(s.role.Name, s.role.Password, s.db, "disable"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var out []string
	for _, st := range stmts {
		rows, err := conn.Query(t.Context(), st, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		for rows.Next() {
			vals, _ := rows.Values()
			var cells []string
			for _, v := range vals {
				cells = append(cells, fmt.Sprint(v))
			}
			out = append(out, strings.Join(cells, ":"))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
	return strings.Join(out, " ")
}

// script writes a script file and returns its path.
func (s *runSetup) script(t *testing.T, text string) string {
	t.Helper()
	f, err := os.CreateTemp(s.dir, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

func (s *runSetup) env(t *testing.T, token string) []string {
	return []string{"SLUICE_TOKEN=" + token, "SLUICE_SERVER=http://" + s.g.httpAddr, "HOME=" + t.TempDir()}
}

// run runs `sluice run ...` as the CI bot.
func (s *runSetup) run(t *testing.T, args ...string) cliResult {
	t.Helper()
	return runSluice(t, s.env(t, s.ci), append([]string{"run"}, args...)...)
}

// reviews runs `sluice reviews ...` as alice.
func (s *runSetup) reviews(t *testing.T, args ...string) cliResult {
	t.Helper()
	r := runSluice(t, s.env(t, s.alice), append([]string{"reviews"}, args...)...)
	if r.code != 0 {
		t.Fatalf("reviews %v: exit %d\n%s", args, r.code, r.stderr)
	}
	return r
}

// submit submits a script with --no-wait and returns the review id it
// prints alone on stdout.
func (s *runSetup) submit(t *testing.T, text string) string {
	t.Helper()
	r := s.run(t, "--connection", "orders", "--file", s.script(t, text), "--no-wait")
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(id, "rv_") || strings.Contains(id, "\n") {
		t.Fatalf("run --no-wait: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	return id
}

// startRun starts `sluice run` as the CI bot in the background; the
// channel gets its outcome.
func (s *runSetup) startRun(t *testing.T, args ...string) <-chan cliResult {
	ctx, cancel := context.WithTimeout(context.Background(), cliDeadline)
	cmd := exec.CommandContext(ctx, sluiceBin, append([]string{"run"}, args...)...)
	cmd.Env = s.env(t, s.ci)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan cliResult, 1)
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		defer cancel()
		err := cmd.Wait()
		code := -1
		if cmd.ProcessState != nil {
			code = cmd.ProcessState.ExitCode()
		}
		if ctx.Err() != nil {
			stderr.WriteString(fmt.Sprintf("\n(killed after %s: %v)", cliDeadline, err))
		}
		done <- cliResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
	}()
	return done
}

// githubComment delivers a signed issue_comment webhook for the issue
// whose body sluice wrote, as GitHub would, and returns the status.
func githubComment(t *testing.T, httpAddr, secret, issueBody, login, comment string) int {
	t.Helper()
	ev, _ := json.Marshal(map[string]any{"action": "created",
		"issue":      map[string]any{"number": 7, "body": issueBody},
		"comment":    map[string]any{"body": comment, "user": map[string]any{"login": login}},
		"sender":     map[string]any{"login": login},
		"repository": map[string]any{"full_name": "acme/db"}})
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(ev)
	req, _ := http.NewRequest("POST", "http://"+httpAddr+"/hooks/github", bytes.NewReader(ev))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "issue_comment")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

const archiveScript = `-- archive the closed orders
create table orders_archive (id int primary key, status text not null);
insert into orders_archive select id, status from orders where status = 'closed';
select id, status from orders_archive order by id;
`

// TestRunApprovedOnGitHubIssue runs a migration from "CI": sluice opens one
// GitHub issue for the whole script with each statement's classes, the
// approval arrives as a signed /approve comment, the CLI then gets the
// script run and prints each statement's result, and the journal binds
// every statement to the approval, which is used once.
func TestRunApprovedOnGitHubIssue(t *testing.T) {
	t.Parallel()
	gh := &fakeGitHub{t: t}
	api := httptest.NewServer(gh)
	defer api.Close()
	const secret = "gh-hook-secret"
	s := newRunSetup(t, func(fc *fileConfig) {
		fc.Reviews.Notify = []map[string]any{{"type": "github", "api": api.URL, "repo": "acme/db",
			"token": "gh-test-token", "secret": secret, "labels": []string{"sluice", "migration"},
			"users": map[string]string{"octo-alice": "alice", "octo-bot": "deploy-bot"}}}
	})
	done := s.startRun(t, "--connection", "orders", "--file", s.script(t, archiveScript),
		"--reason", "archive closed orders (ticket OPS-12)", "--wait", "2m")

	var issue map[string]any
	waitUntil(t, 30*time.Second, "the GitHub issue", func() bool { issue, _, _ = gh.snapshot(); return issue != nil })
	body, title := fmt.Sprint(issue["body"]), fmt.Sprint(issue["title"])
	for _, want := range []string{"create table orders_archive", "insert into orders_archive select id, status from orders where status = 'closed'",
		"select id, status from orders_archive order by id", "#1 create_table [ddl]", "#2 insert [read|write]", "(review)",
		"#3 select [read]", "(allow)", "archive closed orders (ticket OPS-12)", "deploy-bot", "ddl"} {
		if !strings.Contains(body, want) {
			t.Errorf("the issue body lacks %q", want)
		}
	}
	if !strings.Contains(title, "ddl") || !strings.Contains(fmt.Sprint(issue["labels"]), "migration") || t.Failed() {
		t.Fatalf("issue %q:\n%s", title, body)
	}
	marker := strings.SplitN(strings.SplitN(body, "sluice-review: ", 2)[1], " ", 2)[0]
	t.Logf("GitHub issue %q:\n%s", title, body)
	select {
	case r := <-done:
		t.Fatalf("sluice run returned before the approval: %+v", r)
	default:
	}
	if s.sql(t, "select count(*) from pg_tables where tablename = 'orders_archive'") != "0" {
		t.Fatal("the script ran before the approval")
	}
	// The requester's own /approve changes nothing; alice's approves.
	githubComment(t, s.g.httpAddr, secret, body, "octo-bot", "/approve")
	if code := githubComment(t, s.g.httpAddr, secret, body, "octo-alice", "/approve checked the plan"); code >= 300 {
		t.Fatalf("approval hook answered %d", code)
	}
	var r cliResult
	select {
	case r = <-done:
	case <-time.After(cliDeadline):
		t.Fatal("sluice run still waits after the approval")
	}
	if r.code != 0 {
		t.Fatalf("sluice run: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"CREATE TABLE", "INSERT 0 2", "SELECT 2", "(2 rows)"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("run output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, want := range []string{"review " + marker + ": needs 1 approval(s) from group:dba", "announced on github: 7", "is approved; running the script"} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("run progress lacks %q:\n%s", want, r.stderr)
		}
	}
	t.Logf("sluice run, stderr:\n%s\nstdout:\n%s", r.stderr, r.stdout)
	if got := s.sql(t, "select id, status from orders_archive order by id"); got != "2:closed 3:closed" {
		t.Fatalf("archive: %s", got)
	}
	// The approval was for one run.
	if again := s.run(t, "--review", marker); again.code != 3 || !strings.Contains(again.stderr, "already happened") {
		t.Fatalf("second run of the same review: exit %d\n%s", again.code, again.stderr)
	}
	waitUntil(t, 15*time.Second, "the issue to be closed", func() bool { _, _, c := gh.snapshot(); return c != "" })
	if _, _, reason := gh.snapshot(); reason != "completed" {
		t.Fatalf("issue closed as %q", reason)
	}

	// The journal: the submission left for review, then a run session
	// whose script claimed the approval and whose statements are each
	// recorded, bound to the script and the review.
	s.g.stopClean()
	var story []string
	scripts := map[string]bool{}
	err := scanJournal(s.cfg.dataDir, func(rec *journal.Record) error {
		ev := rec.Event
		switch {
		case ev.Type == sluice.EventSessionStart && ev.Protocol == sluice.ProtoRun:
			story = append(story, "run-session")
		case ev.Type == sluice.EventRequest && ev.Request.Parent == "" && ev.Request.Text == archiveScript:
			scripts[ev.Request.ID] = true
			story = append(story, "script:"+string(ev.Decision.Action))
		case ev.Type == sluice.EventRequest && ev.Request.Parent != "":
			if !scripts[ev.Request.Parent] || ev.Decision.ReviewID != marker || ev.Decision.Action != sluice.ActionAllow {
				t.Errorf("statement %q: parent %s, decision %+v", ev.Request.Text, ev.Request.Parent, ev.Decision)
			}
			story = append(story, "statement")
		case ev.Type == sluice.EventReview && ev.Review.ID == marker:
			story = append(story, "review:"+strings.SplitN(ev.Reason, " ", 2)[0])
		case ev.Type == sluice.EventDecision && scripts[ev.Request.ID]:
			story = append(story, "outcome:"+string(ev.Decision.Action))
		case ev.Type == sluice.EventResult && scripts[ev.Request.ID]:
			story = append(story, "script-result:"+ev.Result.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The announcement is journaled in the background, and the approval
	// may reach the journal just after the run saw it in the state store:
	// both are checked apart from the order.
	got := strings.Join(story, " ")
	for _, step := range []string{" review:notified:", " review:approved"} {
		if strings.Count(got, step) != 1 {
			t.Fatalf("journal story lacks %q once: %s", step, got)
		}
		got = strings.Replace(got, step, "", 1)
	}
	want := "run-session script:review review:created outcome:review run-session script:review review:executed outcome:allow " +
		"statement statement statement script-result:ok"
	if got != want {
		t.Fatalf("journal story\n got: %s\nwant: %s", got, want)
	}
}

// TestRunExitCodes checks each outcome of `sluice run` and its exit code.
func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	s := newRunSetup(t)

	t.Run("a read runs at once: 0", func(t *testing.T) {
		r := s.run(t, "--connection", "orders", "--file", s.script(t, "select id, status from orders order by id"))
		if r.code != 0 || !strings.Contains(r.stdout, "SELECT 3") || !strings.Contains(r.stdout, "closed") ||
			!strings.Contains(r.stdout, "(3 rows)") || strings.Contains(r.stderr, "review") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("a denied statement: 3", func(t *testing.T) {
		r := s.run(t, "--connection", "orders", "--file", s.script(t, "update orders set status = 'x' where id = 1;\ndelete from orders"))
		if r.code != 3 || !strings.Contains(r.stderr, "statement #2 (delete) is denied: no destructive changes from CI") {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
	})
	t.Run("still pending when the wait ends: 4", func(t *testing.T) {
		r := s.run(t, "--connection", "orders", "--file", s.script(t, "update orders set status = 'late' where id = 1"), "--wait", "1s")
		if r.code != 4 || !strings.Contains(r.stderr, "still pending") || !strings.Contains(r.stderr, "sluice run --review rv_") {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
	})
	t.Run("--no-wait, then --review once approved: 0", func(t *testing.T) {
		id := s.submit(t, "insert into orders values (4, 'new')")
		if got := s.sql(t, "select count(*) from orders where id = 4"); got != "0" {
			t.Fatalf("ran before the approval: %s", got)
		}
		s.reviews(t, "approve", id, "--reason", "ok")
		r := s.run(t, "--review", id)
		if r.code != 0 || !strings.Contains(r.stdout, "INSERT 0 1") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if got := s.sql(t, "select status from orders where id = 4"); got != "new" {
			t.Fatalf("row 4: %q", got)
		}
	})
	t.Run("a statement fails: 5", func(t *testing.T) {
		id := s.submit(t, "insert into orders values (5, 'new');\ninsert into no_such_table values (1);\ninsert into orders values (6, 'new')")
		s.reviews(t, "approve", id, "--reason", "ok")
		r := s.run(t, "--review", id)
		if r.code != 5 || !strings.Contains(r.stderr, "statement #2 failed: 42P01") || !strings.Contains(r.stdout, "not run") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if got := s.sql(t, "select id from orders where id >= 5 order by id"); got != "5" {
			t.Fatalf("rows after the failed script: %q", got)
		}
	})
	t.Run("an approver denies: 3", func(t *testing.T) {
		id := s.submit(t, "update orders set status = 'gone' where id = 2")
		s.reviews(t, "deny", id, "--reason", "not today")
		r := s.run(t, "--review", id)
		if r.code != 3 || !strings.Contains(r.stderr, "denied by alice") || !strings.Contains(r.stderr, "not today") {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
	})
	t.Run("usage: 2", func(t *testing.T) {
		for _, args := range [][]string{
			{"--connection", "orders"},
			{"--connection", "orders", "--file", filepath.Join(s.dir, "missing.sql")},
			{"--connection", "nope", "--file", s.script(t, "select 1")},
			{"--review", "rv_nosuchreview"},
			{"--connection", "orders", "--file", s.script(t, "select 1"), "--wait", "soon"},
		} {
			if r := s.run(t, args...); r.code != 2 {
				t.Errorf("run %v: exit %d, want 2\n%s", args, r.code, r.stderr)
			}
		}
	})
	if got := s.sql(t, "select id, status from orders order by id"); got != "1:open 2:closed 3:closed 4:new 5:new" {
		t.Fatalf("orders at the end: %s", got)
	}
}
