package s3server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/testkit"
)

// Version is the release of the Versity S3 Gateway that Binary builds.
const Version = "v1.8.0"

// versitygwPackage is the main package built by Binary.
const versitygwPackage = "github.com/versity/versitygw/cmd/versitygw"

// BinaryEnv names the environment variable that gives a versitygw binary
// to use instead of the one Binary builds.
const BinaryEnv = "SLUICE_VERSITYGW"

// buildTimeout bounds the build, including the wait for another test
// binary building it. A cold build (module downloads, no build cache)
// takes one to two minutes on two cores.
const buildTimeout = 8 * time.Minute

// install is the outcome of the one Binary call per test binary that does
// the work.
var install struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of the versitygw executable: the file named by
// SLUICE_VERSITYGW, else <user cache dir>/sluice/versitygw-<Version>/versitygw,
// built there on first use with `go install` from the Go module proxy.
// The build is guarded by a file lock, so parallel test binaries build it
// once, and is atomic: a failed or interrupted build leaves nothing at the
// final path. Safe for concurrent use; only the first call does the work.
func Binary() (string, error) {
	install.once.Do(func() { install.path, install.err = findOrBuild() })
	return install.path, install.err
}

func findOrBuild() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if !testkit.IsExecutable(p) {
			return "", fmt.Errorf("%s=%s is not an executable file", BinaryEnv, p)
		}
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "sluice", "versitygw-"+Version)
	bin := filepath.Join(dir, "versitygw")
	if testkit.IsExecutable(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("versitygw cache: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	unlock, err := testkit.LockFile(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if testkit.IsExecutable(bin) { // another test binary built it while we waited
		return bin, nil
	}
	if err := build(ctx, dir, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// build runs `go install` into a temporary directory under dir and moves
// the executable to bin.
func build(ctx context.Context, dir, bin string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building versitygw needs the go command on PATH (or set %s): %w", BinaryEnv, err)
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return fmt.Errorf("versitygw cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, goBin, "install", "-trimpath", versitygwPackage+"@"+Version)
	cmd.Dir = tmp // outside any module: the build uses versitygw's own go.mod
	cmd.Env = append(os.Environ(),
		"GOBIN="+tmp,
		"GOFLAGS=-buildvcs=false", // drop the caller's -mod, -race, -tags and the like
		"GOWORK=off",
		"GO111MODULE=on",
		"CGO_ENABLED=0",
	)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("build versitygw %s (go install %s@%s, %s): %w\n%s",
			Version, versitygwPackage, Version, time.Since(start).Round(time.Second), err, tail(out, 4096))
	}
	if err := os.Rename(filepath.Join(tmp, "versitygw"), bin); err != nil {
		return fmt.Errorf("versitygw cache: %w", err)
	}
	return nil
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
