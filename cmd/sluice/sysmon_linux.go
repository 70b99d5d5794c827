package main

import (
	"fmt"
	"os"
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
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the running binary: %w", err)
	}
	// Exec returns only if it failed.
	return fmt.Errorf("execute %s again: %w", exe, syscall.Exec(exe, os.Args, env))
}
