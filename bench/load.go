package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// result is what a target did at one point of the matrix.
type result struct {
	tps      float64
	p50, p99 time.Duration
	// gatewayCPU and machineCPU are the CPU time per transaction of the
	// gateway process and of the whole machine (every process and the
	// kernel), from /proc; gatewayKernel is the part of gatewayCPU spent
	// in the kernel on the gateway's behalf (its system calls: the
	// sockets' TCP work, the journal's writes).
	gatewayCPU, gatewayKernel, machineCPU time.Duration
	// gatewayWrites is the bytes per transaction the gateway wrote to
	// storage: the audit trail's cost on the disk.
	gatewayWrites float64
}

// row is a report line: the result and its ratio to direct.
func (r result) row(name, workload string, clients int, direct result) string {
	ratio, added := "", ""
	if direct.tps > 0 && name != "direct" {
		ratio = fmt.Sprintf("%.0f%%", 100*r.tps/direct.tps)
		added = (r.p50 - direct.p50).String()
	}
	gw, kernel, writes := "", "", ""
	if r.gatewayCPU > 0 {
		gw, kernel, writes = micros(r.gatewayCPU), micros(r.gatewayKernel), fmt.Sprintf("%.0f B", r.gatewayWrites)
	}
	return fmt.Sprintf("| %s | %d | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |", workload, clients, name, r.tps, ratio,
		r.p50, r.p99, added, micros(r.machineCPU), gw, kernel, writes)
}

// micros formats d in microseconds with one decimal.
func micros(d time.Duration) string {
	return fmt.Sprintf("%.1fµs", float64(d.Nanoseconds())/1000)
}

// sample is what pgbench runs against one target measured, summed over
// the runs: a point of the matrix is measured in rounds, each target
// taking its turn in every round, and the rounds' samples add up.
type sample struct {
	tx      int64         // transactions processed
	elapsed time.Duration // pgbench's time for them, connecting excluded
	// user and sys are the gateway's CPU time, machine that of every CPU,
	// writes the gateway's bytes written to storage.
	user, sys, machine time.Duration
	writes             int64
	lat                durations // per transaction, unsorted
}

// add adds the measures of another run to s.
func (s *sample) add(o sample) {
	s.tx += o.tx
	s.elapsed += o.elapsed
	s.user += o.user
	s.sys += o.sys
	s.machine += o.machine
	s.writes += o.writes
	s.lat = append(s.lat, o.lat...)
}

// result turns the summed runs into rates per second and per transaction.
func (s sample) result() result {
	var r result
	if s.tx == 0 || s.elapsed <= 0 {
		return r
	}
	n := time.Duration(s.tx)
	r.tps = float64(s.tx) / s.elapsed.Seconds()
	r.machineCPU = s.machine / n
	r.gatewayCPU, r.gatewayKernel = (s.user+s.sys)/n, s.sys/n
	r.gatewayWrites = float64(s.writes) / float64(s.tx)
	sort.Slice(s.lat, func(i, j int) bool { return s.lat[i] < s.lat[j] })
	r.p50, r.p99 = s.lat.p(50), s.lat.p(99)
	return r
}

// bench runs a pgbench workload for d with per-transaction logging and
// returns what it measured.
func (t target) bench(work string, w workload, clients int, d time.Duration) (sample, error) {
	dir, err := os.MkdirTemp(work, "log-*")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir)
	// -n: no VACUUM and TRUNCATE before the run. Through sluice a rule
	// would deny the VACUUM (privileged) and hold the TRUNCATE for review;
	// the load itself is what is measured, for every target alike.
	args := append(slices.Clone(w.args), "-n", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(clients, 2)),
		"-T", strconv.Itoa(int(d.Seconds())), "-l", "--log-prefix=tx")
	stop, readings := make(chan struct{}), make(chan []counters, 1)
	go func() { readings <- sampleCounters(t.pid, stop) }()
	out, err := t.pgbench(dir, args...)
	close(stop)
	cs := <-readings
	if err != nil {
		return sample{}, fmt.Errorf("pgbench %s: %v\n%s", t.name, err, out)
	}
	var s sample
	var tps float64
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "tps = "); ok {
			tps, _ = strconv.ParseFloat(strings.Fields(v)[0], 64)
		}
		if strings.Contains(line, "failed transactions: ") && !strings.Contains(line, ": 0 ") {
			return s, fmt.Errorf("pgbench %s: %s", t.name, line)
		}
	}
	var first, last time.Time
	if s.lat, first, last, err = readLog(dir); err != nil {
		return s, err
	}
	s.tx = int64(len(s.lat))
	// The counters over the transactions only: opening the sessions
	// costs a gateway more than a pooler, and every round opens them.
	c := between(cs, first, last)
	s.user, s.sys, s.machine, s.writes = c.user, c.sys, c.machine, c.writes
	if tps <= 0 {
		return s, fmt.Errorf("pgbench %s: no TPS in its output\n%s", t.name, out)
	}
	s.elapsed = time.Duration(float64(s.tx) / tps * float64(time.Second))
	return s, nil
}

// point measures every target at one workload and client count: rounds
// rounds of d/rounds each, the targets taking turns within each round, so
// that the machine's drift over the point's minutes falls on every target
// alike rather than on whichever ran in a slow stretch. It returns the
// results in the order of targets.
func point(work string, targets []target, w workload, clients int, d time.Duration, rounds int) ([]result, error) {
	per := roundTime(d, rounds)
	sums := make([]sample, len(targets))
	for round := 1; round <= rounds; round++ {
		// Each round starts with the next target, so that no target
		// always follows the same one (a checkpoint or autovacuum that
		// one target's writes set off would land on it every time).
		for k := range targets {
			i := (k + round - 1) % len(targets)
			t := targets[i]
			fmt.Fprintf(os.Stderr, "pgbench %s -c %d -T %s %s (round %d of %d)...\n", w.name, clients, per, t.name, round, rounds)
			s, err := t.bench(work, w, clients, per)
			if err != nil {
				return nil, err
			}
			sums[i].add(s)
		}
	}
	out := make([]result, len(targets))
	for i := range sums {
		out[i] = sums[i].result()
	}
	return out, nil
}

// roundTime is how long each target runs in each of rounds rounds that
// share d: whole seconds (pgbench's -T), one at least.
func roundTime(d time.Duration, rounds int) time.Duration {
	return max(time.Second, (d / time.Duration(rounds)).Truncate(time.Second))
}

type durations []time.Duration

// p returns the q-th percentile of sorted ds.
func (ds durations) p(q int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := (len(ds) - 1) * q / 100
	return ds[i].Round(time.Microsecond)
}

// readLog reads pgbench's per-transaction logs: one latency per
// transaction (the third field, in µs), and when the first transaction
// started and the last one ended (each line ends with the time it ended,
// in seconds and µs).
func readLog(dir string) (ds durations, first, last time.Time, err error) {
	files, _ := filepath.Glob(filepath.Join(dir, "tx*"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, first, last, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 6 {
				continue
			}
			us, err1 := strconv.Atoi(fs[2])
			sec, err2 := strconv.ParseInt(fs[4], 10, 64)
			usec, err3 := strconv.ParseInt(fs[5], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				continue
			}
			lat := time.Duration(us) * time.Microsecond
			end := time.Unix(sec, usec*1000)
			ds = append(ds, lat)
			if start := end.Add(-lat); first.IsZero() || start.Before(first) {
				first = start
			}
			if end.After(last) {
				last = end
			}
		}
		fh.Close()
	}
	if len(ds) == 0 {
		return nil, first, last, fmt.Errorf("no pgbench transaction logs in %s", dir)
	}
	return ds, first, last, nil
}
