package e2e

import (
	"os/exec"
	"runtime"
	"syscall"
)

// startWithTests starts cmd so that the kernel kills it if the test binary
// dies (a panic or a timeout skips the cleanups that stop it), and calls
// exited with cmd.Wait's result once cmd has exited.
//
// The kernel sends the parent-death signal when the thread that forked the
// process ends, not the process; and Go ends a thread when a goroutine
// exits while locked to it, as testkit's helpers do when the server they
// started stops (PostgreSQL, rsyslog, ...). Forked from an ordinary thread,
// a gateway would be killed when another test stops its PostgreSQL server
// on a thread that once forked the gateway. So cmd is forked from a thread
// locked to a goroutine that waits for cmd, and the thread ends with it.
func startWithTests(cmd *exec.Cmd, exited func(error)) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited(cmd.Wait())
	}()
	return <-started
}
