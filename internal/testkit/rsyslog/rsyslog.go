// Package rsyslog starts real rsyslog daemons for tests of syslog senders.
//
// Each daemon runs Debian's rsyslogd in the foreground from a configuration
// of its own (no system configuration, no local sockets) in a temporary
// directory, and listens with imtcp on 127.0.0.1 and a free port, over
// plain TCP or, with Options.TLS, TLS only, with a certificate signed by a
// throwaway CA. Every message received is written to a file as one JSON
// line holding the raw message and what rsyslog's RFC 5424 parser read from
// it; Messages returns them.
//
// rsyslogd comes from the rsyslog package and the TLS drivers from
// rsyslog-gnutls ("gtls") and rsyslog-openssl ("ossl"); when they are
// missing, Start fails with a message saying what to install. Tests never
// skip for lack of them.
//
//	rs := rsyslog.Start(t, rsyslog.Options{TLS: true})
//	// send to rs.Addr(), trusting rs.CAFile()
//	msgs := rs.WaitMessages(t, 10)
package rsyslog

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options tune a daemon. The zero value is useful: plain TCP.
type Options struct {
	// TLS makes the listener accept TLS only, with a server certificate for
	// 127.0.0.1 and localhost signed by a CA whose file CAFile returns.
	TLS bool
	// Driver is rsyslog's TLS stream driver: "gtls" (GnuTLS, the default)
	// or "ossl" (OpenSSL).
	Driver string
	// StartTimeout bounds each start, until the daemon has written a probe
	// message. Default 30s.
	StartTimeout time.Duration
	// StopTimeout bounds Stop's wait for the daemon to exit after SIGTERM,
	// after which it is killed. Default 10s.
	StopTimeout time.Duration
	// WaitTimeout bounds WaitMessages. Default 10s.
	WaitTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Driver == "" {
		o.Driver = "gtls"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 10 * time.Second
	}
	if o.WaitTimeout == 0 {
		o.WaitTimeout = 10 * time.Second
	}
	return o
}

// Rsyslog is one rsyslogd under a test's control. Its methods are safe for
// concurrent use.
type Rsyslog struct {
	tb   testing.TB
	opts Options
	bin  string
	dir  string
	cfg  config
	conf string // rsyslog.conf
	pid  string // the pid file
	tls  *tls.Config

	mu   sync.Mutex
	proc *process // nil while stopped
}

// Start starts rsyslogd and waits until it writes messages received on its
// port. The test fails if it cannot; Cleanup stops it.
func Start(tb testing.TB, opts Options) *Rsyslog {
	tb.Helper()
	r, err := newRsyslog(tb, opts)
	if err != nil {
		tb.Fatalf("rsyslog: %v", err)
	}
	tb.Cleanup(r.cleanup)
	// A port found free may be taken before rsyslogd binds it; rsyslogd
	// then runs on without a listener, so the probe fails and another
	// port is tried.
	const attempts = 3
	for i := 1; ; i++ {
		if r.cfg.port, err = freePort(); err != nil {
			tb.Fatalf("rsyslog: %v", err)
		}
		err = r.start()
		if err == nil {
			return r
		}
		if !errors.Is(err, errPortInUse) || i == attempts {
			tb.Fatalf("rsyslog: %v", err)
		}
	}
}

// newRsyslog prepares the directory, and the TLS files with opts.TLS, of a
// daemon that has no port yet.
func newRsyslog(tb testing.TB, opts Options) (*Rsyslog, error) {
	opts = opts.withDefaults()
	if opts.Driver != "gtls" && opts.Driver != "ossl" {
		return nil, fmt.Errorf("unknown TLS driver %q (gtls or ossl)", opts.Driver)
	}
	bin, err := findRsyslogd(opts)
	if err != nil {
		return nil, err
	}
	dir := tb.TempDir()
	r := &Rsyslog{
		tb:   tb,
		opts: opts,
		bin:  bin,
		dir:  dir,
		conf: filepath.Join(dir, "rsyslog.conf"),
		pid:  filepath.Join(dir, "rsyslogd.pid"),
		cfg: config{
			workDir:   filepath.Join(dir, "work"),
			outFile:   filepath.Join(dir, "messages.jsonl"),
			probeFile: filepath.Join(dir, "probes.jsonl"),
			logFile:   filepath.Join(dir, "rsyslogd.log"),
			driver:    opts.Driver,
		},
	}
	if err := os.Mkdir(r.cfg.workDir, 0o755); err != nil {
		return nil, err
	}
	if !opts.TLS {
		return r, nil
	}
	f, err := writeTLS(dir)
	if err != nil {
		return nil, err
	}
	r.cfg.tls = &f
	pem, err := os.ReadFile(f.caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	r.tls = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return r, nil
}

// findRsyslogd returns the path of rsyslogd, and checks that the TLS
// driver is installed when opts asks for TLS.
func findRsyslogd(opts Options) (string, error) {
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/rsyslogd", "/sbin/rsyslogd"} {
			if _, statErr := os.Stat(p); statErr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return "", errors.New("rsyslogd not found: install Debian's rsyslog package " +
			"(apt-get install -y rsyslog rsyslog-gnutls rsyslog-openssl)")
	}
	if opts.TLS {
		// Where imtcp is, the driver must be too.
		mods, _ := filepath.Glob("/usr/lib/*/rsyslog/imtcp.so")
		mods2, _ := filepath.Glob("/usr/lib/rsyslog/imtcp.so")
		for _, m := range append(mods, mods2...) {
			drv := filepath.Join(filepath.Dir(m), "lmnsd_"+opts.Driver+".so")
			if _, err := os.Stat(drv); err != nil {
				pkg := map[string]string{"gtls": "rsyslog-gnutls", "ossl": "rsyslog-openssl"}[opts.Driver]
				return "", fmt.Errorf("rsyslog TLS driver %s not found (%s): apt-get install -y %s", opts.Driver, drv, pkg)
			}
		}
	}
	return bin, nil
}

// errPortInUse marks a start whose listener could not bind its port.
var errPortInUse = errors.New("port in use")

// start writes the configuration, starts rsyslogd and waits until it is
// ready; on failure nothing keeps running.
func (r *Rsyslog) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil {
		return errors.New("rsyslogd is already running")
	}
	if err := os.WriteFile(r.conf, []byte(r.cfg.render()), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	// A pid file left by a killed daemon would stop the next one.
	if err := os.Remove(r.pid); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale pid file: %w", err)
	}
	logf, err := os.OpenFile(r.cfg.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logf.Close() // the child has its own copy
	logStart := fileSize(r.cfg.logFile)
	proc, err := startProcess(r.bin, r.conf, r.pid, r.dir, logf)
	if err != nil {
		return err
	}
	if err := r.waitReady(proc, logStart); err != nil {
		proc.signal(syscall.SIGKILL)
		proc.wait(r.opts.StopTimeout)
		return err
	}
	r.proc = proc
	return nil
}

// waitReady sends probe messages until one is written to the probe file,
// which proves that this daemon (and not another one on the port) listens,
// parses and writes. It polls with a short backoff until StartTimeout and
// fails early when rsyslogd exits.
func (r *Rsyslog) waitReady(proc *process, logStart int64) error {
	deadline := time.Now().Add(r.opts.StartTimeout)
	backoff := 5 * time.Millisecond
	var last error
	for {
		if proc.exited() {
			return fmt.Errorf("rsyslogd exited during start: %v\n%s", proc.err, r.logTail())
		}
		nonce := randomHex()
		if last = r.probe(nonce, time.Until(deadline)); last == nil {
			if r.probeArrived(nonce, deadline, proc) {
				return nil
			}
			last = errors.New("probe message not written")
		}
		if strings.Contains(logSince(r.cfg.logFile, logStart), "Address already in use") {
			return fmt.Errorf("%w: port %d\n%s", errPortInUse, r.cfg.port, r.logTail())
		}
		if time.Now().Add(backoff).After(deadline) {
			return fmt.Errorf("rsyslogd on %s not ready within %s (last attempt: %v)\n%s",
				r.Addr(), r.opts.StartTimeout, last, r.logTail())
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 200*time.Millisecond)
	}
}

// probe sends one RFC 5424 message tagged with nonce, octet-counted.
func (r *Rsyslog) probe(nonce string, budget time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), min(budget, 2*time.Second))
	defer cancel()
	var (
		conn net.Conn
		err  error
	)
	d := &net.Dialer{}
	if r.tls != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: r.tls}).DialContext(ctx, "tcp", r.Addr())
	} else {
		conn, err = d.DialContext(ctx, "tcp", r.Addr())
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	msg := fmt.Sprintf("<14>1 %s localhost %s - probe - %s",
		time.Now().UTC().Format(time.RFC3339Nano), probeAppName, nonce)
	_, err = fmt.Fprintf(conn, "%d %s", len(msg), msg)
	return err
}

// probeArrived waits briefly for nonce to show up in the probe file.
func (r *Rsyslog) probeArrived(nonce string, deadline time.Time, proc *process) bool {
	wait := time.Now().Add(time.Second)
	if wait.After(deadline) {
		wait = deadline
	}
	for {
		b, _ := os.ReadFile(r.cfg.probeFile)
		if bytes.Contains(b, []byte(nonce)) {
			return true
		}
		if proc.exited() || time.Now().After(wait) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Addr returns the listener's address, 127.0.0.1:port. It stays the same
// across Restart.
func (r *Rsyslog) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.cfg.port))
}

// CAFile returns the PEM file of the CA that signed the server's
// certificate (for 127.0.0.1 and localhost), or "" without TLS.
func (r *Rsyslog) CAFile() string {
	if r.cfg.tls == nil {
		return ""
	}
	return r.cfg.tls.caFile
}

// OutputFile returns the file messages are written to, one JSON line each.
func (r *Rsyslog) OutputFile() string { return r.cfg.outFile }

// Stop shuts rsyslogd down (SIGTERM; it writes what it has received, then
// exits) and waits for it, killing it after StopTimeout. A stopped daemon
// refuses connections; messages already received stay in the output file.
// Stop on a stopped daemon does nothing.
func (r *Rsyslog) Stop() {
	r.tb.Helper()
	if err := r.stop(syscall.SIGTERM); err != nil {
		r.tb.Fatalf("rsyslog: %v", err)
	}
}

// Kill kills rsyslogd with SIGKILL, as a crash would: messages it had
// received but not yet written are lost.
func (r *Rsyslog) Kill() {
	r.tb.Helper()
	if err := r.stop(syscall.SIGKILL); err != nil {
		r.tb.Fatalf("rsyslog: %v", err)
	}
}

func (r *Rsyslog) stop(sig syscall.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.proc
	if p == nil {
		return nil
	}
	r.proc = nil
	p.signal(sig)
	if p.wait(r.opts.StopTimeout) {
		return nil
	}
	p.signal(syscall.SIGKILL)
	if p.wait(r.opts.StopTimeout) {
		return nil
	}
	return fmt.Errorf("rsyslogd still running %s after SIGKILL", r.opts.StopTimeout)
}

// Restart stops rsyslogd if it runs and starts it again on the same port,
// appending to the same output file. A port briefly held by someone else
// is waited for.
func (r *Rsyslog) Restart() {
	r.tb.Helper()
	if err := r.stop(syscall.SIGTERM); err != nil {
		r.tb.Fatalf("rsyslog: %v", err)
	}
	var err error
	for attempt := 1; attempt <= 5; attempt++ {
		if err = r.start(); !errors.Is(err, errPortInUse) {
			break
		}
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
	if err != nil {
		r.tb.Fatalf("rsyslog: restart: %v", err)
	}
}

// Running reports whether rsyslogd runs.
func (r *Rsyslog) Running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc != nil && !r.proc.exited()
}

func (r *Rsyslog) cleanup() {
	if r.tb.Failed() {
		r.tb.Logf("rsyslog on %s:\n%s", r.Addr(), r.logTail())
	}
	if err := r.stop(syscall.SIGTERM); err != nil {
		r.tb.Errorf("rsyslog: %v", err)
	}
}

// Lines returns the output file's complete lines, one JSON object per
// message, in the order rsyslog wrote them; a last line still being
// written is left out. A missing file has no lines.
func (r *Rsyslog) Lines() []string {
	r.tb.Helper()
	lines, err := r.lines()
	if err != nil {
		r.tb.Fatalf("rsyslog: %v", err)
	}
	return lines
}

func (r *Rsyslog) lines() ([]string, error) {
	b, err := os.ReadFile(r.cfg.outFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read output: %w", err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	} else {
		return nil, nil
	}
	return strings.Split(string(b), "\n"), nil
}

// Message is one received message as rsyslog's parser read it.
type Message struct {
	// Raw is the message as received, without the octet count.
	Raw            string `json:"rawmsg"`
	PRI            string `json:"pri"`
	Version        string `json:"protocol-version"`
	Timestamp      string `json:"timereported"` // RFC 3339
	Hostname       string `json:"hostname"`
	AppName        string `json:"app-name"`
	ProcID         string `json:"procid"`
	MsgID          string `json:"msgid"`
	StructuredData string `json:"structured-data"`
	Msg            string `json:"msg"`
}

// Messages returns the messages written so far, in order.
func (r *Rsyslog) Messages() []Message {
	r.tb.Helper()
	msgs, err := parseLines(r.Lines())
	if err != nil {
		r.tb.Fatalf("rsyslog: %v", err)
	}
	return msgs
}

func parseLines(lines []string) ([]Message, error) {
	msgs := make([]Message, 0, len(lines))
	for i, l := range lines {
		var m Message
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			return nil, fmt.Errorf("output line %d: %w: %q", i+1, err, l)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// WaitMessages polls the output file until it holds at least n messages,
// and returns them all. It fails tb after WaitTimeout.
func (r *Rsyslog) WaitMessages(tb testing.TB, n int) []Message {
	tb.Helper()
	deadline := time.Now().Add(r.opts.WaitTimeout)
	backoff := 5 * time.Millisecond
	for {
		lines, err := r.lines()
		if err != nil {
			tb.Fatalf("rsyslog: %v", err)
		}
		if len(lines) >= n {
			msgs, err := parseLines(lines)
			if err != nil {
				tb.Fatalf("rsyslog: %v", err)
			}
			return msgs
		}
		if time.Now().After(deadline) {
			tb.Fatalf("rsyslog: %d of %d messages after %s\n%s", len(lines), n, r.opts.WaitTimeout, r.logTail())
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 100*time.Millisecond)
	}
}

// logTail returns the end of rsyslogd's own log, labelled, for errors.
func (r *Rsyslog) logTail() string {
	const maxBytes, maxLines = 4096, 30
	b, err := os.ReadFile(r.cfg.logFile)
	if err != nil {
		return fmt.Sprintf("(no rsyslogd log: %v)", err)
	}
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return "--- tail of " + r.cfg.logFile + " ---\n" + strings.Join(lines, "\n")
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince returns what was written to path after offset (at most 64 KiB).
func logSince(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, 64<<10)
	n, _ := f.ReadAt(b, offset)
	return string(b[:n])
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
