package main

import (
	"fmt"
	"os"
	"strings"
)

// writeSVG draws memory, goroutines and throughput over time, one panel
// each, as a self-contained SVG.
func writeSVG(path string, ps []point) error {
	const w, panelH, left, right, top = 760, 150, 70, 20, 30
	panels := []struct {
		title, unit string
		color       string
		value       func(point) float64
	}{
		{"sluice resident memory", "MB", "#1f6feb", func(p point) float64 { return p.rssMB }},
		{"sluice goroutines", "", "#8250df", func(p point) float64 { return float64(p.goroutines) }},
		{"statements per second", "/s", "#1a7f37", func(p point) float64 { return p.tps }},
	}
	h := top + len(panels)*(panelH+50)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	b.WriteString(`<rect width="100%" height="100%" fill="#ffffff"/>` + "\n")
	var total float64
	if len(ps) > 0 {
		total = ps[len(ps)-1].at.Seconds()
	}
	for i, pn := range panels {
		y0 := top + i*(panelH+50)
		maxV := 0.0
		for _, p := range ps {
			maxV = max(maxV, pn.value(p))
		}
		maxV = niceCeil(maxV * 1.1)
		plotW := float64(w - left - right)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", left, y0-8, pn.title)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="none" stroke="#d0d7de"/>`+"\n", left, y0, plotW, panelH)
		for k := 0; k <= 4; k++ {
			v := maxV * float64(k) / 4
			y := float64(y0+panelH) - float64(panelH)*float64(k)/4
			fmt.Fprintf(&b, `<line x1="%d" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#eaeef2"/>`+"\n", left, float64(left)+plotW, y, y)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#57606a">%s%s</text>`+"\n", left-6, y+4, trim(v), pn.unit)
		}
		var pts []string
		for _, p := range ps {
			x := float64(left)
			if total > 0 {
				x += plotW * p.at.Seconds() / total
			}
			y := float64(y0+panelH) - float64(panelH)*pn.value(p)/maxV
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", pn.color, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="end" fill="#57606a">%.0f min</text>`+"\n", float64(left)+plotW, y0+panelH+16, total/60)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#57606a">0</text>`+"\n", left, y0+panelH+16)
	}
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for p > v {
		p /= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func trim(v float64) string {
	if v >= 100 || v == float64(int64(v)) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
