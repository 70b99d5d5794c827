package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestAuditCLI drives `sluice audit` on a journal written by the real
// gateway: verify, a kept checkpoint, tampering, proofs, search and replay.
func TestAuditCLI(t *testing.T) {
	t.Parallel()
	pg, db := newDatabase(t)
	cfg := appConfig(t, pg, db, pg.SCRAMUser())
	g := startGateway(t, cfg)
	tok := cfg.issue("auditee", "agents")
	ctx := context.Background()
	conn := connect(t, g.pgAddr, "app", tok)
	for _, q := range []string{
		"create table recipes(id int, sauce text)",
		"insert into recipes values (1, 'ketchup'), (2, 'mayo')",
		"select id, sauce from recipes order by id",
		"select * from no_such_table",
	} {
		conn.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol)
	}
	conn.Close(ctx)
	g.waitIdle()
	g.stopClean() // the final checkpoint covers everything

	must := func(args ...string) string {
		t.Helper()
		r := cfg.run(args...)
		if r.code != 0 {
			t.Fatalf("sluice %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}
	if out := must("audit", "verify"); !strings.Contains(out, "journal OK") {
		t.Fatalf("verify: %s", out)
	}
	key := strings.TrimSpace(must("audit", "key"))
	if !strings.HasPrefix(key, "sluice/journal+") {
		t.Fatalf("key %q", key)
	}
	kept := filepath.Join(t.TempDir(), "kept-checkpoint")
	if err := os.WriteFile(kept, []byte(must("audit", "checkpoint")), 0o600); err != nil {
		t.Fatal(err)
	}

	// Search and replay read the index and the journal.
	out := must("audit", "search", "--subject", "auditee", "--text", "RECIPES")
	if !strings.Contains(out, "select id, sauce from recipes order by id") || !strings.Contains(out, "3 statements") {
		t.Fatalf("search: %s", out)
	}
	out = must("audit", "search", "--error", "*")
	if !strings.Contains(out, "42P01") || !strings.Contains(out, "1 statements") {
		t.Fatalf("search --error: %s", out)
	}
	var session string
	for _, line := range strings.Split(must("audit", "search", "--json", "--limit", "1"), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), `"session_id": "`); ok {
			session = strings.TrimSuffix(v, `",`)
		}
	}
	out = must("audit", "replay", session)
	for _, want := range []string{"auditee", "insert into recipes", "ketchup", "mayo", "42P01", "session end: client_closed"} {
		if !strings.Contains(out, want) {
			t.Fatalf("replay lacks %q:\n%s", want, out)
		}
	}

	// An inclusion proof checks with the public key alone, and fails for
	// an altered record.
	proof := filepath.Join(t.TempDir(), "proof.json")
	if err := os.WriteFile(proof, []byte(must("audit", "prove", "6")), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runSluice(t, nil, "audit", "check-proof", proof, "--key", key); r.code != 0 || !strings.Contains(r.stdout, "proof OK: record 6") {
		t.Fatalf("check-proof: %d %s%s", r.code, r.stdout, r.stderr)
	}

	// Tampering: flip one byte of a stored statement's text.
	segs, _ := filepath.Glob(filepath.Join(cfg.dataDir, "journal", "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	orig, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(orig), "ketchup")
	if i < 0 {
		t.Fatal("statement text not found in the segment")
	}
	bad := append([]byte{}, orig...)
	bad[i] = 'K'
	os.WriteFile(segs[0], bad, 0o600)
	r := cfg.run("audit", "verify", "--key", key)
	if r.code != 1 || !strings.Contains(r.stderr, "FAILED verification") || !strings.Contains(r.stderr, "seq ") {
		t.Fatalf("verify of an edited journal: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	os.WriteFile(segs[0], orig, 0o600)

	// Truncating the newest records and the local checkpoints passes a
	// local check but not one against the kept checkpoint.
	cut := strings.LastIndex(string(orig), "select * from no_such_table")
	os.WriteFile(segs[0], orig[:cut-300], 0o600)
	os.Remove(filepath.Join(cfg.dataDir, "journal", "checkpoints"))
	r = cfg.run("audit", "verify", "--key", key, "--checkpoint", kept)
	if r.code != 1 || !strings.Contains(r.stderr, "FAILED") {
		t.Fatalf("verify of a truncated journal against a kept checkpoint: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("truncation caught: %s", strings.TrimSpace(r.stderr))
}
