package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// process is one running postmaster, started and reaped by a goroutine that
// holds its own OS thread for the postmaster's whole life. Its methods are
// safe for concurrent use.
type process struct {
	proc *os.Process
	done chan struct{} // closed once the postmaster has exited and been reaped
	err  error         // exit status; valid after done is closed
}

// startProcess runs `postgres -D dataDir -p port` as r, with stdout and
// stderr appended to logf. It returns as soon as the process exists; use
// waitReady to know when it accepts connections.
//
// The postmaster gets SIGQUIT (immediate shutdown) when the thread that
// forked it dies; see setParentDeathSignal. That thread is the locked thread
// of the goroutine below, which lives until the postmaster exits, so a test
// binary that dies (panic, timeout, Ctrl-C) takes its servers with it.
func startProcess(postgresBin, dataDir string, port int, cwd string, logf *os.File, r *runAs) (*process, error) {
	p := &process{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine, after the
		// postmaster has exited.
		runtime.LockOSThread()
		cmd := exec.Command(postgresBin, "-D", dataDir, "-p", strconv.Itoa(port))
		cmd.Dir = cwd
		cmd.Env = childEnv()
		cmd.Stdout = logf
		cmd.Stderr = logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred, Setpgid: true}
		setParentDeathSignal(cmd.SysProcAttr, syscall.SIGQUIT)
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("start postgres: %w", err)
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

// pid returns the postmaster's process id.
func (p *process) pid() int { return p.proc.Pid }

// exited reports whether the postmaster has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the postmaster; it is a no-op once it has exited.
func (p *process) signal(sig os.Signal) {
	if !p.exited() {
		_ = p.proc.Signal(sig) // fails only if it exited meanwhile
	}
}

// wait waits up to d for the postmaster to exit and reports whether it did.
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
