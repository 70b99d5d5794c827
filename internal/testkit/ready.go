package testkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// errPortInUse marks a start that failed because the port was taken.
var errPortInUse = errors.New("port in use")

// waitReady waits until the server started as proc accepts a real connection
// as the superuser and proves to be this server (its data_directory matches),
// polling with a short backoff. It fails early when the postmaster exits, and
// after s.opts.StartTimeout. logStart is the log size before the start: an
// exit whose log lines after it say the address was in use wraps
// errPortInUse.
func (s *Postgres) waitReady(ctx context.Context, proc *process, logStart int64) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	// A probe may hang on a port answered by someone else; the exit of the
	// postmaster ends it.
	probeCtx, cancelProbe := context.WithCancel(ctx)
	defer cancelProbe()
	go func() {
		select {
		case <-proc.done:
			cancelProbe()
		case <-probeCtx.Done():
		}
	}()
	backoff := 5 * time.Millisecond
	var last error
	for {
		if proc.exited() {
			return s.exitError(proc, logStart)
		}
		if last = s.probe(probeCtx); last == nil {
			return nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-proc.done:
			t.Stop()
			return s.exitError(proc, logStart)
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("postgres on %s not ready within %s: %w (last attempt: %v)\n%s",
				s.Addr(), s.opts.StartTimeout, ctx.Err(), last, s.logTail())
		case <-t.C:
		}
		backoff = min(backoff*2, 250*time.Millisecond)
	}
}

// probe makes one connection attempt of at most two seconds.
func (s *Postgres) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.SuperuserDSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var dir string
	if err := conn.QueryRow(ctx, "SELECT current_setting('data_directory')").Scan(&dir); err != nil {
		return err
	}
	if dir != s.dataDir {
		return fmt.Errorf("port %d is served by another server (data directory %s)", s.port, dir)
	}
	return nil
}

func (s *Postgres) exitError(proc *process, logStart int64) error {
	since := s.logSince(logStart)
	err := fmt.Errorf("postgres on %s exited during start: %v\n%s", s.Addr(), proc.err, s.logTail())
	if strings.Contains(since, "could not bind") || strings.Contains(since, "Address already in use") ||
		strings.Contains(since, "could not create any TCP/IP sockets") {
		return fmt.Errorf("%w: %w", errPortInUse, err)
	}
	return err
}

// logSize returns the current size of the server log.
func (s *Postgres) logSize() int64 {
	fi, err := os.Stat(s.logFile)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince returns the log written after offset (at most 64 KiB of it).
func (s *Postgres) logSince(offset int64) string {
	f, err := os.Open(s.logFile)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, 1<<16))
	return string(b)
}

// logTail returns the last lines of the server log, labelled, for error
// messages.
func (s *Postgres) logTail() string {
	const maxBytes, maxLines = 4096, 30
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return fmt.Sprintf("(no postgres log: %v)", err)
	}
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return "--- tail of " + s.logFile + " ---\n" + strings.Join(lines, "\n")
}
