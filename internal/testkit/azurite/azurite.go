// Package azurite starts Azurite, Microsoft's emulator of Azure Storage,
// for tests that need a real Blob service.
//
// Azurite is a Node.js program. Start uses, in this order: the file named
// by SLUICE_AZURITE_BIN; azurite-blob on PATH; an earlier install in a
// cache directory. When there is none it installs the npm package
// azurite@3 into the first usable cache directory ($SLUICE_AZURITE_DIR
// alone if set, else $XDG_CACHE_HOME/sluice-test/azurite,
// /var/cache/sluice-test/azurite, then the user's cache directory), once:
// a file lock there keeps parallel test binaries from installing at the
// same time. Installing needs node and npm on PATH and the npm registry.
// Tests fail, never skip, when Azurite cannot be found or installed.
//
// Every Azurite runs azurite-blob alone on 127.0.0.1, on a free port, with
// its data in a temporary directory, and knows only the well-known
// development account (AccountName, AccountKey):
//
//	az := azurite.Start(t)
//	client, err := container.NewClientFromConnectionString(az.ConnectionString(), "audit", nil)
package azurite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/testkit"
)

// The development account every Azurite knows. The key is public: it is
// in Microsoft's documentation and no secret.
const (
	AccountName = "devstoreaccount1"
	AccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// ErrClosed is returned by Stop and Restart after the test's cleanup has
// shut Azurite down for good.
var ErrClosed = errors.New("azurite: closed")

// errPortInUse marks a start that failed because the port was taken.
var errPortInUse = errors.New("port in use")

const (
	startAttempts = 5
	startTimeout  = time.Minute      // bounds each wait for Azurite to answer
	stopGrace     = 10 * time.Second // between SIGTERM and SIGKILL
)

// Azurite is one azurite-blob process and its data directory. Its methods
// are safe for concurrent use; Stop and Restart are serialized. Port and
// directories never change after Start returns.
type Azurite struct {
	name    string   // the program: node, or azurite-blob itself
	args    []string // its arguments before the per-start flags
	baseDir string
	dataDir string
	logFile string
	port    int

	mu     sync.Mutex // guards the fields below
	proc   *process   // nil while stopped
	closed bool
}

// Start finds or installs Azurite, starts azurite-blob on a free port of
// 127.0.0.1 with its data in a temporary directory of tb, and returns once
// it answers HTTP. A cleanup stops it (logging the tail of its log if the
// test failed). Start fails tb when Azurite cannot be found, installed or
// started.
func Start(tb testing.TB) *Azurite {
	tb.Helper()
	ctx := tb.Context()
	bin, err := findOrInstall(ctx)
	if err != nil {
		tb.Fatalf("azurite: %v", err)
	}
	name, args, err := command(bin)
	if err != nil {
		tb.Fatalf("azurite: %v", err)
	}
	base := tb.TempDir()
	a := &Azurite{
		name:    name,
		args:    args,
		baseDir: base,
		dataDir: filepath.Join(base, "data"),
		logFile: filepath.Join(base, "azurite.log"),
	}
	if err := os.Mkdir(a.dataDir, 0o755); err != nil {
		tb.Fatalf("azurite: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("azurite: %s", a.logTail())
		}
		if err := a.close(); err != nil {
			tb.Errorf("azurite: %v", err)
		}
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	for attempt := 1; attempt <= startAttempts; attempt++ {
		a.port = testkit.FreePort(tb)
		if err = a.launchLocked(ctx); !errors.Is(err, errPortInUse) {
			break
		}
	}
	if err != nil {
		tb.Fatalf("azurite: %v", err)
	}
	return a
}

// Host returns "127.0.0.1", the only address Azurite listens on.
func (a *Azurite) Host() string { return "127.0.0.1" }

// Port returns the blob service's port. It stays the same across Restart.
func (a *Azurite) Port() int { return a.port }

// Addr returns "127.0.0.1:PORT".
func (a *Azurite) Addr() string { return net.JoinHostPort(a.Host(), strconv.Itoa(a.port)) }

// BlobEndpoint returns the development account's blob service URL,
// http://127.0.0.1:PORT/devstoreaccount1 (Azurite is path-style: the
// account is the first path segment).
func (a *Azurite) BlobEndpoint() string { return "http://" + a.Addr() + "/" + AccountName }

// ContainerURL returns the URL of container in the development account.
func (a *Azurite) ContainerURL(container string) string {
	return a.BlobEndpoint() + "/" + container
}

// ConnectionString returns a connection string for the development
// account with its shared key.
func (a *Azurite) ConnectionString() string {
	return "DefaultEndpointsProtocol=http;AccountName=" + AccountName +
		";AccountKey=" + AccountKey + ";BlobEndpoint=" + a.BlobEndpoint() + ";"
}

// DataDir returns the directory Azurite keeps its data in (--location).
// It survives Stop and Restart.
func (a *Azurite) DataDir() string { return a.dataDir }

// LogFile returns the path of Azurite's output (its access log).
func (a *Azurite) LogFile() string { return a.logFile }

// Stop shuts Azurite down (SIGTERM to its process group, SIGKILL after ten
// seconds) and keeps its data, so Restart can bring it back with the same
// port and content. Stopping a stopped Azurite does nothing.
func (a *Azurite) Stop() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	return a.stopLocked()
}

// Restart starts Azurite again on the same port and data directory, after
// Stop; a running Azurite is stopped first. It returns once Azurite
// answers. If another process took the port meanwhile, Restart retries
// for a moment and then fails.
func (a *Azurite) Restart(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	if err := a.stopLocked(); err != nil {
		return fmt.Errorf("restart azurite: %w", err)
	}
	var err error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(time.Duration(attempt) * 100 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("restart azurite: %w (last attempt: %v)", ctx.Err(), err)
			case <-t.C:
			}
		}
		if err = a.launchLocked(ctx); !errors.Is(err, errPortInUse) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("restart azurite: %w", err)
	}
	return nil
}

// close stops Azurite for good; later Stop and Restart return ErrClosed.
func (a *Azurite) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	return a.stopLocked()
}

func (a *Azurite) stopLocked() error {
	p := a.proc
	if p == nil {
		return nil
	}
	a.proc = nil
	if p.exited() {
		return fmt.Errorf("azurite on %s had exited unexpectedly: %v\n%s", a.Addr(), p.err, a.logTail())
	}
	return p.stop(stopGrace)
}

// launchLocked makes one start on a.port and waits until Azurite answers;
// on failure nothing keeps running.
func (a *Azurite) launchLocked(ctx context.Context) error {
	logf, err := os.OpenFile(a.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logf.Close() // the child has its own copy
	logStart := a.logSize()
	args := append(append([]string(nil), a.args...),
		"--blobHost", a.Host(),
		"--blobPort", strconv.Itoa(a.port),
		"--location", a.dataDir,
		"--skipApiVersionCheck", // the SDK may speak a newer API version than Azurite knows
		"--loose",
		"--disableTelemetry",
	)
	p, err := startProcess(a.name, args, childEnv(), a.baseDir, logf)
	if err != nil {
		return err
	}
	if err := a.waitReady(ctx, p, logStart); err != nil {
		if stopErr := p.stop(time.Second); stopErr != nil && !p.exited() {
			return errors.Join(err, stopErr)
		}
		return err
	}
	a.proc = p
	return nil
}

// childEnv is the test process's environment without AZURITE_ variables,
// which could change the accounts Azurite knows.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AZURITE_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReady polls Azurite over HTTP with a short backoff until it answers
// as Azurite (its Server header), failing early when the process exits and
// after startTimeout.
func (a *Azurite) waitReady(ctx context.Context, p *process, logStart int64) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	backoff := 10 * time.Millisecond
	var last error
	for {
		if p.exited() {
			return a.exitError(p, logStart)
		}
		if last = a.probe(ctx, client); last == nil {
			return nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-p.done:
			t.Stop()
			return a.exitError(p, logStart)
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("azurite on %s not ready within %s: %w (last attempt: %v)\n%s",
				a.Addr(), startTimeout, ctx.Err(), last, a.logTail())
		case <-t.C:
		}
		backoff = min(backoff*2, 250*time.Millisecond)
	}
}

// probe makes one unauthenticated request; any answer from Azurite (403
// included) means it is up.
func (a *Azurite) probe(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.BlobEndpoint()+"?comp=list", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if server := resp.Header.Get("Server"); !strings.HasPrefix(server, "Azurite-Blob") {
		return fmt.Errorf("%w: port %d answers as %q, not Azurite", errPortInUse, a.port, server)
	}
	return nil
}

func (a *Azurite) exitError(p *process, logStart int64) error {
	err := fmt.Errorf("azurite on %s exited during start: %v\n%s", a.Addr(), p.err, a.logTail())
	if strings.Contains(a.logSince(logStart), "EADDRINUSE") {
		return fmt.Errorf("%w: %w", errPortInUse, err)
	}
	return err
}

func (a *Azurite) logSize() int64 {
	fi, err := os.Stat(a.logFile)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince returns the log written after offset (at most 64 KiB of it).
func (a *Azurite) logSince(offset int64) string {
	f, err := os.Open(a.logFile)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, 1<<16))
	return string(b)
}

// logTail returns the last lines of the log, labelled, for messages.
func (a *Azurite) logTail() string {
	const maxBytes, maxLines = 4096, 30
	b, err := os.ReadFile(a.logFile)
	if err != nil {
		return fmt.Sprintf("(no azurite log: %v)", err)
	}
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return "--- tail of " + a.logFile + " ---\n" + strings.Join(lines, "\n")
}
