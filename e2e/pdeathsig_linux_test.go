package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithTests makes the kernel kill cmd if the test binary dies (a panic
// or a timeout skips the cleanups that stop it), so that no gateway
// outlives its tests. The signal follows the thread that started cmd; Go
// ends a thread only when a goroutine exits while locked to it, which these
// tests never do.
func dieWithTests(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
