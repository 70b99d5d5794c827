// Package browser runs a real headless Chromium for tests of web pages,
// driven from Go through playwright-core, so that a test can interleave
// browser steps with its own (start psql, approve the statement in the
// browser, see psql return):
//
//	b := browser.Start(t)
//	p := b.NewPage(t)
//	p.Goto(consoleURL)
//	p.Fill("#username", "alice")
//	p.Click("#login")
//	p.WaitText("#pending", "DROP TABLE")
//	p.Screenshot("pending")
//
// Every Page method waits up to the page's timeout (DefaultTimeout) and
// fails the test with the page's URL, a screenshot and the page's recent
// console messages when it cannot do what it was asked.
//
// Chromium is Debian's (/usr/bin/chromium, or SLUICE_CHROMIUM); when it is
// missing and the test runs as root, Start installs the chromium package
// with apt-get, once, under a file lock. playwright-core (npmPackage) is
// installed with npm into a cache directory ($SLUICE_PLAYWRIGHT_DIR alone if
// set, else $XDG_CACHE_HOME/sluice-test/playwright,
// /var/cache/sluice-test/playwright, then the user's cache directory), also
// once. Playwright's own browser download is never used. Tests fail, never
// skip, when either cannot be found or installed.
//
// Each Browser is one node process (driver.js) holding one Chromium. Both
// end when the test ends, and, on Linux, when the test binary dies: node
// has a parent-death signal, and so has Chromium, through a wrapper that
// starts it with setpriv. Screenshots and a log of the steps go to an
// artifacts directory: $SLUICE_TEST_ARTIFACTS/<test name> when that is set
// (a relative path is taken from the module root), else a temporary
// directory that is removed with the test. Set DEBUG=pw:browser to get
// Chromium's own output into the driver log.
package browser

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ArtifactsEnv names the directory that keeps screenshots and step logs
// after the test; each test gets a subdirectory named after it.
const ArtifactsEnv = "SLUICE_TEST_ARTIFACTS"

// DefaultTimeout bounds each Page action unless SetTimeout says otherwise.
const DefaultTimeout = 15 * time.Second

const (
	startTimeout = 90 * time.Second // for node to launch Chromium
	stopGrace    = 10 * time.Second // for browser.close, then between SIGTERM and SIGKILL
	replySlack   = 10 * time.Second // past an action's timeout before the driver counts as hung
	maxSteps     = 1000             // steps kept for the step log
)

// chromiumArgs are the flags of every Chromium, on top of Playwright's own.
// This machine's network is closed: without the background-networking
// flags Chromium keeps trying to reach Google's hosts.
var chromiumArgs = []string{
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-dev-shm-usage",
}

//go:embed driver.js
var driverJS []byte

// Browser is a running driver with its Chromium. It is safe for concurrent
// use; each Page is not.
type Browser struct {
	tb        testing.TB
	version   string // Chromium's
	artifacts string
	kept      bool   // artifacts outlive the test
	logFile   string // the driver's stderr
	pidFile   string // Chromium's pid, written by the wrapper

	proc  *process
	stdin *os.File // requests to the driver
	wmu   sync.Mutex

	mu      sync.Mutex // guards the fields below
	nextID  int64
	pending map[int64]chan reply // closed without a value when the driver dies
	dead    error                // why the driver is gone; nil while it runs
	steps   []string

	ready     chan reply // the driver's first line
	readDone  chan struct{}
	shots     atomic.Int64
	closeOnce sync.Once
	closeErr  error
}

// request is one line to the driver.
type request struct {
	ID      int64          `json:"id"`
	Op      string         `json:"op"`
	Page    string         `json:"page,omitempty"`
	Args    map[string]any `json:"args,omitempty"`
	Timeout int64          `json:"timeout"` // milliseconds
}

// reply is one line from the driver: an answer to a request, the ready
// message or an event.
type reply struct {
	ID     int64           `json:"id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	URL    string          `json:"url"`

	Ready      *bool  `json:"ready"`
	Browser    string `json:"browser"`
	Playwright string `json:"playwright"`
	Event      string `json:"event"`
}

// actionError is an action the driver ran and Playwright refused, as
// opposed to a driver that is gone.
type actionError struct {
	msg string
	url string // the page's URL at the time, if known
}

func (e *actionError) Error() string { return e.msg }

// Start finds or installs Chromium and playwright-core, launches Chromium
// through the driver, and returns once it runs. A cleanup closes it when tb
// ends, logging the steps and the driver's log if the test failed. Start
// fails tb when the browser cannot be installed or started.
func Start(tb testing.TB) *Browser {
	tb.Helper()
	tl, err := findOrInstall(tb.Context())
	if err != nil {
		tb.Fatalf("browser: %v", err)
	}
	for _, line := range tl.installed {
		tb.Logf("browser: %s", line)
	}
	dir := tb.TempDir()
	b := &Browser{
		tb:       tb,
		logFile:  filepath.Join(dir, "driver.log"),
		pidFile:  filepath.Join(dir, "chromium.pids"),
		pending:  map[int64]chan reply{},
		ready:    make(chan reply, 1),
		readDone: make(chan struct{}),
	}
	if b.artifacts, b.kept, err = artifactsDir(tb, dir); err != nil {
		tb.Fatalf("browser: %v", err)
	}
	if err := b.launch(tl, dir); err != nil {
		tb.Fatalf("browser: %v", err)
	}
	tb.Cleanup(b.cleanup)
	select {
	case r := <-b.ready:
		if r.Ready == nil || !*r.Ready {
			tb.Fatalf("browser: the driver did not start Chromium: %s\n%s", r.Error, b.driverLog(40))
		}
		b.version = r.Browser
	case <-b.readDone:
		tb.Fatalf("browser: the driver exited before Chromium started: %v\n%s", b.deadErr(), b.driverLog(40))
	case <-time.After(startTimeout):
		tb.Fatalf("browser: Chromium did not start within %s\n%s", startTimeout, b.driverLog(40))
	}
	return b
}

// launch writes the driver and the Chromium wrapper into dir and starts
// node.
func (b *Browser) launch(tl *tools, dir string) error {
	driver := filepath.Join(dir, "driver.js")
	if err := os.WriteFile(driver, driverJS, 0o644); err != nil {
		return err
	}
	wrapper, err := chromiumWrapper(dir)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "tmp") // Chromium's profile goes here
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	args, _ := json.Marshal(chromiumArgs)
	env := append(os.Environ(),
		"SLUICE_PLAYWRIGHT_CORE="+tl.playwright,
		"SLUICE_CHROMIUM="+wrapper,
		"SLUICE_CHROMIUM_REAL="+tl.chromium,
		"SLUICE_CHROMIUM_ARGS="+string(args),
		"SLUICE_CHROMIUM_PIDS="+b.pidFile,
		"TMPDIR="+tmp,
	)

	logf, err := os.Create(b.logFile)
	if err != nil {
		return err
	}
	defer logf.Close()
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	b.proc, err = startProcess(tl.node, []string{driver}, env, dir, inR, outW, logf)
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return err
	}
	b.stdin = inW
	go b.readLoop(outR)
	return nil
}

// chromiumWrapper writes the script the driver launches as Chromium: it
// records Chromium's pid (Playwright puts Chromium in a process group of
// its own, which the driver's group kill would miss) and runs Chromium with
// a parent-death signal, so that Chromium dies with the driver.
func chromiumWrapper(dir string) (string, error) {
	run := `exec "$SLUICE_CHROMIUM_REAL" "$@"`
	if _, err := exec.LookPath("setpriv"); err == nil {
		run = `exec setpriv --pdeathsig KILL -- "$SLUICE_CHROMIUM_REAL" "$@"`
	}
	script := "#!/bin/sh\necho $$ >> \"$SLUICE_CHROMIUM_PIDS\"\n" + run + "\n"
	name := filepath.Join(dir, "chromium")
	return name, os.WriteFile(name, []byte(script), 0o755)
}

// readLoop reads the driver's stdout until it closes, handing each answer
// to its caller.
func (b *Browser) readLoop(out *os.File) {
	defer close(b.readDone)
	defer out.Close()
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	for sc.Scan() {
		var r reply
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue // not ours; the driver prints nothing else, but be lenient
		}
		switch {
		case r.Ready != nil:
			b.ready <- r
		case r.Event != "":
			// "disconnected": Chromium is gone; the driver exits next.
		default:
			b.mu.Lock()
			ch := b.pending[r.ID]
			delete(b.pending, r.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- r
			}
		}
	}
	err := sc.Err()
	if err == nil {
		err = errors.New("it closed its output")
	}
	b.mu.Lock()
	b.dead = fmt.Errorf("the browser driver is gone (%v)", err)
	for id, ch := range b.pending {
		close(ch)
		delete(b.pending, id)
	}
	b.mu.Unlock()
}

func (b *Browser) deadErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dead
}

// call sends one request and waits for its answer: the result, an
// *actionError when Playwright refused, or another error when the driver
// is gone or hung.
func (b *Browser) call(page, op string, args map[string]any, timeout time.Duration) (json.RawMessage, error) {
	ch := make(chan reply, 1)
	b.mu.Lock()
	if b.dead != nil {
		b.mu.Unlock()
		return nil, b.dead
	}
	b.nextID++
	id := b.nextID
	b.pending[id] = ch
	b.mu.Unlock()
	forget := func() {
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
	}

	line, err := json.Marshal(request{ID: id, Op: op, Page: page, Args: args, Timeout: timeout.Milliseconds()})
	if err != nil {
		forget()
		return nil, err
	}
	b.wmu.Lock()
	_, err = b.stdin.Write(append(line, '\n'))
	b.wmu.Unlock()
	if err != nil {
		forget()
		if d := b.deadErr(); d != nil {
			return nil, d
		}
		return nil, fmt.Errorf("send to the browser driver: %w", err)
	}

	t := time.NewTimer(timeout + replySlack)
	defer t.Stop()
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, b.deadErr()
		}
		if !r.OK {
			return nil, &actionError{msg: r.Error, url: r.URL}
		}
		return r.Result, nil
	case <-t.C:
		forget()
		return nil, fmt.Errorf("the browser driver did not answer %s within %s", op, timeout+replySlack)
	}
}

// step records an action for the step log.
func (b *Browser) step(page, what string, took time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "FAILED: " + firstLine(err.Error())
	}
	line := fmt.Sprintf("%s %s %s (%s) %s", time.Now().Format("15:04:05.000"), page, what, took.Round(time.Millisecond), outcome)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.steps) == maxSteps {
		b.steps = b.steps[1:]
	}
	b.steps = append(b.steps, line)
}

// Version returns Chromium's version, e.g. "156.0.8078.108".
func (b *Browser) Version() string { return b.version }

// ArtifactsDir returns the directory screenshots and the step log go to.
func (b *Browser) ArtifactsDir() string { return b.artifacts }

// Close closes Chromium and ends the driver, killing both if they do not
// go in time. It is idempotent; the test's cleanup calls it.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.shutdown() })
	return b.closeErr
}

func (b *Browser) shutdown() error {
	var errs []error
	if !b.proc.exited() && b.deadErr() == nil {
		if _, err := b.call("", "close", nil, stopGrace); err != nil {
			errs = append(errs, fmt.Errorf("close Chromium: %w", err))
		}
	}
	b.stdin.Close() // the driver also closes Chromium and exits on EOF
	if !b.proc.wait(stopGrace) {
		b.proc.signalGroup(syscall.SIGTERM)
		if !b.proc.wait(stopGrace) {
			b.proc.signalGroup(syscall.SIGKILL)
			if !b.proc.wait(stopGrace) {
				errs = append(errs, fmt.Errorf("the driver (pid %d) still runs after SIGKILL", b.proc.pid))
			}
		}
		errs = append(errs, fmt.Errorf("the driver (pid %d) did not exit within %s; killed it", b.proc.pid, stopGrace))
	}
	if err := b.killChromium(); err != nil {
		errs = append(errs, err)
	}
	<-b.readDone
	return errors.Join(errs...)
}

// chromiumPIDs returns the pids the wrapper recorded.
func (b *Browser) chromiumPIDs() []int {
	data, _ := os.ReadFile(b.pidFile)
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killChromium kills any Chromium of this browser still running once the
// driver is gone (it closes Chromium itself unless it was killed), with its
// process group, and waits for it to go.
func (b *Browser) killChromium() error {
	pids := b.chromiumPIDs()
	for _, pid := range pids {
		if isChromium(pid) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	deadline := time.Now().Add(stopGrace)
	for _, pid := range pids {
		for isChromium(pid) {
			if time.Now().After(deadline) {
				return fmt.Errorf("chromium (pid %d) still runs after SIGKILL", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// cleanup closes the browser at the end of the test, writes the step log
// into the artifacts, and reports what the browser did if the test failed.
func (b *Browser) cleanup() {
	err := b.Close()
	b.mu.Lock()
	steps := strings.Join(b.steps, "\n")
	b.mu.Unlock()
	_ = os.WriteFile(filepath.Join(b.artifacts, "steps.log"), []byte(steps+"\n"), 0o644)
	if log, rerr := os.ReadFile(b.logFile); rerr == nil && len(log) > 0 {
		_ = os.WriteFile(filepath.Join(b.artifacts, "driver.log"), log, 0o644)
	}
	if b.tb.Failed() {
		b.tb.Logf("browser: steps:\n%s", tail(steps, 40))
		if log := b.driverLog(40); log != "(empty)" {
			b.tb.Logf("browser: driver log:\n%s", log)
		}
		where := "set " + ArtifactsEnv + " to keep them"
		if b.kept {
			where = "kept"
		}
		b.tb.Logf("browser: screenshots and logs in %s (%s)", b.artifacts, where)
	}
	if err != nil {
		b.tb.Errorf("browser: %v", err)
	}
}

// driverLog returns the last n lines of the driver's stderr.
func (b *Browser) driverLog(n int) string {
	data, err := os.ReadFile(b.logFile)
	if err != nil {
		return err.Error()
	}
	if len(data) == 0 {
		return "(empty)"
	}
	return tail(string(data), n)
}

// usedArtifactDirs makes a second Browser in the same test use a directory
// of its own.
var usedArtifactDirs struct {
	mu   sync.Mutex
	dirs map[string]bool
}

// artifactsDir returns where tb's screenshots go: a fresh subdirectory of
// ArtifactsEnv named after the test when that is set, else one in tmp.
func artifactsDir(tb testing.TB, tmp string) (dir string, kept bool, err error) {
	root := os.Getenv(ArtifactsEnv)
	if root == "" {
		dir = filepath.Join(tmp, "artifacts")
		return dir, false, os.Mkdir(dir, 0o755)
	}
	if !filepath.IsAbs(root) {
		mod, err := moduleRoot()
		if err != nil {
			return "", false, fmt.Errorf("%s=%s is relative and %w", ArtifactsEnv, root, err)
		}
		root = filepath.Join(mod, root)
	}
	base := filepath.Join(root, safeName(tb.Name()))
	usedArtifactDirs.mu.Lock()
	defer usedArtifactDirs.mu.Unlock()
	if usedArtifactDirs.dirs == nil {
		usedArtifactDirs.dirs = map[string]bool{}
	}
	dir = base
	for n := 2; usedArtifactDirs.dirs[dir]; n++ {
		dir = base + "-" + strconv.Itoa(n)
	}
	usedArtifactDirs.dirs[dir] = true
	// Screenshots of an earlier run would mislead.
	if err := os.RemoveAll(dir); err != nil {
		return "", false, err
	}
	return dir, true, os.MkdirAll(dir, 0o755)
}

// moduleRoot returns the nearest directory at or above the working
// directory (a test's package directory) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// safeName turns a test or screenshot name into a file name.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
	s = strings.Trim(s, ".")
	if s == "" {
		return "_"
	}
	return s
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
