package browser

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is the running driver (node), started and reaped by a goroutine
// that holds its OS thread for the process's whole life. Its methods are
// safe for concurrent use.
type process struct {
	pid  int
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // exit status; valid after done is closed
}

// startProcess runs name with args in a process group of its own, with the
// given files as its stdin, stdout and stderr. It returns once the process
// exists.
//
// On Linux the process gets SIGKILL when the thread that forked it dies;
// that thread is the locked thread of the goroutine below, which lives
// until the process exits, so a test binary that dies takes the driver
// with it (and the driver's Chromium, see chromiumWrapper).
func startProcess(name string, args, env []string, dir string, stdin, stdout, stderr *os.File) (*process, error) {
	p := &process{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine, after the
		// process has exited.
		runtime.LockOSThread()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = env
		cmd.Stdin = stdin
		cmd.Stdout = stdout
		cmd.Stderr = stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		setParentDeathSignal(cmd.SysProcAttr, syscall.SIGKILL)
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("start %s: %w", name, err)
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

// isChromium reports whether pid is a running Chromium process. The pids
// come from the wrapper's pid file, so this guards against a pid that was
// reused after Chromium exited.
func isChromium(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	argv0, _, _ := strings.Cut(string(b), "\x00")
	if !strings.Contains(argv0, "chrom") {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) state ...": a zombie is gone in all but name.
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}
