//go:build !linux

package e2e

import "os/exec"

// startWithTests starts cmd and calls exited with cmd.Wait's result once
// cmd has exited. Where the kernel offers no parent-death signal, a cmd
// outlives a test binary that dies.
func startWithTests(cmd *exec.Cmd, exited func(error)) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { exited(cmd.Wait()) }()
	return nil
}
