package azurite

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// process is one running Azurite, started and reaped by a goroutine that
// holds its OS thread for the process's whole life. Its methods are safe
// for concurrent use.
type process struct {
	pid  int
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // exit status; valid after done is closed
}

// startProcess runs name with args in a process group of its own, with
// stdout and stderr appended to logf. It returns once the process exists.
//
// On Linux the process gets SIGKILL when the thread that forked it dies;
// that thread is the locked thread of the goroutine below, which lives
// until the process exits, so a test binary that dies takes Azurite with
// it.
func startProcess(name string, args []string, env []string, dir string, logf *os.File) (*process, error) {
	p := &process{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine, after the
		// process has exited.
		runtime.LockOSThread()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = env
		cmd.Stdout = logf
		cmd.Stderr = logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		setParentDeathSignal(cmd.SysProcAttr, syscall.SIGKILL)
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("start azurite: %w", err)
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signalGroup sends sig to the process's group; it is a no-op once the
// process has exited (its pid, and so the group id, may be reused).
func (p *process) signalGroup(sig syscall.Signal) {
	if !p.exited() {
		_ = syscall.Kill(-p.pid, sig) // fails only if the group is gone
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

// stop asks the process group to end (SIGTERM: Azurite closes its server
// and saves its metadata) and kills it with SIGKILL after grace.
func (p *process) stop(grace time.Duration) error {
	p.signalGroup(syscall.SIGTERM)
	if p.wait(grace) {
		return nil
	}
	p.signalGroup(syscall.SIGKILL)
	if !p.wait(10 * time.Second) {
		return fmt.Errorf("azurite (pid %d) still running after SIGKILL", p.pid)
	}
	return fmt.Errorf("azurite (pid %d) did not exit within %s of SIGTERM; killed it", p.pid, grace)
}
