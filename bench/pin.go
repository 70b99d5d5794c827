package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// pinning puts PostgreSQL and pgbench on some CPUs and the gateway under
// test on others, so that the gateway's CPU time does not come out of the
// database's: what a deployment with the gateway on a host of its own
// sees. The zero value pins nothing.
type pinning struct {
	db, gateway string // CPU lists as taskset takes them
}

// pin is the pinning of this run (-pin).
var pin pinning

// command returns the command name args, run on cpus when they are set.
func (p pinning) command(cpus, name string, args ...string) *exec.Cmd {
	if cpus == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", cpus, name}, args...)...)
}

// pinTree pins process pid, its threads and its child processes to cpus;
// processes it starts later inherit the pinning.
func pinTree(pid int, cpus string) error {
	if cpus == "" {
		return nil
	}
	pids := append([]int{pid}, children(pid)...)
	for _, p := range pids {
		if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(p)).CombinedOutput(); err != nil {
			return fmt.Errorf("taskset %d: %v: %s", p, err, out)
		}
	}
	return nil
}

// children returns the processes whose parent is pid.
func children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fs := statFields(b) // the state, then the parent's pid
		if len(fs) > 1 && fs[1] == strconv.Itoa(pid) {
			if p, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// postmasterPID reads the server's process id from its data directory.
func postmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}
