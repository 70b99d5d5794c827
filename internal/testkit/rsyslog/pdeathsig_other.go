//go:build !linux

package rsyslog

import "syscall"

// setParentDeathSignal does nothing: only Linux has a parent-death signal,
// and Cleanup still stops the server.
func setParentDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}
