package rsyslog

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// process is one running rsyslogd, started and reaped by a goroutine that
// holds its own OS thread for the daemon's whole life. Its methods are safe
// for concurrent use.
type process struct {
	proc *os.Process
	done chan struct{} // closed once rsyslogd has exited and been reaped
	err  error         // exit status; valid after done is closed
}

// startProcess runs `rsyslogd -n -f conf -i pidFile` with stdout and stderr
// appended to logf, and returns as soon as the process exists.
//
// rsyslogd gets SIGKILL when the thread that forked it dies: that thread is
// the locked thread of the goroutine below, which lives until rsyslogd
// exits, so a test binary that dies takes its daemons with it.
func startProcess(bin, conf, pidFile, dir string, logf *os.File) (*process, error) {
	p := &process{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine, after
		// rsyslogd has exited.
		runtime.LockOSThread()
		cmd := exec.Command(bin, "-n", "-f", conf, "-i", pidFile)
		cmd.Dir = dir
		cmd.Stdout = logf
		cmd.Stderr = logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		setParentDeathSignal(cmd.SysProcAttr, syscall.SIGKILL)
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("start rsyslogd: %w", err)
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

// exited reports whether rsyslogd has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to rsyslogd; it is a no-op once it has exited.
func (p *process) signal(sig os.Signal) {
	if !p.exited() {
		_ = p.proc.Signal(sig) // fails only if it exited meanwhile
	}
}

// wait waits up to d for rsyslogd to exit and reports whether it did.
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
