package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/testkit"
)

// sluiceBin is the path of the sluice binary built by TestMain.
var sluiceBin string

// TestMain builds the binary once, runs the tests, and then does what
// testkit.RunMain does (stop the shared PostgreSQL server, exit with the
// tests' status) plus removing the build directory, which RunMain's
// os.Exit would otherwise leave behind.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	sluiceBin, err = buildSluice(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if err := testkit.StopShared(); err != nil {
		fmt.Fprintf(os.Stderr, "testkit: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildSluice builds ./cmd/sluice into dir and returns the binary's path.
// Under -race the binary is built with -race as well.
func buildSluice(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "sluice")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/sluice")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// moduleRoot is the directory of the module's go.mod: from `go env GOMOD`,
// or else the parent of this file's directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		return filepath.Dir(gomod), nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", fmt.Errorf("cannot find the module root (go env GOMOD: %v)", err)
	}
	return filepath.Dir(filepath.Dir(file)), nil
}
