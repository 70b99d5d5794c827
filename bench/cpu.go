package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// processCPU returns the CPU time pid has used in user space and in the
// kernel, or zeros for pid 0 or when /proc cannot tell.
func processCPU(pid int) (user, sys time.Duration) {
	if pid == 0 {
		return 0, 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	f := statFields(b) // utime is field 14 and stime 15 of the whole line
	if len(f) < 13 {
		return 0, 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u) * clockTick, time.Duration(k) * clockTick
}

// processWrites returns the bytes pid has caused to be written to storage
// (write_bytes of /proc/PID/io: the journal's and the state store's file
// writes, counted as they dirty the page cache), or 0 for pid 0 or when
// /proc cannot tell.
func processWrites(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// statFields returns the fields of a /proc/PID/stat line after the command
// name, which is in parentheses and may hold spaces: the state (field 3 of
// the line) first.
func statFields(b []byte) []string {
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// machineCPU returns the CPU time all CPUs have spent busy (everything but
// idle and iowait) since boot.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 {
			busy += n
		}
	}
	return time.Duration(busy) * clockTick
}

// counters are the /proc counters a run is measured by, at one moment.
type counters struct {
	at                 time.Time
	user, sys, machine time.Duration // the gateway's and every CPU's
	writes             int64         // the gateway's bytes written to storage
}

func readCounters(pid int) counters {
	user, sys := processCPU(pid)
	return counters{at: time.Now(), user: user, sys: sys, machine: machineCPU(), writes: processWrites(pid)}
}

// sampleCounters reads pid's counters every 20 ms until stop is closed,
// and once more then; the result holds at least two readings.
func sampleCounters(pid int, stop <-chan struct{}) []counters {
	out := []counters{readCounters(pid)}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			out = append(out, readCounters(pid))
		case <-stop:
			return append(out, readCounters(pid))
		}
	}
}

// between returns how much each counter grew from from to to, each end
// interpolated between the readings around it (clamped to the first and
// last reading), so that a run's sessions opening before its first
// transaction and closing after its last are not counted.
func between(cs []counters, from, to time.Time) counters {
	a, b := interpolate(cs, from), interpolate(cs, to)
	return counters{user: b.user - a.user, sys: b.sys - a.sys, machine: b.machine - a.machine, writes: b.writes - a.writes}
}

func interpolate(cs []counters, t time.Time) counters {
	if !t.After(cs[0].at) {
		return cs[0]
	}
	for i := 1; i < len(cs); i++ {
		if t.After(cs[i].at) {
			continue
		}
		lo, hi := cs[i-1], cs[i]
		f := float64(t.Sub(lo.at)) / float64(hi.at.Sub(lo.at))
		lerp := func(x, y time.Duration) time.Duration { return x + time.Duration(f*float64(y-x)) }
		return counters{at: t, user: lerp(lo.user, hi.user), sys: lerp(lo.sys, hi.sys), machine: lerp(lo.machine, hi.machine),
			writes: lo.writes + int64(f*float64(hi.writes-lo.writes))}
	}
	return cs[len(cs)-1]
}
