//go:build linux

package browser

import "syscall"

// setParentDeathSignal asks the kernel to send sig to the child when the
// thread that forked it dies.
func setParentDeathSignal(a *syscall.SysProcAttr, sig syscall.Signal) {
	a.Pdeathsig = sig
}
