package mask

import (
	"bytes"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// maxPathStates bounds the states of all path rules together: one per
// segment plus one per rule.
const maxPathStates = 64

// pathSeg is one step of a path: a member name, an index or a wildcard,
// optionally reached by recursive descent ("..").
type pathSeg struct {
	name  []byte // member name; nil for index and wildcard
	index int    // array index, or -1
	any   bool   // '*' or [*]: any member or element
	desc  bool   // reached by "..": at any depth below
}

func (g *pathSeg) matches(key []byte, idx int) bool {
	switch {
	case g.any:
		return true
	case g.name != nil:
		return idx < 0 && bytes.Equal(g.name, key)
	}
	return idx >= 0 && idx == g.index
}

type pathRule struct {
	path     string
	strategy Strategy
}

// pathSet runs all path rules together as one NFA over the path of the
// current JSON value: bit b of a state is "rule r has matched its first i
// segments" for b = base(r)+i. It is immutable.
type pathSet struct {
	rules  []pathRule
	segs   [maxPathStates]*pathSeg // segment to match from each non-accept bit
	start  uint64                  // the state at the root
	accept uint64                  // bits where a rule has matched
	ruleOf [maxPathStates]int      // rule of each accept bit
}

func compilePaths(rules []PathRule) (*pathSet, error) {
	ps := &pathSet{}
	b := 0
	for i, r := range rules {
		st, err := ParseStrategy(r.Strategy)
		if err != nil {
			return nil, fmt.Errorf("json path rule %d %q: %w", i, r.Path, err)
		}
		segs, err := parsePath(r.Path)
		if err != nil {
			return nil, fmt.Errorf("json path rule %d %q: %w", i, r.Path, err)
		}
		if b+len(segs)+1 > maxPathStates {
			return nil, fmt.Errorf("json path rule %d %q: the path rules have more than %d segments in all", i, r.Path, maxPathStates-len(rules))
		}
		ps.start |= 1 << b
		for k := range segs {
			ps.segs[b+k] = &segs[k]
		}
		b += len(segs)
		ps.accept |= 1 << b
		ps.ruleOf[b] = len(ps.rules)
		ps.rules = append(ps.rules, pathRule{path: r.Path, strategy: st})
		b++
	}
	return ps, nil
}

// step returns the state after moving from state into the member key (idx
// < 0) or the element idx.
func (ps *pathSet) step(state uint64, key []byte, idx int) uint64 {
	var next uint64
	for s := state &^ ps.accept; s != 0; s &= s - 1 {
		b := bits.TrailingZeros64(s)
		g := ps.segs[b]
		if g.desc {
			next |= 1 << b
		}
		if g.matches(key, idx) {
			next |= 1 << (b + 1)
		}
	}
	return next
}

// rule returns the first rule that has matched in state, if any.
func (ps *pathSet) rule(state uint64) (*pathRule, bool) {
	a := state & ps.accept
	if a == 0 {
		return nil, false
	}
	return &ps.rules[ps.ruleOf[bits.TrailingZeros64(a)]], true
}

// parsePath parses the JSONPath subset of PathRule.
func parsePath(p string) ([]pathSeg, error) {
	if p == "" || p[0] != '$' {
		return nil, fmt.Errorf("path must start with '$'")
	}
	var segs []pathSeg
	for k := 1; k < len(p); {
		g := pathSeg{index: -1}
		bracket := false
		switch {
		case strings.HasPrefix(p[k:], ".."):
			g.desc = true
			k += 2
			bracket = k < len(p) && p[k] == '['
		case p[k] == '.':
			k++
		case p[k] == '[':
			bracket = true
		default:
			return nil, fmt.Errorf("unexpected %q at %d", p[k], k)
		}
		var err error
		if bracket {
			k, err = parseBracket(p, k, &g)
		} else {
			k, err = parseDotName(p, k, &g)
		}
		if err != nil {
			return nil, err
		}
		segs = append(segs, g)
	}
	return segs, nil
}

// parseDotName parses a member name or '*' at k.
func parseDotName(p string, k int, g *pathSeg) (int, error) {
	if k < len(p) && p[k] == '*' {
		g.any = true
		return k + 1, nil
	}
	e := k
	for e < len(p) && !strings.ContainsRune(".[]*'\" ", rune(p[e])) {
		e++
	}
	if e == k {
		return 0, fmt.Errorf("missing member name at %d", k)
	}
	g.name = []byte(p[k:e])
	return e, nil
}

// parseBracket parses "[*]", "[3]", "['name']" or `["name"]` at k.
func parseBracket(p string, k int, g *pathSeg) (int, error) {
	k++ // '['
	switch {
	case k < len(p) && p[k] == '*':
		g.any = true
		k++
	case k < len(p) && (p[k] == '\'' || p[k] == '"'):
		e := strings.IndexByte(p[k+1:], p[k])
		if e < 0 {
			return 0, fmt.Errorf("unterminated quoted name at %d", k)
		}
		g.name = []byte(p[k+1 : k+1+e])
		k += e + 2
	default:
		e := k
		for e < len(p) && isDigit(p[e]) {
			e++
		}
		n, err := strconv.Atoi(p[k:e])
		if err != nil {
			return 0, fmt.Errorf("bad index at %d", k)
		}
		g.index = n
		k = e
	}
	if k >= len(p) || p[k] != ']' {
		return 0, fmt.Errorf("missing ']' at %d", k)
	}
	return k + 1, nil
}
