package azurite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/internal/testkit"
)

// Environment variables that steer where Azurite comes from.
const (
	// BinEnv names an azurite-blob executable (or its main .js file) to
	// use instead of searching.
	BinEnv = "SLUICE_AZURITE_BIN"
	// DirEnv names the directory Azurite is installed into and found in.
	DirEnv = "SLUICE_AZURITE_DIR"
)

// npmPackage is what gets installed; the stamp file records it, so
// changing it reinstalls.
const npmPackage = "azurite@3"

// installTimeout bounds npm install, and the wait for another test
// binary's install.
const installTimeout = 10 * time.Minute

// found caches the executable for the life of the test binary.
var found struct {
	mu  sync.Mutex
	bin string
}

// findOrInstall returns the path of azurite-blob: BinEnv, else
// azurite-blob on PATH, else an install in a cache directory, made now if
// there is none.
func findOrInstall(ctx context.Context) (string, error) {
	found.mu.Lock()
	defer found.mu.Unlock()
	if found.bin != "" {
		return found.bin, nil
	}
	bin, err := locate(ctx)
	if err != nil {
		return "", err
	}
	found.bin = bin
	return bin, nil
}

func locate(ctx context.Context) (string, error) {
	if p := os.Getenv(BinEnv); p != "" {
		if !testkit.IsExecutable(p) && !strings.HasSuffix(p, ".js") {
			return "", fmt.Errorf("%s=%s is not an executable file", BinEnv, p)
		}
		return p, nil
	}
	if p, err := exec.LookPath("azurite-blob"); err == nil {
		return p, nil
	}
	dirs := cacheDirs()
	for _, dir := range dirs {
		if installed(dir) {
			return binIn(dir), nil
		}
	}
	var tried []string
	for _, dir := range dirs {
		err := os.MkdirAll(dir, 0o755)
		if err == nil {
			var bin string
			if bin, err = install(ctx, dir); err == nil {
				return bin, nil
			}
		}
		if !errors.Is(err, fs.ErrPermission) && !errors.Is(err, syscall.EROFS) {
			return "", err
		}
		tried = append(tried, err.Error())
	}
	return "", fmt.Errorf("no writable directory to install Azurite into (%s); set %s", strings.Join(tried, "; "), DirEnv)
}

// cacheDirs lists the directories Azurite may be installed in, preferred
// first: DirEnv alone if set, else $XDG_CACHE_HOME/sluice-test/azurite,
// /var/cache/sluice-test/azurite and the user's cache directory.
func cacheDirs() []string {
	if d := os.Getenv(DirEnv); d != "" {
		return []string{d}
	}
	var dirs []string
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		dirs = append(dirs, filepath.Join(d, "sluice-test", "azurite"))
	}
	dirs = append(dirs, "/var/cache/sluice-test/azurite")
	if d, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(d, "sluice-test", "azurite"))
	}
	return dirs
}

func binIn(dir string) string { return filepath.Join(dir, "node_modules", ".bin", "azurite-blob") }

func stampIn(dir string) string { return filepath.Join(dir, ".sluice-installed") }

// installed reports whether a complete install of npmPackage is in dir.
// The stamp is written only after npm succeeded, so a half-done install
// does not count.
func installed(dir string) bool {
	b, err := os.ReadFile(stampIn(dir))
	return err == nil && strings.TrimSpace(string(b)) == npmPackage && testkit.IsExecutable(binIn(dir))
}

// install runs npm install into dir under an exclusive file lock, unless
// the test binary that held the lock before has installed it meanwhile.
func install(ctx context.Context, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, installTimeout)
	defer cancel()
	unlock, err := testkit.LockFile(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if installed(dir) {
		return binIn(dir), nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("Azurite is not installed and npm is not on PATH: install Node.js and npm " +
			"(apt-get install nodejs npm), or Azurite itself (npm install -g azurite), or set " + BinEnv)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", errors.New("node is not on PATH: install Node.js (apt-get install nodejs)")
	}
	if err := os.Remove(stampIn(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", dir,
		"--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error", npmPackage)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install %s into %s: %w\n%s", npmPackage, dir, err, out)
	}
	if !testkit.IsExecutable(binIn(dir)) {
		return "", fmt.Errorf("npm install %s into %s: %s is missing afterwards", npmPackage, dir, binIn(dir))
	}
	if err := os.WriteFile(stampIn(dir), []byte(npmPackage+"\n"), 0o644); err != nil {
		return "", err
	}
	return binIn(dir), nil
}

// command returns how to run the azurite-blob at bin: through node when it
// is a JavaScript file (npm's .bin entries link to one), so that it does
// not depend on PATH holding node, else directly.
func command(bin string) (string, []string, error) {
	target, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return "", nil, fmt.Errorf("resolve %s: %w", bin, err)
	}
	if !strings.HasSuffix(target, ".js") {
		return bin, nil, nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return "", nil, errors.New("node is not on PATH: install Node.js (apt-get install nodejs)")
	}
	return node, []string{target}, nil
}
