package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestMaskingEndToEnd checks masking through the real binary with psql and
// pgx: columns arrive masked in text and binary, COPY TO STDOUT and an
// error DETAIL are masked, an exempt group sees clear values, and no file
// the gateway wrote (journal, state) holds the clear values.
func TestMaskingEndToEnd(t *testing.T) {
	t.Parallel()
	pg, db := newDatabase(t)
	role := pg.SCRAMUser()
	const email, ssn, card = "grace.hopper@navy.example.com", "536-22-8790", "5555 5555 5555 4444"
	cfg := newConfig(t,
		[]connSpec{{Name: "crm", Address: pg.Addr(), Database: db, User: role.Name, Password: role.Password}},
		[]policySpec{{Name: "agents", Subjects: []string{"group:ai-agents", "group:dba"}, Connections: []string{"crm"},
			Mask: []string{"pii", "secrets"}, Unmasked: []string{"group:dba"}}},
		func(fc *fileConfig) {
			fc.Masking = map[string]any{"key": "e2e-mask-key-0123456789abcdef",
				"rules": []map[string]any{{"columns": []string{"public.people.ssn"}, "strategy": "partial"}}}
		})
	c, err := pg.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(t.Context(), `create table people(id int primary key, email text unique, ssn text, note text);
		insert into people values (1, '`+email+`', '`+ssn+`', 'paid with `+card+`');
		grant all on people to public`)
	c.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, cfg)
	agent, dba := cfg.issue("agent-7", "ai-agents"), cfg.issue("grace-admin", "dba")

	// psql: text format, a unique violation, and COPY TO STDOUT, which a
	// column rule (COPY names no columns) makes sluice refuse.
	cl := newClient(t, g.pgAddr, "crm", agent)
	out := cl.mustPsql("", "-c", "select email, ssn, note from people")
	r := cl.psql("", "-c", "insert into people(id, email) values (2, (select email from people where id = 1))")
	cp := cl.psql("", "-c", "copy people to stdout")
	if cp.code == 0 || !strings.Contains(cp.stderr, "COPY data names no columns") {
		t.Fatalf("COPY under a column rule: %d %s %s", cp.code, cp.stdout, cp.stderr)
	}
	all := out + r.stdout + r.stderr + cp.stdout
	for _, clear := range []string{email, ssn, card} {
		if strings.Contains(all, clear) {
			t.Fatalf("psql received %q in clear:\n%s", clear, all)
		}
	}
	if !strings.Contains(out, "[redacted:email]|***-**-8790|paid with [redacted:payment_card]") ||
		!strings.Contains(r.stderr, "Key (email)=([redacted:email]) already exists") {
		t.Fatalf("psql output:\n%s%s", out, r.stderr)
	}

	// pgx: binary format.
	ctx := context.Background()
	conn := connect(t, g.pgAddr, "crm", agent)
	var gotEmail, gotSSN string
	if err := conn.QueryRow(ctx, "select email, ssn from people where id = $1", 1).Scan(&gotEmail, &gotSSN); err != nil {
		t.Fatal(err)
	}
	if gotEmail != "[redacted:email]" || gotSSN != "***-**-8790" {
		t.Fatalf("pgx: %q %q", gotEmail, gotSSN)
	}
	conn.Close(ctx)

	// The exempt group sees clear values.
	dconn := connect(t, g.pgAddr, "crm", dba)
	if err := dconn.QueryRow(ctx, "select email, ssn from people", pgx.QueryExecModeSimpleProtocol).Scan(&gotEmail, &gotSSN); err != nil {
		t.Fatal(err)
	}
	if gotEmail != email || gotSSN != ssn {
		t.Fatalf("exempt group: %q %q", gotEmail, gotSSN)
	}
	dconn.Close(ctx)
	g.waitIdle()
	g.stopClean()

	// No file the gateway wrote holds a clear value; the journal records
	// the masked copy, the counts and the exempt view.
	var journal strings.Builder
	err = filepath.WalkDir(cfg.dataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, clear := range []string{email, ssn, card} {
			if strings.Contains(string(data), clear) {
				t.Errorf("%s holds %q in clear", path, clear)
			}
		}
		if strings.HasSuffix(path, ".seg") {
			journal.Write(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"masked":{`, `"email":`, `"unmasked":true`, `[redacted:email]`} {
		if !strings.Contains(journal.String(), want) {
			t.Errorf("the journal lacks %s", want)
		}
	}
}
