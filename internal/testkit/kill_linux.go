//go:build linux

package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// setParentDeathSignal asks the kernel to send sig to the child when the
// thread that forked it dies.
func setParentDeathSignal(a *syscall.SysProcAttr, sig syscall.Signal) {
	a.Pdeathsig = sig
}

// procStat is the part of /proc/PID/stat that identifies a process.
type procStat struct {
	pid   int
	state byte
	ppid  int
	start uint64 // start time in clock ticks after boot; tells a reused pid apart
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// "pid (comm) state ppid ..." where comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return procStat{}, false
	}
	return procStat{pid: pid, state: f[0][0], ppid: ppid, start: start}, true
}

// alive reports whether the process s describes still runs (a zombie does
// not: it holds no memory, sockets or files).
func (s procStat) alive() bool {
	now, ok := readStat(s.pid)
	return ok && now.start == s.start && now.state != 'Z' && now.state != 'X'
}

// descendants lists every process below pid.
func descendants(pid int) []procStat {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]procStat{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, ok := readStat(n); ok {
			children[s.ppid] = append(children[s.ppid], s)
		}
	}
	var out []procStat
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out
}

// killTree kills the postmaster and every process it forked with SIGKILL, as
// a crash would, and waits until none of them runs. Backends call setsid, so
// a process-group kill would miss them; instead the postmaster is stopped
// first (so it cannot fork), its descendants are found in /proc and killed,
// then the postmaster itself.
func killTree(p *process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	pid := p.pid()
	p.signal(syscall.SIGSTOP)
	for !p.exited() && time.Now().Before(deadline) {
		s, ok := readStat(pid)
		if !ok || s.state == 'T' || s.state == 't' || s.state == 'Z' {
			break
		}
		time.Sleep(time.Millisecond)
	}
	kids := descendants(pid)
	for _, k := range kids {
		_ = syscall.Kill(k.pid, syscall.SIGKILL) // a pid cannot be reused while its stopped parent has not reaped it
	}
	p.signal(syscall.SIGKILL)
	if !p.wait(time.Until(deadline)) {
		return fmt.Errorf("kill postgres: postmaster %d still running after %s", pid, timeout)
	}
	for _, k := range kids {
		for k.alive() {
			if time.Now().After(deadline) {
				return fmt.Errorf("kill postgres: child %d of postmaster %d still running after %s", k.pid, pid, timeout)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// removeStaleSharedMemory removes the System V shared memory segment named
// in a crashed server's postmaster.pid once nothing is attached to it. A
// server restarted on the data directory would do that itself; a data
// directory about to be deleted never restarts, so the segment would leak.
func removeStaleSharedMemory(dataDir string) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 7 {
		return
	}
	f := strings.Fields(lines[6]) // "key id"
	if len(f) != 2 {
		return
	}
	id, err := strconv.Atoi(f[1])
	if err != nil {
		return
	}
	var desc unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &desc); err != nil || desc.Nattch != 0 {
		return
	}
	_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
}
