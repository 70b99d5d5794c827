package main

import (
	"os"
	"testing"
)

func TestRunningBinary(t *testing.T) {
	got, err := runningBinary()
	if err != nil {
		t.Fatal(err)
	}
	running, err := os.Stat("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(got)
	if err != nil || !os.SameFile(fi, running) {
		t.Fatalf("runningBinary() = %q (%v), which is not the running test binary", got, err)
	}
	// go test starts the binary by a path: the one to execute again, so
	// that the process keeps its name.
	if got != os.Args[0] {
		t.Errorf("runningBinary() = %q, want the path the process was started by, %q", got, os.Args[0])
	}
}
