package mask

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
)

// customDetector is a compiled CustomDetector. It is immutable.
type customDetector struct {
	name        string
	re          *regexp.Regexp
	anchored    *regexp.Regexp // ^(?:pattern), with prefix
	prefix      []byte         // literal prefix of every match
	trigger     []byte         // literal inside every match
	strategy    Strategy
	placeholder []byte
}

// customWindow bounds the text around a trigger that a custom expression
// runs on.
const customWindow = 4 << 10

func compileCustom(c CustomDetector) (*customDetector, error) {
	if !validName(c.Name) {
		return nil, fmt.Errorf("custom detector %q: name must be lower-case letters, digits and '_', starting with a letter", c.Name)
	}
	if _, ok := kindByName(c.Name); ok || c.Name == kindNames[kColumnRule] || c.Name == kindNames[kPathRule] {
		return nil, fmt.Errorf("custom detector %q: name is taken by a built-in detector", c.Name)
	}
	re, err := regexp.Compile(c.Pattern)
	if err != nil {
		return nil, fmt.Errorf("custom detector %q: pattern: %w", c.Name, err)
	}
	if re.Match(nil) {
		return nil, fmt.Errorf("custom detector %q: pattern matches the empty string", c.Name)
	}
	st, err := ParseStrategy(c.Strategy)
	if err != nil {
		return nil, fmt.Errorf("custom detector %q: %w", c.Name, err)
	}
	d := &customDetector{name: c.Name, re: re, strategy: st, placeholder: []byte("[redacted:" + c.Name + "]")}
	if p, _ := re.LiteralPrefix(); p != "" {
		d.prefix = []byte(p)
		d.anchored = regexp.MustCompile(`^(?:` + c.Pattern + `)`)
	} else if c.Trigger != "" {
		d.trigger = []byte(c.Trigger)
	}
	return d, nil
}

func validName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// find appends the matches of d in src to out.
func (d *customDetector) find(src []byte, out []span) []span {
	switch {
	case d.prefix != nil:
		// Every match starts with the prefix: try the anchored expression
		// at each occurrence.
		for pos := 0; pos < len(src); {
			x := bytes.Index(src[pos:], d.prefix)
			if x < 0 {
				break
			}
			p := pos + x
			if loc := d.anchored.FindIndex(src[p:]); loc != nil && loc[1] > 0 {
				out = append(out, span{start: p, end: p + loc[1], d: d})
				pos = p + loc[1]
			} else {
				pos = p + 1
			}
		}
	case d.trigger != nil:
		// Run the expression on the line around each trigger.
		done := 0
		for pos := 0; pos < len(src); {
			x := bytes.Index(src[pos:], d.trigger)
			if x < 0 {
				break
			}
			t := pos + x
			ws := max(done, t-customWindow)
			if nl := bytes.LastIndexByte(src[ws:t], '\n'); nl >= 0 {
				ws += nl + 1
			}
			we := min(len(src), t+len(d.trigger)+customWindow)
			if nl := bytes.IndexByte(src[t:we], '\n'); nl >= 0 {
				we = t + nl
			}
			for _, loc := range d.re.FindAllIndex(src[ws:we], -1) {
				out = append(out, span{start: ws + loc[0], end: ws + loc[1], d: d})
			}
			done = we
			pos = max(we, t+1)
		}
	default:
		for _, loc := range d.re.FindAllIndex(src, -1) {
			out = append(out, span{start: loc[0], end: loc[1], d: d})
		}
	}
	return out
}

// findCustom returns the custom detectors' matches in src, sorted by start,
// overlapping matches merged into the earlier one.
func (e *Engine) findCustom(src []byte) []span {
	var out []span
	for _, d := range e.custom {
		out = d.find(src, out)
	}
	if len(e.custom) > 1 && len(out) > 1 {
		slices.SortStableFunc(out, func(a, b span) int { return a.start - b.start })
		w := 0
		for _, m := range out[1:] {
			if m.start < out[w].end {
				out[w].end = max(out[w].end, m.end)
				continue
			}
			w++
			out[w] = m
		}
		out = out[:w+1]
	}
	return out
}
