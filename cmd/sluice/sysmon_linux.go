package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// keepSysmonAwake runs the gateway with Go's system monitor kept out of
// its deep sleep, by executing the binary again, in the same process, with
// sysmonAwake in GODEBUG. It returns nil without doing anything when
// GODEBUG already names schedtrace, and an error when it could not
// execute: the gateway then runs with the runtime's defaults.
//
// Why: when every goroutine waits for the network, which a gateway between
// two statements does thousands of times a second, sysmon sleeps deeply,
// and the next system call wakes it and puts it back on 20 µs naps for the
// next millisecond. On a gateway core that is about 10,000 extra thread
// wake-ups a second; measured with `make bench`, they cost 6-15% of the
// gateway's CPU per statement (docs/benchmarks.md, "Go's system monitor").
// A scheduler trace period keeps sysmon out of that deep sleep; it then
// backs off to 10 ms naps on its own. The price is one "SCHED" line on
// standard error every 24.8 days of the host's uptime, and a scheduler
// summary before the stack traces of a fatal error.
func keepSysmonAwake() error {
	env, changed := withSysmonAwake(os.Environ())
	if !changed {
		return nil
	}
	path, err := runningBinary()
	if err != nil {
		return err
	}
	// Exec returns only if it failed.
	return fmt.Errorf("execute %s again: %w", path, syscall.Exec(path, os.Args, env))
}

// runningBinary returns a path to the file this process runs, so that the
// same code runs again, never another binary put at the same path since
// (an upgrade in place). It prefers the path the process was started by,
// because the kernel names a process after the path it executes: a
// process started as "sluice" through a symbolic link stays "sluice" in
// ps, top and pgrep. It fails if no path names that file any more.
func runningBinary() (string, error) {
	running, err := os.Stat("/proc/self/exe")
	if err != nil {
		return "", fmt.Errorf("find the running binary: %w", err)
	}
	var paths []string
	if strings.Contains(os.Args[0], "/") {
		paths = append(paths, os.Args[0])
	} else if p, err := exec.LookPath(os.Args[0]); err == nil {
		paths = append(paths, p)
	}
	if p, err := os.Executable(); err == nil {
		paths = append(paths, p)
	}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && os.SameFile(fi, running) {
			return p, nil
		}
	}
	return "", errors.New("find the running binary: no path names it any more (replaced or removed since it started)")
}
