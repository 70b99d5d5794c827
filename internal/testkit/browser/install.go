package browser

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

// Environment variables that steer where Chromium and Playwright come from.
const (
	// ChromiumEnv names the Chromium executable to use instead of
	// /usr/bin/chromium.
	ChromiumEnv = "SLUICE_CHROMIUM"
	// DirEnv names the directory playwright-core is installed into and
	// found in.
	DirEnv = "SLUICE_PLAYWRIGHT_DIR"
)

// DebianChromium is where Debian's chromium package puts the browser.
const DebianChromium = "/usr/bin/chromium"

// aptPackages are installed when Chromium is missing: the browser, and a
// font so that pages render text.
var aptPackages = []string{"chromium", "fonts-dejavu-core"}

// npmPackage is the Playwright client that drives Chromium; the stamp file
// records it, so changing it reinstalls. 1.64.1 is known to drive Debian's
// Chromium 156.
const npmPackage = "playwright-core@1.64.1"

// installTimeout bounds each install, and the wait for another test
// binary's install.
const installTimeout = 15 * time.Minute

// tools is what a Browser runs: node, the playwright-core module directory
// and the Chromium executable.
type tools struct {
	node       string
	playwright string // the directory of the playwright-core module
	chromium   string
	installed  []string // what this call installed, and how long it took, for the log
}

// found caches the tools for the life of the test binary.
var found struct {
	mu sync.Mutex
	t  *tools
}

// findOrInstall returns the tools, installing Chromium with apt-get and
// playwright-core with npm if they are missing.
func findOrInstall(ctx context.Context) (*tools, error) {
	found.mu.Lock()
	defer found.mu.Unlock()
	if found.t != nil {
		return found.t, nil
	}
	t := &tools{}
	var err error
	if t.node, err = exec.LookPath("node"); err != nil {
		return nil, errors.New("node is not on PATH: install Node.js and npm (apt-get install nodejs npm)")
	}
	if t.chromium, err = findChromium(ctx, &t.installed); err != nil {
		return nil, err
	}
	if t.playwright, err = findPlaywright(ctx, &t.installed); err != nil {
		return nil, err
	}
	found.t = t
	return t, nil
}

// findChromium returns ChromiumEnv, else DebianChromium, installing
// Debian's package if it is not there.
func findChromium(ctx context.Context, log *[]string) (string, error) {
	if p := os.Getenv(ChromiumEnv); p != "" {
		if !testkit.IsExecutable(p) {
			return "", fmt.Errorf("%s=%s is not an executable file", ChromiumEnv, p)
		}
		return p, nil
	}
	if testkit.IsExecutable(DebianChromium) {
		return DebianChromium, nil
	}
	if err := aptInstall(ctx, log); err != nil {
		return "", fmt.Errorf("chromium is not installed (%s) and installing it failed: %w\n"+
			"install it with `apt-get install %s`, or set %s to a Chromium executable",
			DebianChromium, err, strings.Join(aptPackages, " "), ChromiumEnv)
	}
	if !testkit.IsExecutable(DebianChromium) {
		return "", fmt.Errorf("apt-get installed chromium but %s is missing", DebianChromium)
	}
	return DebianChromium, nil
}

// aptInstall installs aptPackages under a file lock, so that parallel test
// binaries do not race; apt's own lock is waited for as well, for an
// apt-get that someone else runs.
func aptInstall(ctx context.Context, log *[]string) error {
	ctx, cancel := context.WithTimeout(ctx, installTimeout)
	defer cancel()
	if os.Geteuid() != 0 {
		return errors.New("not running as root, so cannot apt-get install")
	}
	apt, err := exec.LookPath("apt-get")
	if err != nil {
		return errors.New("apt-get is not on PATH")
	}
	lockDir := "/var/cache/sluice-test"
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return err
	}
	unlock, err := testkit.LockFile(ctx, filepath.Join(lockDir, "apt.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if testkit.IsExecutable(DebianChromium) {
		return nil // another test binary installed it while we waited
	}
	start := time.Now()
	run := func(args ...string) error {
		args = append([]string{"-q", "-y", "-o", "DPkg::Lock::Timeout=600"}, args...)
		cmd := exec.CommandContext(ctx, apt, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.WaitDelay = 5 * time.Second
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tail(string(out), 40))
		}
		return nil
	}
	install := append([]string{"install", "--no-install-recommends"}, aptPackages...)
	if err := run(install...); err != nil {
		// The package lists may be missing or stale on a fresh machine.
		if uerr := run("update"); uerr != nil {
			return errors.Join(err, uerr)
		}
		if err := run(install...); err != nil {
			return err
		}
	}
	*log = append(*log, fmt.Sprintf("apt-get install %s took %s", strings.Join(aptPackages, " "), time.Since(start).Round(time.Second)))
	return nil
}

// findPlaywright returns the playwright-core module directory of an install
// in a cache directory, made now if there is none.
func findPlaywright(ctx context.Context, log *[]string) (string, error) {
	dirs := cacheDirs()
	for _, dir := range dirs {
		if installed(dir) {
			return moduleIn(dir), nil
		}
	}
	var tried []string
	for _, dir := range dirs {
		err := os.MkdirAll(dir, 0o755)
		if err == nil {
			if err = npmInstall(ctx, dir, log); err == nil {
				return moduleIn(dir), nil
			}
		}
		if !errors.Is(err, fs.ErrPermission) && !errors.Is(err, syscall.EROFS) {
			return "", err
		}
		tried = append(tried, err.Error())
	}
	return "", fmt.Errorf("no writable directory to install %s into (%s); set %s", npmPackage, strings.Join(tried, "; "), DirEnv)
}

// cacheDirs lists the directories playwright-core may be installed in,
// preferred first: DirEnv alone if set, else
// $XDG_CACHE_HOME/sluice-test/playwright, /var/cache/sluice-test/playwright
// and the user's cache directory.
func cacheDirs() []string {
	if d := os.Getenv(DirEnv); d != "" {
		return []string{d}
	}
	var dirs []string
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		dirs = append(dirs, filepath.Join(d, "sluice-test", "playwright"))
	}
	dirs = append(dirs, "/var/cache/sluice-test/playwright")
	if d, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(d, "sluice-test", "playwright"))
	}
	return dirs
}

func moduleIn(dir string) string { return filepath.Join(dir, "node_modules", "playwright-core") }

func stampIn(dir string) string { return filepath.Join(dir, ".sluice-installed") }

// installed reports whether a complete install of npmPackage is in dir.
// The stamp is written only after npm succeeded, so a half-done install
// does not count.
func installed(dir string) bool {
	b, err := os.ReadFile(stampIn(dir))
	if err != nil || strings.TrimSpace(string(b)) != npmPackage {
		return false
	}
	_, err = os.Stat(filepath.Join(moduleIn(dir), "package.json"))
	return err == nil
}

// npmInstall runs npm install into dir under an exclusive file lock, unless
// the test binary that held the lock before has installed it meanwhile.
func npmInstall(ctx context.Context, dir string, log *[]string) error {
	ctx, cancel := context.WithTimeout(ctx, installTimeout)
	defer cancel()
	unlock, err := testkit.LockFile(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if installed(dir) {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return errors.New("playwright-core is not installed and npm is not on PATH: install Node.js and npm (apt-get install nodejs npm)")
	}
	if err := os.Remove(stampIn(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", dir,
		"--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error", npmPackage)
	cmd.Dir = dir
	// playwright-core downloads no browser, but say so in case that changes:
	// this machine's Chromium comes from Debian.
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm install %s into %s: %w\n%s", npmPackage, dir, err, out)
	}
	if _, err := os.Stat(filepath.Join(moduleIn(dir), "package.json")); err != nil {
		return fmt.Errorf("npm install %s into %s: the module is missing afterwards: %w", npmPackage, dir, err)
	}
	if err := os.WriteFile(stampIn(dir), []byte(npmPackage+"\n"), 0o644); err != nil {
		return err
	}
	*log = append(*log, fmt.Sprintf("npm install %s took %s", npmPackage, time.Since(start).Round(100*time.Millisecond)))
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[%d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
