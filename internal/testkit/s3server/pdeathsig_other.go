//go:build !linux

package s3server

import "syscall"

// setParentDeathSignal does nothing: only Linux has a parent-death signal.
// A test binary that dies leaves its servers running there.
func setParentDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}
