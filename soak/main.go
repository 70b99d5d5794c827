// Command soak runs sluice under a long mixed load, with statements held
// for review and approved by a script, samples the gateway's memory and
// goroutines, draws them to an SVG and fails when either keeps growing.
// Run it with `make soak` (10 minutes, 200 connections by default).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/sluicehq/sluice/internal/testkit"
)

func main() {
	var o options
	flag.DurationVar(&o.duration, "d", 10*time.Minute, "how long the load runs")
	flag.IntVar(&o.conns, "c", 200, "client connections")
	flag.DurationVar(&o.every, "every", 5*time.Second, "sampling interval")
	flag.StringVar(&o.svg, "svg", "docs/soak.svg", "where the chart goes")
	flag.Float64Var(&o.maxGrowth, "max-growth", 0.15, "largest allowed growth of memory and goroutines from the first to the last fifth of the run")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	duration, every time.Duration
	conns           int
	svg             string
	maxGrowth       float64
}

func run(o options) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "sluice-soak-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Fprintln(os.Stderr, "starting PostgreSQL...")
	pg, err := testkit.Start(ctx, testkit.Options{MaxConnections: o.conns + 50})
	if err != nil {
		return err
	}
	defer pg.Stop()
	if err := pg.CreateDatabase(ctx, "soak"); err != nil {
		return err
	}
	bin := filepath.Join(work, "sluice")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/sluice").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	g, err := startGateway(bin, work, pg)
	if err != nil {
		return err
	}
	defer g.stop()
	if err := prepare(ctx, g); err != nil {
		return err
	}

	fmt.Fprintf(os.Stderr, "soak: %d connections for %s...\n", o.conns, o.duration)
	lctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	load := startLoad(lctx, g, o.conns)
	approver := startApprover(lctx, g)
	samples := sample(lctx, g, load, o.every)
	stats := load.wait()
	approved := approver.wait()

	if err := writeSVG(o.svg, samples); err != nil {
		return err
	}
	verdict := judge(samples, o.maxGrowth)
	fmt.Printf("soak: %s, %d connections: %d statements (%d errors), %d held and approved by the script\n",
		o.duration, o.conns, stats.ok, stats.failed, approved)
	fmt.Println(verdict.summary)
	fmt.Printf("chart: %s\n", o.svg)
	if stats.failed > 0 {
		return fmt.Errorf("%d statements failed", stats.failed)
	}
	if !verdict.flat {
		return fmt.Errorf("memory or goroutines kept growing")
	}
	return nil
}
