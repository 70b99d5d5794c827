package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestServeKeepsSysmonAwake checks that `sluice serve` runs with Go's
// system monitor kept out of its deep sleep (GODEBUG schedtrace; see
// cmd/sluice/sysmon_linux.go), by executing itself again in the same
// process, and that an operator's own schedtrace setting is left alone.
func TestServeKeepsSysmonAwake(t *testing.T) {
	t.Parallel()
	pg, db := newDatabase(t)
	for _, tc := range []struct {
		name    string
		env     []string
		godebug string // want in the serving process's environment
	}{
		{"by default", nil, "schedtrace=2147483647"},
		{"other settings kept", []string{"GODEBUG=gctrace=0"}, "gctrace=0,schedtrace=2147483647"},
		{"the operator's choice", []string{"GODEBUG=schedtrace=0"}, "schedtrace=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := appConfig(t, pg, db, pg.SCRAMUser())
			cfg.env = []string{"GODEBUG="} // the test's own GODEBUG must not decide
			if tc.env != nil {
				cfg.env = tc.env
			}
			g := startGateway(t, cfg)
			// The process the test started is the one that serves, with
			// the setting in its environment: the exec kept the process.
			environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", g.cmd.Process.Pid))
			if err != nil {
				t.Fatal(err)
			}
			var godebug []string
			for _, kv := range strings.Split(string(environ), "\x00") {
				if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
					godebug = append(godebug, v)
				}
			}
			if !slices.Equal(godebug, []string{tc.godebug}) {
				t.Errorf("sluice serve runs with GODEBUG %q, want exactly %q", godebug, tc.godebug)
			}
			// It keeps the name it was started by (ps, top, pgrep).
			comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", g.cmd.Process.Pid))
			if want := filepath.Base(sluiceBin); err != nil || strings.TrimSpace(string(comm)) != want {
				t.Errorf("sluice serve's process is named %q (%v), want %q", comm, err, want)
			}
			var one int
			c := connect(t, g.pgAddr, "app", cfg.issue("sysmon-bot", "agents"))
			if err := c.QueryRow(t.Context(), "select 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("select 1 through the gateway: %d, %v", one, err)
			}
			if strings.Contains(g.stderr.String(), "default system monitor") {
				t.Errorf("sluice serve could not keep sysmon awake:\n%s", g.stderr.String())
			}
		})
	}
}
