package main

import (
	"context"
	"fmt"
	"os"
	"time"
)

// point is one sample of the gateway.
type point struct {
	at         time.Duration
	rssMB      float64
	goroutines int
	tps        float64
}

// sample reads the gateway every interval until ctx ends.
func sample(ctx context.Context, g *gateway, l *load, every time.Duration) []point {
	var out []point
	start := time.Now()
	last := l.ok.Load()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
		rss, err1 := g.rssMB()
		gor, err2 := g.goroutines()
		if err1 != nil || err2 != nil {
			fmt.Fprintln(os.Stderr, "soak: sample:", err1, err2)
			continue
		}
		n := l.ok.Load()
		out = append(out, point{at: time.Since(start), rssMB: rss, goroutines: gor, tps: float64(n-last) / every.Seconds()})
		last = n
		fmt.Fprintf(os.Stderr, "%6s  rss %6.1f MB  goroutines %5d  %6.0f statements/s\n",
			time.Since(start).Round(time.Second), rss, gor, out[len(out)-1].tps)
	}
}

// verdict says whether the run's lines were flat.
type verdict struct {
	flat    bool
	summary string
}

// judge compares the second fifth of the run (after warm-up) with the
// last fifth: neither memory nor goroutines may grow more than maxGrowth.
func judge(ps []point, maxGrowth float64) verdict {
	if len(ps) < 10 {
		return verdict{false, "too few samples to judge (run longer or sample more often)"}
	}
	fifth := len(ps) / 5
	mean := func(part []point, f func(point) float64) float64 {
		var s float64
		for _, p := range part {
			s += f(p)
		}
		return s / float64(len(part))
	}
	early, late := ps[fifth:2*fifth], ps[len(ps)-fifth:]
	rss := func(p point) float64 { return p.rssMB }
	gor := func(p point) float64 { return float64(p.goroutines) }
	tps := func(p point) float64 { return p.tps }
	rssGrowth := mean(late, rss)/mean(early, rss) - 1
	gorGrowth := mean(late, gor)/mean(early, gor) - 1
	flat := rssGrowth <= maxGrowth && gorGrowth <= maxGrowth
	word := "flat"
	if !flat {
		word = "GROWING"
	}
	return verdict{flat, fmt.Sprintf("%s: RSS %.1f MB → %.1f MB (%+.1f%%), goroutines %.0f → %.0f (%+.1f%%), %.0f → %.0f statements/s (second fifth → last fifth of the run)",
		word, mean(early, rss), mean(late, rss), 100*rssGrowth, mean(early, gor), mean(late, gor), 100*gorGrowth, mean(early, tps), mean(late, tps))}
}
