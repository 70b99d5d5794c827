package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice/internal/testkit"
	"github.com/sluicehq/sluice/internal/testkit/browser"
	"github.com/sluicehq/sluice/internal/testkit/issuer"
)

// TestConsoleInBrowser drives the web console in Debian's Chromium: an
// approver logs in with the local OIDC issuer, approves a statement while
// psql waits (and psql returns), denies another; an auditor replays the
// agent's session, searches the audit trail and cannot approve. Screenshots
// go to the test's artifacts (SLUICE_TEST_ARTIFACTS).
func TestConsoleInBrowser(t *testing.T) {
	pg, db := newDatabase(t)
	role := pg.SCRAMUser()
	idp := issuer.Start(t)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	base := "http://" + httpAddr
	idp.RegisterClient("sluice-console", "console-secret-8c1d", base+"/console/callback")
	idp.AddUser("alice", map[string]any{"sub": "alice", "name": "Alice Approver", "groups": []string{"dba"}})
	idp.AddUser("audrey", map[string]any{"sub": "audrey", "name": "Audrey Auditor", "groups": []string{"security"}})
	cfg := newConfig(t,
		[]connSpec{{Name: "orders", Address: pg.Addr(), Database: db, User: role.Name, Password: role.Password}},
		[]policySpec{{Name: "agents", Subjects: []string{"group:ai-agents"}, Connections: []string{"orders"}, Rules: []ruleSpec{
			{When: "destructive || where_missing", Action: "review", Approvers: []string{"group:dba"}, Wait: "2m"},
			{When: "true", Action: "allow"},
		}}},
		func(fc *fileConfig) {
			fc.Listen.HTTP = httpAddr
			fc.Auth.OIDC = []map[string]any{{"issuer": idp.URL(), "audience": "sluice"}}
			fc.Audit = map[string]any{"auditors": []string{"group:security"}}
			fc.Console = map[string]any{"oidc": map[string]any{"issuer": idp.URL(), "client_id": "sluice-console",
				"client_secret": "console-secret-8c1d", "redirect_url": base + "/console/callback"}}
		})
	g := startGateway(t, cfg)
	agent := cfg.issue("agent-7", "ai-agents")
	conn := connect(t, g.pgAddr, "orders", agent)
	if _, err := conn.Exec(context.Background(), "create table orders(id int primary key, note text); insert into orders select g, 'n' from generate_series(1, 5) g;"+
		"create table audit_tmp(id int); insert into audit_tmp values (1)"); err != nil {
		t.Fatal(err)
	}

	b := browser.Start(t)
	alice := b.NewPage(t)
	login(t, alice, base, "alice")
	alice.WaitFor(`[data-testid="inbox-empty"]`)
	alice.Screenshot("01-alice-empty-inbox")

	// Approve while psql waits: the held DELETE appears live.
	psqlDone := make(chan cliResult, 1)
	c := newClient(t, g.pgAddr, "orders", agent)
	go func() { psqlDone <- c.with(t).psql("", "-c", "DELETE FROM orders") }()
	row := `[data-testid="review-row"]`
	alice.WaitFor(row)
	if text := alice.Text(row); !strings.Contains(text, "DELETE FROM orders") || !strings.Contains(text, "agent-7") {
		t.Fatalf("inbox row: %q", text)
	}
	alice.Screenshot("02-held-delete")
	select {
	case r := <-psqlDone:
		t.Fatalf("psql returned before the approval: %+v", r)
	default:
	}
	alice.Fill(`[data-testid="reason-input"]`, "old test rows")
	alice.Click(`[data-testid="approve-button"]`)
	select {
	case r := <-psqlDone:
		if r.code != 0 || !strings.Contains(r.stdout, "DELETE 5") {
			t.Fatalf("psql after the approval: %d %q %q", r.code, r.stdout, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("psql still waits after the approval in the console")
	}
	alice.WaitFor(`[data-testid="inbox-empty"]`)
	alice.Screenshot("03-approved")

	// Deny another: the agent gets the approver's reason.
	denied := make(chan error, 1)
	go func() {
		_, err := conn.Exec(context.Background(), "DROP TABLE audit_tmp")
		denied <- err
	}()
	alice.WaitFor(row)
	if text := alice.Text(row); !strings.Contains(text, "DROP TABLE audit_tmp") {
		t.Fatalf("inbox row: %q", text)
	}
	alice.Fill(`[data-testid="reason-input"]`, "keep the table")
	alice.Click(`[data-testid="deny-button"]`)
	select {
	case err := <-denied:
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Message, "alice") || !strings.Contains(pe.Message, "keep the table") {
			t.Fatalf("denied statement: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the denied statement still waits")
	}
	alice.Goto(base + "/console/reviews/history")
	if n := alice.Count(`[data-testid="history-row"]`); n != 2 {
		t.Errorf("history shows %d reviews, want 2", n)
	}
	alice.Screenshot("04-history")
	conn.Close(context.Background())

	// The auditor replays the agent's session and searches the trail.
	audrey := b.NewPage(t)
	login(t, audrey, base, "audrey")
	audrey.Goto(base + "/console/sessions?subject=agent-7")
	audrey.WaitFor(`[data-testid="session-row"]`)
	audrey.Screenshot("05-sessions")
	audrey.Click(`[data-testid="session-row"] >> nth=-1 >> a >> nth=0`) // the oldest: the pgx session
	audrey.WaitFor(`[data-testid="timeline-step"]`)
	steps := audrey.Text(`main`)
	for _, want := range []string{"create table orders", "DROP TABLE audit_tmp", "keep the table"} {
		if !strings.Contains(steps, want) {
			t.Errorf("the replay lacks %q", want)
		}
	}
	audrey.Click(`[data-testid="step-next"] >> nth=0`)
	if !strings.Contains(audrey.URL(), "#seq-") {
		t.Errorf("step-through did not move to a step: %s", audrey.URL())
	}
	audrey.Screenshot("06-replay")
	audrey.Goto(base + "/console/search")
	audrey.Fill(`#s-text`, "DELETE")
	audrey.Click(`[data-testid="search-submit"]`)
	audrey.WaitFor(`[data-testid="search-row"]`)
	if text := audrey.Text(`[data-testid="search-count"]`); !strings.Contains(text, "1") {
		t.Errorf("search count: %q", text)
	}
	audrey.Screenshot("07-search")

	// An auditor reads reviews but cannot approve: no forms, and a POST of
	// a decision (with a valid session and CSRF token) is refused.
	audrey.Goto(base + "/console/reviews/history")
	audrey.WaitFor(`[data-testid="history-row"]`)
	if n := audrey.Count(`[data-testid="approve-button"]`) + audrey.Count(`[data-testid="deny-button"]`); n != 0 {
		t.Errorf("the auditor sees %d decision buttons", n)
	}
	status := audrey.Eval(`async () => {
		const link = document.querySelector('[data-testid="history-row"] a');
		const csrf = document.querySelector('input[name="csrf"], meta[name="csrf"]');
		const token = csrf ? (csrf.value || csrf.content) : '';
		const id = link.getAttribute('href').split('/').pop();
		const r = await fetch('/console/reviews/' + id + '/decide', {method: 'POST',
			headers: {'Content-Type': 'application/x-www-form-urlencoded'},
			body: 'csrf=' + encodeURIComponent(token) + '&decision=approve&reason=x'});
		return r.status;
	}`)
	if fmt.Sprint(status) != "403" {
		t.Errorf("an auditor's decision POST answered %v, want 403", status)
	}
	audrey.Screenshot("08-auditor-history")
}

// login signs in at the console as user through the issuer's login form.
func login(t *testing.T, p *browser.Page, base, user string) {
	t.Helper()
	p.Goto(base + "/console/login")
	p.Click(`[data-testid="login-oidc"]`)
	p.WaitFor(`#username`)
	p.Fill(`#username`, user)
	p.Click(`#login`)
	p.WaitURL(base + "/console/")
	p.WaitFor(`[data-testid="whoami"]`)
	if who := p.Text(`[data-testid="whoami"]`); !strings.Contains(who, user) && !strings.Contains(strings.ToLower(who), user) {
		t.Fatalf("logged in as %q, want %s", who, user)
	}
}
