package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRefusals checks that every refusal carries the SQLSTATE a user can act
// on, and that none leaks the upstream credential, address or the token.
func TestRefusals(t *testing.T) {
	t.Parallel()
	pg, db := newDatabase(t)
	role := pg.SCRAMUser()
	cfg := newConfig(t,
		[]connSpec{{Name: "app", Address: pg.Addr(), Database: db, User: role.Name, Password: role.Password}},
		[]policySpec{
			{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app"}},
			{Name: "remote-only", Subjects: []string{"group:remote"}, Connections: []string{"app"}, Sources: []string{"10.0.0.0/8"}},
		})
	g := startGateway(t, cfg)

	good := cfg.issue("good-bot", "agents")
	c := connect(t, g.pgAddr, "app", good)
	var one int
	if err := c.QueryRow(t.Context(), "select 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("control: a granted token does not work: %d %v", one, err)
	}

	// A token signed with another gateway's key (another data_dir): its
	// signature cannot verify here, like an expired or forged token.
	foreignCfg := newConfig(t, nil, nil)
	foreign := foreignCfg.issue("good-bot", "agents")
	if filepath.Dir(foreignCfg.dataDir) == filepath.Dir(cfg.dataDir) {
		t.Fatal("the foreign token must come from another data_dir")
	}

	cases := []struct {
		name, conn, token string
		code, msg         string // SQLSTATE and a part of the message
	}{
		{"garbage token", "app", "not-a-token-at-all-0123456789", "28P01", "token authentication failed"},
		{"forged service token", "app", "sluice_st_eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ", "28P01", "token authentication failed"},
		{"empty token", "app", "", "28P01", "token"},
		{"token of another data_dir", "app", foreign, "28P01", "token authentication failed"},
		{"unknown connection", "nosuchconn", good, "3D000", `"nosuchconn"`},
		{"no grant for the groups", "app", cfg.issue("lonely-bot", "other-group"), "42501", `"lonely-bot" has no grant for connection "app"`},
		{"grant restricted to 10.0.0.0/8", "app", cfg.issue("remote-bot", "remote"), "42501", `"remote-bot" has no grant for connection "app"`},
	}
	port := strconv.Itoa(pg.Port())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tryConnect(t, g.pgAddr, tc.conn, tc.token)
			if err == nil {
				t.Fatal("connection succeeded, want a refusal")
			}
			pe := pgError(t, err)
			if pe.Code != tc.code || !strings.Contains(pe.Message, tc.msg) || pe.Severity != "FATAL" {
				t.Fatalf("got %s %s %q, want FATAL %s containing %q", pe.Severity, pe.Code, pe.Message, tc.code, tc.msg)
			}
			all := strings.Join([]string{pe.Message, pe.Detail, pe.Hint}, "\n")
			for _, secret := range []string{role.Password, pg.Addr(), port, db} {
				if strings.Contains(all, secret) {
					t.Errorf("refusal %q leaks %q (upstream password, address or database)", all, secret)
				}
			}
			if tc.token != "" {
				assertNoToken(t, "refusal", all, tc.token)
			}
		})
	}

	// psql shows the same refusals, so a user sees them as text.
	r := newClient(t, g.pgAddr, "nosuchconn", good).psql("", "-c", "select 1")
	if r.code != 2 || !strings.Contains(r.stderr, `connection "nosuchconn" does not exist`) {
		t.Errorf("psql to an unknown connection: exit %d, stderr %q", r.code, r.stderr)
	}
	assertNoToken(t, "sluice serve output", g.logs(), good)
	assertNoToken(t, "sluice serve output", g.logs(), foreign)
}
