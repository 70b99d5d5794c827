package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice/internal/testkit"
)

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestCanaryNeverLeaks gives sluice an upstream password that exists
// nowhere else (the canary), makes a session do ordinary work and fail in
// every ordinary way, makes upstream logins fail, and then looks for the
// canary in every byte a client received, in the gateway's debug log and in
// every file of its data_dir. The token gets the same search, minus what
// the client itself sent.
func TestCanaryNeverLeaks(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pg, db := newDatabase(t)
	canary := "canary-" + randHex(12)
	role := testkit.UniqueName(t)
	if err := pg.CreateRole(ctx, role, canary, testkit.AuthSCRAM); err != nil {
		t.Fatal(err)
	}
	missingDB := "nosuch_" + randHex(6)
	cfg := newConfig(t,
		[]connSpec{
			{Name: "app", Address: pg.Addr(), Database: db, User: role, Password: canary},
			{Name: "missingdb", Address: pg.Addr(), Database: missingDB, User: role, Password: canary},
			{Name: "wrongpw", Address: pg.Addr(), Database: db, User: role, Password: canary + "-wrong"},
		},
		[]policySpec{{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app", "missingdb", "wrongpw"}}})
	g := startGateway(t, cfg)
	rl := startRelay(t, g.pgAddr)
	tok := cfg.issue("canary-bot", "agents")
	marker := "visible-marker-" + randHex(8)

	// Ordinary work through the relay.
	c := connect(t, rl.addr(), "app", tok)
	var user string
	if err := c.QueryRow(ctx, "select current_user").Scan(&user); err != nil || user != role {
		t.Fatalf("current_user = %q (%v), want %q", user, err, role)
	}
	if _, err := c.Exec(ctx, "create table notes(id serial primary key, body text not null)"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "insert into notes(body) values ($1), ($2)", marker, "second"); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := c.QueryRow(ctx, "select body from notes where id = $1", 1).Scan(&got); err != nil || got != marker {
		t.Fatalf("select back = %q (%v), want %q", got, err, marker)
	}

	// Ordinary failures, each with its SQLSTATE, the session surviving.
	for _, f := range []struct{ sql, code string }{
		{"selec 1", "42601"},
		{"select * from no_such_table", "42P01"},
		{"select 1/0", "22012"},
		{"select 1/(select count(*) - 2 from notes)", "22012"},
	} {
		_, err := c.Exec(ctx, f.sql)
		if pe := pgError(t, err); pe.Code != f.code {
			t.Errorf("%q: %s %s, want %s", f.sql, pe.Code, pe.Message, f.code)
		}
	}

	// A cancel via the context: pgx sends a CancelRequest (through the
	// relay, so with sluice's key), which must reach the upstream.
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	start := time.Now()
	_, err := c.Exec(qctx, "select pg_sleep(10)")
	cancel()
	took := time.Since(start)
	var pe *pgconn.PgError
	switch {
	case err == nil:
		t.Fatal("pg_sleep(10) survived a 300ms context")
	case errors.As(err, &pe) && pe.Code != "57014":
		t.Fatalf("canceled query: %s %s, want 57014", pe.Code, pe.Message)
	case pe == nil && !pgconn.Timeout(err):
		t.Fatalf("canceled query: %v", err)
	}
	if took > 5*time.Second {
		t.Fatalf("the canceled pg_sleep(10) returned after %s: the cancel did not reach the upstream", took)
	}
	var n int
	if err := c.QueryRow(ctx, "select count(*) from notes").Scan(&n); err != nil || n != 2 {
		t.Fatalf("session after the cancel: count %d, %v", n, err)
	}
	// The upstream backend stopped sleeping (the cancel reached it).
	super, err := pg.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(context.Background())
	waitUntil(t, 5*time.Second, "no pg_sleep running upstream", func() bool {
		var active int
		err := super.QueryRow(ctx, "select count(*) from pg_stat_activity where usename = $1 and query like 'select pg_sleep%' and state = 'active'", role).Scan(&active)
		return err == nil && active == 0
	})

	// psql through the relay too: its own startup, COPY and error paths.
	ps := newClient(t, rl.addr(), "app", tok)
	r := ps.psql("select body from notes order by id;\nselect * from other_missing;\n\\copy notes to stdout\n", "-v", "ON_ERROR_STOP=0")
	if r.code != 0 || !strings.Contains(r.stdout, marker) || !strings.Contains(r.stderr, "other_missing") {
		t.Fatalf("psql through the relay: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// Upstream logins that fail: a database that does not exist, and a
	// wrong password. The client learns which connection failed, nothing
	// about the upstream.
	for _, name := range []string{"missingdb", "wrongpw"} {
		_, err := tryConnect(t, rl.addr(), name, tok)
		if err == nil {
			t.Fatalf("connection %q opened a session", name)
		}
		pe := pgError(t, err)
		want := `sluice could not connect to the database behind connection "` + name + `"; ask an operator to check the gateway log`
		if pe.Code != "08006" || pe.Message != want || pe.Detail != "" || pe.Hint != "" {
			t.Errorf("%s: got %s %q detail %q hint %q, want 08006 %q", name, pe.Code, pe.Message, pe.Detail, pe.Hint, want)
		}
		r := newClient(t, rl.addr(), name, tok).psql("", "-c", "select 1")
		if r.code != 2 || !strings.Contains(r.stderr, `behind connection "`+name+`"`) {
			t.Errorf("psql to %s: exit %d, stderr %q", name, r.code, r.stderr)
		}
		// psql prefixes the server's message with the address it dialed
		// (the relay's); what follows FATAL: is the gateway's.
		_, fromServer, _ := strings.Cut(r.stderr, "FATAL:")
		for _, s := range []string{role, missingDB, pg.Addr(), strconv.Itoa(pg.Port()), "password", "authentication"} {
			if strings.Contains(pe.Message, s) || strings.Contains(fromServer, s) {
				t.Errorf("%s: the refusal shows %q: %q / %q", name, s, pe.Message, fromServer)
			}
		}
	}

	// While the gateway runs, its state.db has a -wal file too.
	checkDataDir(t, cfg.dataDir, canary, tok)

	c.Close(ctx)
	g.waitIdle()
	g.stopClean()
	rl.close()

	toClient, toServer, conns := rl.seen()
	t.Logf("relay: %d connections, %d bytes to clients, %d bytes to sluice", conns, len(toClient), len(toServer))
	// The capture is real: it holds what the clients saw.
	for _, want := range []string{marker, "division by zero", "no_such_table", "canceling statement due to user request", `behind connection "wrongpw"`} {
		if !bytes.Contains(toClient, []byte(want)) {
			t.Errorf("the relay did not capture %q going to the clients: the capture is broken", want)
		}
	}
	if conns < 6 {
		t.Errorf("the relay saw %d connections, want at least 6 (sessions, cancel, refusals)", conns)
	}
	if bytes.Contains(toClient, []byte(canary)) || bytes.Contains(toServer, []byte(canary)) {
		t.Error("LEAK: the upstream password (canary) crossed the client side of the gateway")
	}
	if bytes.Contains(toClient, []byte(tok)) {
		t.Error("LEAK: the gateway sent the token back to a client")
	}

	logs := g.logs()
	for _, name := range []string{"missingdb", "wrongpw"} {
		if !strings.Contains(logs, "upstream connect failed") || !strings.Contains(logs, "connection="+name) {
			t.Errorf("the gateway log lacks the failed upstream login of %s: the log capture is broken", name)
		}
	}
	if strings.Contains(logs, canary) {
		t.Error("LEAK: the canary is in the gateway's stdout/stderr")
	}
	assertNoToken(t, "the gateway's stdout/stderr", logs, tok)

	checkDataDir(t, cfg.dataDir, canary, tok)
}

// checkDataDir reads every file under dataDir and fails the test if one
// holds the canary or the token. As a control, some file must hold the text
// of a statement the session ran: the search reads real records.
func checkDataDir(t *testing.T, dataDir, canary, tok string) {
	t.Helper()
	const control = "select * from no_such_table"
	var files, withControl []string
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dataDir, path)
		files = append(files, rel)
		if bytes.Contains(b, []byte(control)) {
			withControl = append(withControl, rel)
		}
		if bytes.Contains(b, []byte(canary)) {
			t.Errorf("LEAK: the canary is in %s", path)
		}
		assertNoToken(t, path, string(b), tok)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("data_dir files checked: %v; %q found in %v", files, control, withControl)
	if len(withControl) == 0 {
		t.Errorf("no file under data_dir holds %q: the search does not read the records", control)
	}
	for _, want := range []string{"state.db", filepath.Join("keys", "service-token.key")} {
		if !slices.Contains(files, want) {
			t.Errorf("data_dir lacks %s: the walk checked %v", want, files)
		}
	}
}
