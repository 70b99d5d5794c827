// Package s3server runs a real S3-compatible server for tests: the Versity
// S3 Gateway (versitygw, Apache 2.0) with its posix backend, which keeps
// each bucket as a directory and each object as a file.
//
// The server is built from source on first use (see Binary) and started
// per test on 127.0.0.1 and a free port, with data in the test's
// temporary directory, credentials of its own and region us-east-1. It
// implements what sluice's S3 store relies on: path-style requests with
// Signature V4, Content-MD5 checks, conditional writes (If-None-Match: *
// answered with 412 for an existing object), bucket versioning, and S3
// Object Lock (buckets created with Object Lock enabled, per-object
// retention sent with PUT, reported by HEAD and enforced on delete).
// Known gap: versitygw v1.8.0 answers GetObjectRetention with an XML root
// element (<ObjectLockRetention>) that minio-go does not accept; read the
// retention with StatObject's x-amz-object-lock-* headers instead.
//
//	srv := s3server.Start(t)
//	store, err := s3.Open(ctx, s3.Config{Endpoint: srv.Endpoint, Region: srv.Region,
//		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Bucket: "audit", CreateBucket: true})
//
// Stop and Restart take the server down and bring it back on the same
// port with the same data.
package s3server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Region is the region the server answers for.
const Region = "us-east-1"

const (
	// startTimeout bounds the wait for a started server to answer.
	startTimeout = 30 * time.Second
	// stopTimeout bounds the wait for a server to exit after SIGTERM,
	// before it is killed.
	stopTimeout = 10 * time.Second
	// startAttempts bounds the starts retried because the port was taken.
	startAttempts = 5
)

var (
	// errPortInUse marks a start that failed because the port was taken.
	errPortInUse = errors.New("port in use")
	// errExited marks a server found to have exited on its own.
	errExited = errors.New("versitygw had exited")
)

// Server is a running versitygw. Its lifecycle methods are safe for
// concurrent use and serialized; Endpoint and the credentials never
// change.
type Server struct {
	// Endpoint is host:port, for Config.Endpoint of an S3 client (plain
	// http).
	Endpoint string
	// AccessKey and SecretKey are the root account's credential, made up
	// for this server.
	AccessKey, SecretKey string
	// Region is the server's region, "us-east-1".
	Region string

	bin        string
	dir        string // the server's files: data, versions, log
	dataDir    string
	logFile    string
	healthPath string // answered 200 by this server only
	port       int

	mu       sync.Mutex // guards the fields below
	proc     *process   // nil while not running
	finished bool       // the test's cleanup has run
}

// Start builds versitygw if needed, starts it for tb and registers a
// cleanup that stops it (its files go with tb's temporary directory). It
// fails tb, never skips, when the server cannot be built or started.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		tb.Fatalf("s3server: %v", err)
	}
	dir := tb.TempDir()
	s := &Server{
		AccessKey:  "sluice-" + randomHex(4),
		SecretKey:  randomHex(20),
		Region:     Region,
		bin:        bin,
		dir:        dir,
		dataDir:    filepath.Join(dir, "data"),
		logFile:    filepath.Join(dir, "versitygw.log"),
		healthPath: "/_sluice_health_" + randomHex(8), // "_" is never in a bucket name
	}
	for _, d := range []string{s.dataDir, filepath.Join(dir, "versions")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			tb.Fatalf("s3server: %v", err)
		}
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("s3server: %s", s.logTail())
		}
		s.mu.Lock()
		s.finished = true
		s.mu.Unlock()
		if err := s.Stop(); err != nil {
			tb.Errorf("s3server: %v", err)
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startLocked(true); err != nil {
		tb.Fatalf("s3server: %v", err)
	}
	return s
}

// DataDir is the posix backend's root: bucket b's object k is the file
// DataDir()/b/k, with metadata (retention, checksums) in extended
// attributes.
func (s *Server) DataDir() string { return s.dataDir }

// Stop shuts the server down (SIGTERM to its process group, SIGKILL after
// ten seconds) and keeps its files, so Restart can bring it back. It does
// nothing if the server is not running; a server that had exited on its
// own is reported as an error.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

// Restart starts the server again on the same port with the same data,
// after Stop; a running server is stopped first. It returns once the
// server answers. If another process took the port meanwhile, Restart
// retries for a moment and then fails.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return errors.New("s3server: restart after the test's cleanup")
	}
	if err := s.stopLocked(); err != nil && !errors.Is(err, errExited) {
		return err
	}
	return s.startLocked(false)
}

func (s *Server) stopLocked() error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if p.exited() {
		return fmt.Errorf("s3server: %w (%s): %v\n%s", errExited, s.Endpoint, p.err, s.logTail())
	}
	p.signalGroup(syscall.SIGTERM)
	if p.wait(stopTimeout) {
		return nil
	}
	p.signalGroup(syscall.SIGKILL)
	if !p.wait(stopTimeout) {
		return fmt.Errorf("s3server: versitygw %d on %s still running after SIGKILL", p.pid(), s.Endpoint)
	}
	return fmt.Errorf("s3server: versitygw on %s ignored SIGTERM for %s; killed it", s.Endpoint, stopTimeout)
}

// startLocked starts the server and waits until it answers. With newPort
// it picks a free port per attempt; otherwise it keeps s.port and retries
// after a short pause, for a port briefly held by someone else.
func (s *Server) startLocked(newPort bool) error {
	var err error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		if newPort {
			if s.port, err = freePort(); err != nil {
				return err
			}
			s.Endpoint = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		} else if attempt > 1 {
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		if err = s.launchLocked(); !errors.Is(err, errPortInUse) {
			return err
		}
	}
	return fmt.Errorf("s3server: %d attempts: %w", startAttempts, err)
}

// launchLocked makes one start attempt; on failure nothing keeps running.
func (s *Server) launchLocked() error {
	logf, err := os.OpenFile(s.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("s3server: open log: %w", err)
	}
	defer logf.Close() // the child has its own copy
	logStart, _ := logf.Seek(0, io.SeekEnd)
	cmd := exec.Command(s.bin,
		"--port", s.Endpoint,
		"--health", s.healthPath,
		"--quiet",
		"posix",
		"--versioning-dir", filepath.Join(s.dir, "versions"),
		s.dataDir)
	cmd.Dir = s.dir
	// A clean environment: versitygw reads many VGW_* variables.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + s.dir,
		"ROOT_ACCESS_KEY_ID=" + s.AccessKey,
		"ROOT_SECRET_ACCESS_KEY=" + s.SecretKey,
		"VGW_REGION=" + s.Region,
	}
	cmd.Stdout = logf
	cmd.Stderr = logf
	p, err := startProcess(cmd)
	if err != nil {
		return fmt.Errorf("s3server: start versitygw: %w", err)
	}
	if err := s.waitReady(p, logStart); err != nil {
		p.signalGroup(syscall.SIGKILL)
		p.wait(stopTimeout)
		return err
	}
	s.proc = p
	return nil
}

// waitReady polls the health endpoint, with a short backoff, until the
// server answers 200. It fails early when the process exits, and after
// startTimeout.
func (s *Server) waitReady(p *process, logStart int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := "http://" + s.Endpoint + s.healthPath
	backoff := 5 * time.Millisecond
	var last error
	for {
		if p.exited() {
			return s.exitError(p, logStart)
		}
		if last = probe(ctx, client, url); last == nil {
			return nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-p.done:
			t.Stop()
			return s.exitError(p, logStart)
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("s3server: versitygw on %s not ready within %s (last attempt: %v)\n%s",
				s.Endpoint, startTimeout, last, s.logTail())
		case <-t.C:
		}
		backoff = min(backoff*2, 200*time.Millisecond)
	}
}

func probe(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: HTTP %d", resp.StatusCode)
	}
	return nil
}

func (s *Server) exitError(p *process, logStart int64) error {
	since := s.logSince(logStart)
	err := fmt.Errorf("s3server: versitygw on %s exited during start: %v\n%s", s.Endpoint, p.err, s.logTail())
	if strings.Contains(since, "address already in use") {
		return fmt.Errorf("%w: %w", errPortInUse, err)
	}
	return err
}

// logSince returns the log written after offset (at most 64 KiB of it).
func (s *Server) logSince(offset int64) string {
	f, err := os.Open(s.logFile)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, 1<<16))
	return string(b)
}

// logTail returns the end of the server's log, labelled, for messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return fmt.Sprintf("(no versitygw log: %v)", err)
	}
	return "--- tail of " + s.logFile + " ---\n" + tail(b, 4096)
}

// process is one running versitygw, started and reaped by a goroutine
// that holds its OS thread for the process's whole life, so that the
// parent-death signal (sent when that thread dies) fires only when the
// test binary does.
type process struct {
	proc *os.Process
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // exit status; valid after done is closed
}

// startProcess starts cmd in a process group of its own.
func startProcess(cmd *exec.Cmd) (*process, error) {
	p := &process{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine, after the
		// process has exited.
		runtime.LockOSThread()
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		setParentDeathSignal(cmd.SysProcAttr, syscall.SIGKILL)
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.proc = cmd.Process
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

func (p *process) pid() int { return p.proc.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signalGroup sends sig to the process's group; a no-op once it has
// exited (its group id may then be reused).
func (p *process) signalGroup(sig syscall.Signal) {
	if !p.exited() {
		_ = syscall.Kill(-p.proc.Pid, sig)
	}
}

// wait waits up to d for the process to exit and reports whether it did.
func (p *process) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("s3server: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}
