package testkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// errUnexpectedExit marks a server found to have exited on its own.
var errUnexpectedExit = errors.New("postgres had exited unexpectedly")

// startAttempts bounds the starts retried because the port was taken.
const startAttempts = 5

// killTimeout bounds Kill's wait for the processes to die.
const killTimeout = 10 * time.Second

// startLocked starts the postmaster and waits until it is ready. With
// newPort it picks a free port per attempt; otherwise it keeps s.port and
// retries after a short pause, for a port briefly held by someone else.
func (s *Postgres) startLocked(ctx context.Context, newPort bool) error {
	var err error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		if newPort {
			if s.port, err = freePort(); err != nil {
				return err
			}
		} else if attempt > 1 {
			if err := sleepCtx(ctx, time.Duration(attempt)*100*time.Millisecond); err != nil {
				return err
			}
		}
		if err = s.launchLocked(ctx); !errors.Is(err, errPortInUse) {
			return err
		}
	}
	return fmt.Errorf("%d attempts: %w", startAttempts, err)
}

// launchLocked makes one start attempt; on failure nothing keeps running.
func (s *Postgres) launchLocked(ctx context.Context) error {
	logf, err := os.OpenFile(s.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logf.Close() // the child has its own copy
	logStart := s.logSize()
	proc, err := startProcess(filepath.Join(s.binDir, "postgres"), s.dataDir, s.port, s.baseDir, logf, s.runAs)
	if err != nil {
		return err
	}
	if err := s.waitReady(ctx, proc, logStart); err != nil {
		if killErr := killTree(proc, killTimeout); killErr != nil {
			return errors.Join(err, killErr)
		}
		return err
	}
	s.proc = proc
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// shutdownLocked makes a fast shutdown (SIGINT: roll back open
// transactions, end sessions, checkpoint) and waits for the exit, killing
// the server if it takes longer than StopTimeout. A server that had already
// exited on its own is reported as an error.
func (s *Postgres) shutdownLocked() error {
	proc := s.proc
	if proc == nil {
		return nil
	}
	s.proc = nil
	if proc.exited() {
		return fmt.Errorf("%w (%s): %v\n%s", errUnexpectedExit, s.Addr(), proc.err, s.logTail())
	}
	proc.signal(syscall.SIGINT)
	if proc.wait(s.opts.StopTimeout) {
		return nil
	}
	err := fmt.Errorf("postgres on %s did not shut down within %s; killed it", s.Addr(), s.opts.StopTimeout)
	if killErr := killTree(proc, killTimeout); killErr != nil {
		return errors.Join(err, killErr)
	}
	return err
}

// Shutdown stops the server cleanly (fast shutdown) and keeps its files, so
// Restart can start it again. It does nothing if the server is not running.
func (s *Postgres) Shutdown() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	return s.shutdownLocked()
}

// Kill simulates a crash: it kills the postmaster and all its children
// with SIGKILL and returns once none of them runs and the port is released.
// The files stay, so Restart can start the server again (with crash
// recovery). Since synchronous_commit is off, a transaction committed just
// before Kill may be lost; run CHECKPOINT after it commits (not in the same
// multi-statement Exec) to make it survive. Kill does nothing if the server
// is not running. On Linux every
// backend is found and killed; elsewhere backends exit on their own shortly
// after noticing the postmaster is gone.
func (s *Postgres) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	proc := s.proc
	if proc == nil {
		return nil
	}
	s.proc = nil
	return killTree(proc, killTimeout)
}

// Restart starts the server again on the same port and data directory,
// after Kill or Shutdown; a running server is shut down first. It returns
// once the server accepts connections. A server that exited on its own is
// simply started again. If another process took the port
// meanwhile, Restart retries for a moment and then fails.
func (s *Postgres) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	if err := s.shutdownLocked(); err != nil && !errors.Is(err, errUnexpectedExit) {
		return fmt.Errorf("restart postgres: %w", err)
	}
	if err := s.startLocked(ctx, false); err != nil {
		return fmt.Errorf("restart postgres: %w", err)
	}
	return nil
}

// Stop shuts the server down (fast shutdown, killing it if that takes
// longer than StopTimeout), waits for it to exit and removes its temporary
// directory with the data, TLS files and log. Stop is idempotent: later
// calls return nil. After Stop only the accessors remain usable.
func (s *Postgres) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	err := s.shutdownLocked()
	removeStaleSharedMemory(s.dataDir)
	if rmErr := os.RemoveAll(s.baseDir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", s.baseDir, rmErr))
	}
	if err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	return nil
}
