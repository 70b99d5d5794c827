//go:build !linux

package testkit

import (
	"fmt"
	"syscall"
	"time"
)

// setParentDeathSignal does nothing: only Linux has a parent-death signal.
func setParentDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}

// killTree kills the postmaster with SIGKILL. Without /proc its backends
// cannot be found; they exit on their own when they notice the postmaster
// is gone.
func killTree(p *process, timeout time.Duration) error {
	p.signal(syscall.SIGKILL)
	if !p.wait(timeout) {
		return fmt.Errorf("kill postgres: postmaster %d still running after %s", p.pid(), timeout)
	}
	return nil
}

// removeStaleSharedMemory does nothing outside Linux.
func removeStaleSharedMemory(string) {}
