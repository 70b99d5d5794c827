package browser

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	for i := len(stat) - 1; i >= 0; i-- {
		if stat[i] == ')' {
			return i+2 < len(stat) && stat[i+2] != 'Z'
		}
	}
	return false
}

// gone waits up to 10 s for every pid to stop running.
func gone(t *testing.T, what string, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: pid %d still runs", what, pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// chromiumTree returns Chromium's pid and every process in its group (its
// helpers: zygotes, renderers, GPU and network services).
func chromiumTree(t *testing.T, b *Browser) []int {
	t.Helper()
	pids := b.chromiumPIDs()
	if len(pids) != 1 || !isChromium(pids[0]) {
		t.Fatalf("chromium pids %v", pids)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var tree []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pids[0] {
			tree = append(tree, pid)
		}
	}
	if len(tree) < 2 {
		t.Fatalf("chromium %d has no helper processes in its group: %v", pids[0], tree)
	}
	return tree
}

func TestCloseEndsEverything(t *testing.T) {
	b := Start(t)
	tree := chromiumTree(t, b)
	node := b.proc.pid
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	gone(t, "after Close", append(tree, node)...)
	if _, err := b.call("", "newPage", nil, time.Second); err == nil {
		t.Fatal("a closed browser opened a page")
	}
}

func TestKilledDriverTakesChromium(t *testing.T) {
	b := Start(t)
	tree := chromiumTree(t, b)
	p := b.NewPage(t)
	_ = p
	// SIGKILL leaves Playwright no chance to close Chromium: the
	// parent-death signal from the wrapper must do it.
	b.proc.signalGroup(syscall.SIGKILL)
	gone(t, "after the driver was killed", tree...)
	if _, err := b.call(p.id, "url", nil, time.Second); err == nil {
		t.Fatal("a dead driver answered")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close after the driver died: %v", err)
	}
}

// helperEnv makes TestDyingTestBinary's child start a browser, report its
// processes and exit without cleanup, as a test binary that crashes or
// times out does.
const helperEnv = "SLUICE_BROWSER_TEST_HELPER"

func TestDyingTestBinary(t *testing.T) {
	if out := os.Getenv(helperEnv); out != "" {
		b := Start(t)
		pids := append(chromiumTree(t, b), b.proc.pid)
		data, _ := json.Marshal(pids)
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Exit(0)
	}
	out := filepath.Join(t.TempDir(), "pids.json")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestDyingTestBinary$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	if err := json.Unmarshal(data, &pids); err != nil {
		t.Fatal(err)
	}
	gone(t, "after the test binary exited", pids...)
}
