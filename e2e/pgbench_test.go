package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestPgbench initializes and runs pgbench through the binary, with the
// simple protocol (select-only) and the extended protocol (the TPC-B-like
// write script, prepared), then checks the state store.
func TestPgbench(t *testing.T) {
	t.Parallel()
	pg, db := newDatabase(t)
	cfg := appConfig(t, pg, db, pg.SCRAMUser())
	g := startGateway(t, cfg)

	// One subject per run, to find each run's sessions in the state store.
	initTok := cfg.issue("bench-init", "agents")
	selTok := cfg.issue("bench-select", "agents")
	tpcbTok := cfg.issue("bench-tpcb", "agents")

	r := newClient(t, g.pgAddr, "app", initTok).run("", "pgbench", "-i", "-s", "1")
	if r.code != 0 || !strings.Contains(r.stderr, "done in") {
		t.Fatalf("pgbench -i: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	sel := runBench(t, newClient(t, g.pgAddr, "app", selTok), "-S", "-c", "4", "-j", "2", "-T", "3")
	tpcb := runBench(t, newClient(t, g.pgAddr, "app", tpcbTok), "-c", "4", "-j", "2", "-T", "3", "-M", "prepared")
	if !strings.Contains(tpcb.out, "query mode: prepared") || !strings.Contains(tpcb.out, "<builtin: TPC-B (sort of)>") {
		t.Fatalf("the write run did not use the TPC-B script in prepared mode:\n%s", tpcb.out)
	}

	g.waitIdle()
	g.stopClean()
	if n := checkResultsNameRequests(t, cfg.dataDir); n < sel.txns+tpcb.txns {
		t.Errorf("%d results in the journal, fewer than pgbench's %d transactions", n, sel.txns+tpcb.txns)
	}
	st := stateStore(t, cfg.dataDir)

	check := func(subject string, wantSessions int) map[string][]string {
		t.Helper()
		ss, stmts := sessionsOf(t, st, subject)
		if len(ss) < wantSessions {
			t.Fatalf("%s: %d sessions recorded, want at least %d", subject, len(ss), wantSessions)
		}
		texts := map[string][]string{} // session id -> statement texts
		for _, s := range ss {
			if s.EndReason != "client_closed" || s.EndedAt.IsZero() {
				t.Errorf("%s: session %s ended %v with reason %q, want client_closed", subject, s.ID, s.EndedAt, s.EndReason)
			}
			if len(stmts[s.ID]) == 0 {
				t.Errorf("%s: session %s has no statements", subject, s.ID)
			}
			for _, r := range stmts[s.ID] {
				if r.Status != "ok" || r.Error != "" || r.Decision != "allow" {
					t.Errorf("%s: statement %q: status %q, error %q, decision %q; want ok, allowed", subject, r.Text, r.Status, r.Error, r.Decision)
				}
				texts[s.ID] = append(texts[s.ID], r.Text)
			}
		}
		return texts
	}
	init := check("bench-init", 1)
	if !anyText(init, "copy pgbench_accounts from stdin") {
		t.Errorf("bench-init: no COPY of pgbench_accounts recorded: %v", init)
	}

	// Four clients plus pgbench's own setup connection per run. Every
	// transaction pgbench counted is recorded exactly once: the SELECT of
	// -S, and for TPC-B (BEGIN, 3 UPDATE, SELECT, INSERT, END as prepared
	// statements) the account UPDATE and the history INSERT.
	selTexts := check("bench-select", 5)
	if n := countText(selTexts, "SELECT abalance FROM pgbench_accounts WHERE aid = "); n != sel.txns {
		t.Errorf("bench-select: %d account SELECTs recorded, pgbench processed %d transactions", n, sel.txns)
	}
	tpcbTexts := check("bench-tpcb", 5)
	for _, stmt := range []string{"UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;", "INSERT INTO pgbench_history"} {
		if n := countText(tpcbTexts, stmt); n != tpcb.txns {
			t.Errorf("bench-tpcb: %d statements %q recorded, pgbench processed %d transactions", n, stmt, tpcb.txns)
		}
	}
}

// benchResult is what a pgbench run reported.
type benchResult struct {
	out  string
	txns int
	tps  float64
}

var (
	failedRe = regexp.MustCompile(`(?m)^number of failed transactions: (\d+) `)
	txnsRe   = regexp.MustCompile(`(?m)^number of transactions actually processed: (\d+)`)
	tpsRe    = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
)

// runBench runs pgbench and requires exit 0, no failed transaction and a
// positive throughput.
func runBench(t *testing.T, c *client, args ...string) benchResult {
	t.Helper()
	r := c.run("", "pgbench", args...)
	out := r.stdout + r.stderr
	if r.code != 0 {
		t.Fatalf("pgbench %s: exit %d\n%s", strings.Join(args, " "), r.code, out)
	}
	m := failedRe.FindStringSubmatch(out)
	if m == nil || m[1] != "0" {
		t.Fatalf("pgbench %s: want \"number of failed transactions: 0\":\n%s", strings.Join(args, " "), out)
	}
	var res benchResult
	res.out = out
	if m := txnsRe.FindStringSubmatch(out); m != nil {
		res.txns, _ = strconv.Atoi(m[1])
	}
	if m := tpsRe.FindStringSubmatch(out); m != nil {
		res.tps, _ = strconv.ParseFloat(m[1], 64)
	}
	if res.txns <= 0 || res.tps <= 0 {
		t.Fatalf("pgbench %s: want positive transactions and tps, got %d and %g:\n%s", strings.Join(args, " "), res.txns, res.tps, out)
	}
	t.Logf("pgbench %s: %d transactions, %.0f tps", strings.Join(args, " "), res.txns, res.tps)
	return res
}

func anyText(texts map[string][]string, sub string) bool {
	return countText(texts, sub) > 0
}

// countText counts the statements containing sub.
func countText(texts map[string][]string, sub string) int {
	n := 0
	for _, ts := range texts {
		for _, s := range ts {
			if strings.Contains(s, sub) {
				n++
			}
		}
	}
	return n
}
