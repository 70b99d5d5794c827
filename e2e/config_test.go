package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigCheck runs `sluice config check` on a valid configuration and
// on one with several problems, and `sluice serve` on the latter.
func TestConfigCheck(t *testing.T) {
	t.Parallel()
	valid := newConfig(t,
		[]connSpec{{Name: "app", Address: "127.0.0.1:5432", Database: "app", User: "u", Password: "p"}},
		[]policySpec{{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app"}, Sources: []string{"127.0.0.0/8"}}})
	r := valid.run("config", "check")
	if r.code != 0 {
		t.Fatalf("config check of a valid config: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	want := valid.path + ": ok (1 connections, 1 policies, 0 OIDC issuers, service tokens on)\n"
	if r.stdout != want {
		t.Errorf("config check stdout = %q, want %q", r.stdout, want)
	}
	if _, err := os.Stat(valid.dataDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("config check created or touched data_dir %s (stat: %v); it must do no I/O beyond reading", valid.dataDir, err)
	}

	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	bad := fmt.Sprintf(`data_dir: %s
listen: {postgres: 127.0.0.1:0, http: 127.0.0.1:0}
tls: {allow_plaintext_loopback: true}
auth: {service_tokens: true}
connections:
  - name: app
    address: 127.0.0.1:5432
    database: app
    user: u
    pasword: secret
    sslmode: disable
  - name: other
    address: 127.0.0.1:5432
    database: other
    user: u
    password: "${NOPE}"
    sslmode: disable
policies:
  - name: agents
    subjects: ["group:agents"]
    connections: [app, ghost]
    sources: [10.0.0.0/33]
log: {level: debug}
`, dataDir)
	path := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	env := withoutVar(os.Environ(), "NOPE")
	wantProblems := []string{
		`connections[0].pasword: unknown key (did you mean "password"?)`,
		`connections[1].password: environment variable NOPE is not set`,
		`policies[0].sources[0]: "10.0.0.0/33" is not a CIDR`,
		`policies[0].connections[1]: unknown connection "ghost"`,
	}
	checkProblems := func(what string, r cliResult) {
		t.Helper()
		if r.code != 2 {
			t.Errorf("%s: exit code %d, want 2\nstdout: %s\nstderr: %s", what, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, fmt.Sprintf("%d problem(s)", len(wantProblems))) {
			t.Errorf("%s: stderr does not count %d problems:\n%s", what, len(wantProblems), r.stderr)
		}
		lines := map[string]bool{}
		for _, l := range strings.Split(r.stderr, "\n") {
			lines[strings.TrimSpace(l)] = true
		}
		for _, p := range wantProblems {
			if !lines[p] {
				t.Errorf("%s: problem line %q missing from stderr:\n%s", what, p, r.stderr)
			}
		}
		if strings.Contains(r.stdout+r.stderr, "secret") {
			t.Errorf("%s: output shows the value of the misspelled password key", what)
		}
	}
	checkProblems("config check", runSluice(t, env, "config", "check", "--config", path))

	// serve must refuse the same file before doing anything: exit 2, no
	// "serving" banner, no data_dir (so no state store, key or listener).
	r = runSluice(t, env, "serve", "--config", path)
	checkProblems("serve", r)
	if strings.Contains(r.stdout, "serving") {
		t.Errorf("serve with an invalid config printed a serving banner:\n%s", r.stdout)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("serve with an invalid config created data_dir %s (stat: %v)", dataDir, err)
	}
}

// withoutVar returns env without the variable name.
func withoutVar(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
