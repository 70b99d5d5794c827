package httpclass

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/sluicehq/sluice"
)

// Pattern names a kind of request by method, host, path and query, and says
// what class it is. A pattern matches when every condition it sets holds.
// All comparisons are ASCII case-insensitive: Azure Resource Manager paths
// are case-insensitive, and for the case-sensitive APIs (S3 keys, Kubernetes)
// the patterns name only fixed segments, where a differently cased request
// is one the upstream rejects.
type Pattern struct {
	// Name identifies the pattern in results, e.g.
	// "azure.delete_resource_group". Several patterns may share a name when
	// they describe one kind of request (a path-style and a virtual-hosted
	// S3 bucket delete); a result lists the name once.
	Name string
	// Description says in one line what a matching request does, e.g.
	// "deletes an Azure storage account and all its data". Optional; it
	// follows the name in Result.Reasons.
	Description string
	// Methods lists the methods the pattern applies to, upper-case: GET,
	// HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE or CONNECT. Empty means
	// any method.
	Methods []string
	// Path is a path pattern: segments separated by "/", where "*" matches
	// exactly one segment, "**" matches zero or more segments, and any other
	// segment matches a request segment equal to it after percent-decoding
	// both. "*" and "**" must be whole segments. A trailing slash is
	// ignored; "/" matches only the root. Required.
	Path string
	// Query, if set, lists conditions on the query string separated by
	// "&": "name" (a parameter of that name is present, with or without a
	// value), "name=value" (a parameter of that name has that value) or
	// "!name" (no parameter has that name). Names and values are compared
	// percent-decoded, e.g. "delete" for S3's POST /bucket?delete, or
	// "restype=container" for an Azure blob container.
	Query string
	// Host, if set, is a glob in path.Match syntax ("*", "?", "[a-z]")
	// matched against the upstream host without its port, e.g.
	// "*.blob.core.windows.net". A leading "!" negates it: the pattern then
	// applies to every host the glob does not match.
	Host string
	// Class is the class a match gives. It must not be zero.
	Class sluice.Class
}

// PatternError says which pattern New could not compile and why.
type PatternError struct {
	// Index is the pattern's position in the slice given to New.
	Index int
	Name  string
	Err   error
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("pattern %d (%q): %v", e.Index, e.Name, e.Err)
}

func (e *PatternError) Unwrap() error { return e.Err }

// allClasses holds every defined class bit.
const allClasses = sluice.ClassRead | sluice.ClassWrite | sluice.ClassDDL |
	sluice.ClassDestructive | sluice.ClassPrivileged | sluice.ClassUnknown

// segKind says what a path pattern segment matches.
type segKind uint8

const (
	segLiteral segKind = iota // the segment equal to lit
	segOne                    // "*": exactly one segment
	segAny                    // "**": zero or more segments
)

type segment struct {
	kind segKind
	lit  string
}

// queryCond is one condition of Pattern.Query.
type queryCond struct {
	name, value string
	hasValue    bool // name=value
	absent      bool // !name
}

// compiled is a Pattern ready to match.
type compiled struct {
	name   string
	class  sluice.Class
	reason string // "matches NAME: DESCRIPTION"

	methods uint16 // one bit per standard method; 0 means any
	segs    []segment
	// minSegs and maxSegs bound the number of request segments the path
	// can match; maxSegs is -1 when the path holds "**".
	minSegs, maxSegs int
	host             int // index into Classifier.hosts, -1 for any host
	hostNot          bool
	query            []queryCond
}

// compile checks p and turns it into a compiled pattern. The host glob is
// returned separately for the Classifier to share among patterns.
func compile(p Pattern) (cp compiled, hostGlob string, err error) {
	if p.Name == "" {
		return cp, "", errors.New("no name")
	}
	if p.Class == 0 {
		return cp, "", errors.New("no class")
	}
	if p.Class&^allClasses != 0 {
		return cp, "", fmt.Errorf("class %#x holds undefined bits", uint16(p.Class))
	}
	cp.name = p.Name
	cp.class = p.Class
	cp.reason = "matches " + p.Name
	if p.Description != "" {
		cp.reason += ": " + p.Description
	}
	for _, m := range p.Methods {
		bit := methodInfoFor(m).bit
		if bit == 0 {
			return cp, "", fmt.Errorf("unknown method %q (want one of %s)", m, strings.Join(standardMethods[:], ", "))
		}
		cp.methods |= bit
	}
	if cp.segs, err = compilePath(p.Path); err != nil {
		return cp, "", fmt.Errorf("path %q: %w", p.Path, err)
	}
	cp.maxSegs = 0
	for _, s := range cp.segs {
		if s.kind == segAny {
			cp.maxSegs = -1
			continue
		}
		cp.minSegs++
	}
	if cp.maxSegs == 0 {
		cp.maxSegs = cp.minSegs
	}
	if cp.query, err = compileQuery(p.Query); err != nil {
		return cp, "", fmt.Errorf("query %q: %w", p.Query, err)
	}
	cp.host = -1
	if p.Host != "" {
		if hostGlob, cp.hostNot, err = compileHost(p.Host); err != nil {
			return cp, "", fmt.Errorf("host %q: %w", p.Host, err)
		}
	}
	return cp, hostGlob, nil
}

func compilePath(p string) ([]segment, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, errors.New("must start with /")
	}
	parts := strings.Split(p[1:], "/")
	segs := make([]segment, 0, len(parts))
	for i, s := range parts {
		switch {
		case s == "" && i == len(parts)-1:
			// A trailing slash, or the root itself.
		case s == "":
			return nil, errors.New("empty segment")
		case s == "*":
			segs = append(segs, segment{kind: segOne})
		case s == "**":
			if n := len(segs); n > 0 && segs[n-1].kind == segAny {
				continue // "**/**" is "**"
			}
			segs = append(segs, segment{kind: segAny})
		case strings.Contains(s, "*"):
			return nil, fmt.Errorf("segment %q: * and ** must be whole segments", s)
		default:
			lit, err := url.PathUnescape(s)
			if err != nil {
				return nil, fmt.Errorf("segment %q: %w", s, err)
			}
			if lit == "." || lit == ".." {
				return nil, fmt.Errorf("segment %q: dot segments never match a cleaned path", s)
			}
			segs = append(segs, segment{kind: segLiteral, lit: lit})
		}
	}
	return segs, nil
}

func compileQuery(q string) ([]queryCond, error) {
	if q == "" {
		return nil, nil
	}
	var conds []queryCond
	for term := range strings.SplitSeq(q, "&") {
		var c queryCond
		if rest, ok := strings.CutPrefix(term, "!"); ok {
			c.absent = true
			term = rest
		}
		c.name, c.value, c.hasValue = strings.Cut(term, "=")
		if c.name == "" {
			return nil, fmt.Errorf("term %q names no parameter", term)
		}
		if c.absent && c.hasValue {
			return nil, fmt.Errorf("term %q: !name takes no value", "!"+term)
		}
		conds = append(conds, c)
	}
	return conds, nil
}

func compileHost(h string) (glob string, not bool, err error) {
	glob, not = strings.CutPrefix(h, "!")
	glob = lowerASCII(glob)
	switch {
	case glob == "":
		return "", false, errors.New("empty glob")
	case strings.Contains(glob, "/"):
		return "", false, errors.New("a host holds no /")
	}
	if _, err := path.Match(glob, ""); err != nil {
		return "", false, fmt.Errorf("bad glob: %w", err)
	}
	return glob, not, nil
}

// matchSegments reports whether the cleaned request segments segs match the
// path pattern pat. "**" backtracks: on a mismatch the last "**" seen takes
// one more segment, which is enough because "*" and literals each take
// exactly one.
func matchSegments(pat []segment, segs []string) bool {
	p, s := 0, 0
	anyP, anyS := -1, 0
	for s < len(segs) {
		if p < len(pat) {
			switch t := pat[p]; t.kind {
			case segAny:
				anyP, anyS = p, s
				p++
				continue
			case segOne:
				p++
				s++
				continue
			case segLiteral:
				if equalFoldASCII(t.lit, segs[s]) {
					p++
					s++
					continue
				}
			}
		}
		if anyP < 0 {
			return false
		}
		anyS++
		p, s = anyP+1, anyS
	}
	for p < len(pat) && pat[p].kind == segAny {
		p++
	}
	return p == len(pat)
}

// queryHolds reports whether every condition holds for the raw query.
func queryHolds(rawQuery string, conds []queryCond) bool {
	for _, c := range conds {
		if queryHas(rawQuery, c) == c.absent {
			return false
		}
	}
	return true
}

// queryHas reports whether rawQuery holds a parameter named c.name (with
// value c.value if c.hasValue). Parameters are separated by "&" only, as
// net/url and the upstreams here read them.
func queryHas(rawQuery string, c queryCond) bool {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(kv, "=")
		if !equalQuery(c.name, k) {
			continue
		}
		if !c.hasValue || equalQuery(c.value, v) {
			return true
		}
	}
	return false
}

// equalQuery reports whether the raw query name or value s decodes to
// want. One that does not decode is compared as it is, which no valid
// condition equals.
func equalQuery(want, s string) bool {
	if equalFoldASCII(want, s) {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '+' {
			d, err := url.QueryUnescape(s)
			return err == nil && equalFoldASCII(want, d)
		}
	}
	return false
}

// equalFoldASCII is strings.EqualFold restricted to ASCII letters, so that
// no Unicode folding (the Kelvin sign, the long s) makes two different
// path segments equal.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases ASCII letters, allocating only if there are any
// upper-case ones.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
