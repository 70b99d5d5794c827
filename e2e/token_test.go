package e2e

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTokenCLI issues, uses, lists and revokes a service token with the CLI
// while the gateway runs.
func TestTokenCLI(t *testing.T) {
	t.Parallel()
	pg, db := newDatabase(t)
	role := pg.SCRAMUser()
	cfg := appConfig(t, pg, db, role)
	g := startGateway(t, cfg)

	// Keep the gateway writing to state.db (sessions and statements) while
	// the CLI issues tokens in other processes on the same file. The load is
	// paced at a busy agent's rate (200 statements/s): unpaced, a gateway
	// built with -race spends all its time in SQLite write transactions and
	// the CLI can starve (see the report).
	loadTok := cfg.issue("load", "agents")
	loadConn := connect(t, g.pgAddr, "app", loadTok)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var loadErr error
	var loadQueries int
	wg.Add(1)
	go func() {
		defer wg.Done()
		pace := time.NewTicker(5 * time.Millisecond)
		defer pace.Stop()
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
				return
			case <-pace.C:
			}
			var n int
			if err := loadConn.QueryRow(ctx, "select $1::int + 1", loadQueries).Scan(&n); err != nil {
				if ctx.Err() == nil {
					loadErr = err
				}
				return
			}
			loadQueries++
		}
	}()
	stopLoad := func() { stop(); wg.Wait() }
	defer stopLoad() // before any Fatal's cleanups close the connection
	start := time.Now()
	var ids []string
	var tok string
	for i := range 5 {
		r := cfg.run("token", "issue", "--subject", "ci-bot", "--group", "agents", "--group", "readers", "--ttl", "10m")
		if r.code != 0 || strings.Contains(r.stderr, "locked") || strings.Contains(r.stderr, "busy") {
			t.Fatalf("token issue #%d while serve runs: exit %d\nstderr: %s", i, r.code, r.stderr)
		}
		if strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "\n") {
			t.Fatalf("token issue: stdout must be exactly one line, got %q", r.stdout)
		}
		tok = strings.TrimSuffix(r.stdout, "\n")
		if !strings.HasPrefix(tok, "sluice_st_") || strings.ContainsAny(tok, " \t\r") {
			t.Fatalf("token issue printed %q, want a token starting with sluice_st_", tok)
		}
		m := regexp.MustCompile(`^issued token (\S+) for ci-bot, expires (\S+)\n$`).FindStringSubmatch(r.stderr)
		if m == nil {
			t.Fatalf("token issue stderr = %q, want %q", r.stderr, "issued token ID for ci-bot, expires TIME")
		}
		ids = append(ids, m[1])
	}
	stopLoad()
	if loadErr != nil {
		t.Fatalf("queries while issuing tokens: %v", loadErr)
	}
	if loadQueries == 0 {
		t.Fatal("no query ran while the tokens were issued")
	}
	t.Logf("issued 5 tokens in %s while %d queries ran", time.Since(start).Round(time.Millisecond), loadQueries)
	id := ids[len(ids)-1]

	// The token works, and the session runs as the upstream role.
	psql := newClient(t, g.pgAddr, "app", tok)
	psql.sslmode = "require" // through the gateway's self-signed TLS
	if got := strings.TrimSpace(psql.mustPsql("", "-c", "select current_user")); got != role.Name {
		t.Fatalf("current_user through sluice = %q, want the upstream role %q", got, role.Name)
	}

	// token list: the id, subject, groups, expiry and status, never the token.
	list := cfg.run("token", "list")
	if list.code != 0 {
		t.Fatalf("token list: exit %d: %s", list.code, list.stderr)
	}
	assertNoToken(t, "token list", list.stdout+list.stderr, tok)
	lines := strings.Split(strings.TrimSpace(list.stdout), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "ID SUBJECT GROUPS ISSUED EXPIRES STATUS" {
		t.Fatalf("token list header = %q", lines[0])
	}
	if len(lines) != 1+len(ids)+1 { // header, ci-bot tokens, the load token
		t.Fatalf("token list has %d rows, want %d:\n%s", len(lines)-1, len(ids)+1, list.stdout)
	}
	row := rowOf(t, lines, id)
	if row[1] != "ci-bot" || row[2] != "agents,readers" || row[5] != "active" {
		t.Fatalf("token list row = %q, want subject ci-bot, groups agents,readers, status active", row)
	}
	checkExpiry(t, row[4], start)

	listJSON := cfg.run("token", "list", "--json")
	if listJSON.code != 0 {
		t.Fatalf("token list --json: exit %d: %s", listJSON.code, listJSON.stderr)
	}
	assertNoToken(t, "token list --json", listJSON.stdout+listJSON.stderr, tok)
	var recs []map[string]any
	if err := json.Unmarshal([]byte(listJSON.stdout), &recs); err != nil {
		t.Fatalf("token list --json is not a JSON array: %v\n%s", err, listJSON.stdout)
	}
	var rec map[string]any
	for _, r := range recs {
		if r["id"] == id {
			rec = r
		}
		for k := range r {
			if k != "id" && k != "subject" && k != "groups" && k != "issued_at" && k != "expires_at" && k != "revoked_at" {
				t.Errorf("token list --json has unexpected field %q", k)
			}
		}
	}
	if rec == nil {
		t.Fatalf("token list --json lacks id %s:\n%s", id, listJSON.stdout)
	}
	groups, _ := json.Marshal(rec["groups"])
	if rec["subject"] != "ci-bot" || string(groups) != `["agents","readers"]` {
		t.Fatalf("token list --json record = %v", rec)
	}
	exp, _ := rec["expires_at"].(string)
	checkExpiry(t, exp, start)

	// Revoke while serving: the next connection with that token is refused.
	rv := cfg.run("token", "revoke", id)
	if rv.code != 0 || rv.stdout != "revoked "+id+"\n" {
		t.Fatalf("token revoke: exit %d, stdout %q, stderr %q", rv.code, rv.stdout, rv.stderr)
	}
	_, err := tryConnect(t, g.pgAddr, "app", tok)
	if err == nil {
		t.Fatal("a revoked token still opens a session")
	}
	pe := pgError(t, err)
	if pe.Code != "28P01" || !strings.Contains(pe.Message, "revoked") {
		t.Fatalf("revoked token: %s %q, want 28P01 mentioning revoked", pe.Code, pe.Message)
	}
	assertNoToken(t, "refusal of the revoked token", pe.Error(), tok)
	if r := psql.psql("", "-c", "select 1"); r.code == 0 || !strings.Contains(r.stderr, "revoked") {
		t.Fatalf("psql with the revoked token: exit %d, stderr %q", r.code, r.stderr)
	}
	// The other tokens keep working.
	other := connect(t, g.pgAddr, "app", loadTok)
	if err := other.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	list = cfg.run("token", "list")
	if row := rowOf(t, strings.Split(strings.TrimSpace(list.stdout), "\n"), id); !strings.HasPrefix(strings.Join(row[5:], " "), "revoked ") {
		t.Fatalf("token list status after revoke = %q, want revoked TIME", row[5:])
	}
	if r := cfg.run("token", "revoke", "no-such-id"); r.code == 0 {
		t.Fatalf("revoking an unknown id succeeded: %q", r.stdout)
	}
}

// rowOf returns the fields of the token list row with id.
func rowOf(t *testing.T, lines []string, id string) []string {
	t.Helper()
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) >= 6 && f[0] == id {
			return f
		}
	}
	t.Fatalf("token list has no row for %s:\n%s", id, strings.Join(lines, "\n"))
	return nil
}

// checkExpiry checks that an RFC 3339 expiry is 10 minutes after issue.
func checkExpiry(t *testing.T, s string, issued time.Time) {
	t.Helper()
	exp, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("expiry %q is not RFC 3339: %v", s, err)
	}
	lo, hi := issued.Add(10*time.Minute-2*time.Second), time.Now().Add(10*time.Minute+time.Second)
	if exp.Before(lo) || exp.After(hi) {
		t.Fatalf("expiry %s, want between %s and %s", exp, lo, hi)
	}
}

// assertNoToken fails if text holds the token or its signature.
func assertNoToken(t *testing.T, what, text, tok string) {
	t.Helper()
	if strings.Contains(text, tok) {
		t.Errorf("%s contains the token", what)
	}
	if sig := tok[strings.LastIndexByte(tok, '.')+1:]; len(sig) >= 16 && strings.Contains(text, sig) {
		t.Errorf("%s contains the token's signature", what)
	}
}
