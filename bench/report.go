package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// report collects the measurements and prints them as Markdown.
type report struct {
	rows                     []string
	stream                   *streamResult
	idle                     *idleResult
	big                      []string
	setupDirect, setupSluice durations
}

func (r *report) print(o options) {
	host, _ := os.Hostname()
	fmt.Printf("Machine: %s, %d CPUs (%s), %s, PostgreSQL on the same host.\n", host, runtime.NumCPU(), cpuModel(), runtime.Version())
	pinned := ""
	if o.pin {
		pinned = " -pin"
		fmt.Printf("CPUs: PostgreSQL and pgbench pinned to CPU %s, PgBouncer and sluice to CPU %s.\n", pin.db, pin.gateway)
	}
	if o.pgState {
		pinned += " -pgstate"
	}
	if o.abEnv != "" {
		pinned += " -ab " + o.abEnv
	}
	fmt.Printf("Command: make bench (go run ./bench -T %s -rounds %d -clients %s -s %d -connects %d -idle %d -big %d%s)\n",
		o.duration, o.rounds, o.clients, o.scale, o.connects, o.idle, o.bigMB, pinned)
	fmt.Printf("Each point: %d rounds, each target running pgbench for %s in every round, in turn.\n\n",
		o.rounds, roundTime(o.duration, o.rounds))
	fmt.Println("| workload | clients | target | TPS | of direct | latency p50 | p99 | added p50 | machine CPU/tx | gateway CPU/tx | of which kernel | gateway disk writes/tx |")
	fmt.Println("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range r.rows {
		fmt.Println(row)
	}
	if s := r.stream; s != nil {
		mbps := func(d time.Duration) float64 { return float64(s.mb) / d.Seconds() }
		fmt.Printf("\n| %d MB result (pgx) | time | MB/s | sluice RSS before | sluice peak RSS |\n", s.mb)
		fmt.Println("|---|---:|---:|---:|---:|")
		fmt.Printf("| direct | %s | %.0f | | |\n", s.direct.Round(time.Millisecond), mbps(s.direct))
		fmt.Printf("| sluice (journal, rules, masking) | %s | %.0f | %.1f MB | %.1f MB |\n", s.sluice.Round(time.Millisecond),
			mbps(s.sluice), float64(s.rssBefore)/1024, float64(s.rssPeak)/1024)
	}
	if i := r.idle; i != nil {
		fmt.Printf("\n| %d idle sessions | sluice RSS before | after | per session |\n|---|---:|---:|---:|\n", i.n)
		fmt.Printf("| sluice (journal, rules, masking) | %.1f MB | %.1f MB | %.1f KB |\n", float64(i.before)/1024,
			float64(i.after)/1024, float64(i.after-i.before)/float64(i.n))
	}
	if len(r.big) > 0 {
		fmt.Printf("\n| %d-row result (5 text columns, pgx, median of 21, targets in turn) | time | rows/s |\n", bigRows)
		fmt.Println("|---|---:|---:|")
		for _, row := range r.big {
			fmt.Println(row)
		}
	}
	fmt.Println("\n| session setup | p50 | p99 |")
	fmt.Println("|---|---:|---:|")
	fmt.Printf("| direct (SCRAM) | %s | %s |\n", r.setupDirect.p(50), r.setupDirect.p(99))
	fmt.Printf("| through sluice (token check + upstream SCRAM) | %s | %s |\n", r.setupSluice.p(50), r.setupSluice.p(99))
}
