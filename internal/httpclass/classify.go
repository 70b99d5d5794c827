package httpclass

import (
	"fmt"
	"path"
	"sync/atomic"

	"github.com/sluicehq/sluice"
)

// Classifier classifies the HTTP requests of one connection by their method
// and a list of patterns. It does not change after New and is safe for
// concurrent use.
type Classifier struct {
	pats []compiled
	// byMethod lists, in order, the indexes into pats of the patterns that
	// can match each method: by its position in standardMethods, and last
	// for any other method.
	byMethod [len(standardMethods) + 1][]int
	// hosts holds the distinct host globs of pats, in lower case.
	hosts []string
	// lastHost caches which globs the last host classified matches; a
	// connection has one upstream host.
	lastHost atomic.Pointer[hostResult]
}

// hostResult says which host globs a host matches.
type hostResult struct {
	host string
	ok   []bool // by index into Classifier.hosts
}

// hostResult returns which globs the normalized host matches.
func (c *Classifier) hostResult(host string) *hostResult {
	if r := c.lastHost.Load(); r != nil && r.host == host {
		return r
	}
	r := &hostResult{host: host, ok: make([]bool, len(c.hosts))}
	for i, glob := range c.hosts {
		// The globs were checked in New; Match cannot fail.
		r.ok[i], _ = path.Match(glob, host)
	}
	c.lastHost.Store(r)
	return r
}

// Result is the classification of one request.
type Result struct {
	// Class is never zero.
	Class sluice.Class
	// Patterns names every pattern that matched, in pattern order, each
	// name once.
	Patterns []string
	// Reasons explains Class in sentences: the method's class when it
	// counts, each match with its description ("matches
	// azure.delete_storage_account: deletes an Azure storage account and
	// all its data"), and why a path could not be classified.
	Reasons []string
	// Ambiguous is set when the path holds %2F, %5C or "\", which
	// upstreams read in two ways; Class and Patterns then cover both
	// readings. A pattern used to allow rather than to restrict (a policy
	// rule's path) should not be trusted on such a path: it may have
	// matched in one reading only.
	Ambiguous bool
}

// New compiles patterns, keeping their order, which is the order of
// Result.Patterns. Callers put custom patterns before the built-in ones
// (see Builtin). A pattern that does not compile is reported as a
// *PatternError that names its index.
func New(patterns []Pattern) (*Classifier, error) {
	c := &Classifier{pats: make([]compiled, 0, len(patterns))}
	hostIndex := make(map[string]int)
	for i, p := range patterns {
		cp, glob, err := compile(p)
		if err != nil {
			return nil, &PatternError{Index: i, Name: p.Name, Err: err}
		}
		if glob != "" {
			j, ok := hostIndex[glob]
			if !ok {
				j = len(c.hosts)
				hostIndex[glob] = j
				c.hosts = append(c.hosts, glob)
			}
			cp.host = j
		}
		c.pats = append(c.pats, cp)
		for j := range c.byMethod {
			if cp.methods == 0 || j < len(standardMethods) && cp.methods&(1<<j) != 0 {
				c.byMethod[j] = append(c.byMethod[j], len(c.pats)-1)
			}
		}
	}
	return c, nil
}

// Classify classifies one request: its method, the upstream host (a port
// is ignored), the escaped path (URL.EscapedPath) and the raw query
// (URL.RawQuery).
//
// Without a matching pattern the method decides: GET, HEAD and OPTIONS are
// read; POST, PUT and PATCH write; DELETE write|destructive; any other
// method, TRACE and CONNECT included, unknown. When patterns match, the
// union of their classes replaces the method's class, except that a DELETE
// stays at least write|destructive and a method that is unknown stays
// unknown. A path that does not start with "/", holds a bad escape or
// climbs above the root is unknown. When the path holds an encoded slash or
// a backslash, which upstreams read in two ways, the patterns are matched
// against both readings and the result is the union (see the package
// documentation).
func (c *Classifier) Classify(method, host, path, rawQuery string) Result {
	mi := methodInfoFor(method)
	var buf [32]string
	segs, ambiguous, problem := cleanPath(path, false, buf[:0])
	if problem != "" {
		return unclassifiable(mi, problem)
	}
	m := matcher{c: c, pats: c.byMethod[mi.index], rawQuery: rawQuery}
	if len(c.hosts) > 0 {
		m.hosts = c.hostResult(normHost(host)).ok
	}
	var hitBuf [8]hit
	class, hits := m.collect(segs, false, hitBuf[:0])
	useMethod := class == 0
	if useMethod {
		class = mi.class
	}
	var altProblem string
	if ambiguous {
		var buf2 [32]string
		segs2, _, problem2 := cleanPath(path, true, buf2[:0])
		if problem2 != "" {
			class |= sluice.ClassUnknown
			altProblem = problem2 + ` if the upstream reads %2F or \ as /`
		} else {
			var altClass sluice.Class
			if altClass, hits = m.collect(segs2, true, hits); altClass == 0 {
				altClass = mi.class
				useMethod = true
			}
			class |= altClass
		}
	}
	if class|mi.floor != class {
		class |= mi.floor
		useMethod = true
	}

	r := Result{Class: class, Ambiguous: ambiguous}
	n := len(hits)
	if useMethod {
		n++
	}
	if altProblem != "" {
		n++
	}
	r.Reasons = make([]string, 0, n)
	if useMethod {
		r.Reasons = append(r.Reasons, mi.reason)
	}
	if len(hits) > 0 {
		r.Patterns = make([]string, len(hits))
		for i, h := range hits {
			p := &c.pats[h.pat]
			r.Patterns[i] = p.name
			if h.alt {
				r.Reasons = append(r.Reasons, p.reason+` (if the upstream reads %2F or \ as /)`)
			} else {
				r.Reasons = append(r.Reasons, p.reason)
			}
		}
	}
	if altProblem != "" {
		r.Reasons = append(r.Reasons, altProblem)
	}
	return r
}

// unclassifiable is the result for a path that cannot be cleaned.
func unclassifiable(mi methodInfo, problem string) Result {
	r := Result{Class: sluice.ClassUnknown | mi.floor, Reasons: []string{problem}}
	if mi.floor != 0 {
		r.Reasons = append(r.Reasons, mi.reason)
	}
	return r
}

// hit is a pattern that matched.
type hit struct {
	pat int  // index into Classifier.pats
	alt bool // matched only when %2F and \ are read as /
}

// matcher matches the patterns of a Classifier against one request.
type matcher struct {
	c        *Classifier
	pats     []int  // the patterns that can match the method
	hosts    []bool // which of c.hosts the request's host matches
	rawQuery string
}

// collect appends to hits every pattern that matches the request with the
// cleaned path segs, skipping names already in hits, and returns the union
// of the matches' classes (0 when none matched).
func (m *matcher) collect(segs []string, alt bool, hits []hit) (sluice.Class, []hit) {
	var class sluice.Class
	for _, i := range m.pats {
		p := &m.c.pats[i]
		if !m.match(p, segs) {
			continue
		}
		class |= p.class
		if !hasName(m.c, hits, p.name) {
			hits = append(hits, hit{pat: i, alt: alt})
		}
	}
	return class, hits
}

func hasName(c *Classifier, hits []hit, name string) bool {
	for _, h := range hits {
		if c.pats[h.pat].name == name {
			return true
		}
	}
	return false
}

// match reports whether p, which applies to the request's method, matches
// the request with the cleaned path segs. The cheap tests come first.
func (m *matcher) match(p *compiled, segs []string) bool {
	if n := len(segs); n < p.minSegs || (p.maxSegs >= 0 && n > p.maxSegs) {
		return false
	}
	if !matchSegments(p.segs, segs) {
		return false
	}
	if p.host >= 0 && m.hosts[p.host] == p.hostNot {
		return false
	}
	return queryHolds(m.rawQuery, p.query)
}

// methodInfo is what the method alone says about a request.
type methodInfo struct {
	// index is the method's position in standardMethods, or
	// len(standardMethods) if it is not standard; bit is 1<<index for
	// standard methods, else 0.
	index int
	bit   uint16
	// class is the method's class when no pattern matches; floor is what
	// the request is at least, whatever matches.
	class, floor sluice.Class
	reason       string
}

// standardMethods are the methods patterns can name, in bit order.
var standardMethods = [...]string{"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT"}

var methodInfos = [...]methodInfo{
	{index: 0, bit: 1 << 0, class: sluice.ClassRead, reason: "GET is a read"},
	{index: 1, bit: 1 << 1, class: sluice.ClassRead, reason: "HEAD is a read"},
	{index: 2, bit: 1 << 2, class: sluice.ClassRead, reason: "OPTIONS is a read"},
	{index: 3, bit: 1 << 3, class: sluice.ClassWrite, reason: "POST is a write"},
	{index: 4, bit: 1 << 4, class: sluice.ClassWrite, reason: "PUT is a write"},
	{index: 5, bit: 1 << 5, class: sluice.ClassWrite, reason: "PATCH is a write"},
	{index: 6, bit: 1 << 6, class: destroys, floor: destroys, reason: "DELETE is destructive"},
	{index: 7, bit: 1 << 7, class: sluice.ClassUnknown, floor: sluice.ClassUnknown,
		reason: "TRACE is unknown: it echoes the request back, injected credentials included"},
	{index: 8, bit: 1 << 8, class: sluice.ClassUnknown, floor: sluice.ClassUnknown,
		reason: "CONNECT is unknown: it opens a tunnel sluice cannot see into"},
}

// methodInfoFor returns what method says about a request. Methods are
// case-sensitive (RFC 9110); "delete" is not DELETE but a method sluice
// does not know, and unknown.
func methodInfoFor(method string) methodInfo {
	for i, m := range standardMethods {
		if m == method {
			return methodInfos[i]
		}
	}
	return methodInfo{
		index:  len(standardMethods),
		class:  sluice.ClassUnknown,
		floor:  sluice.ClassUnknown,
		reason: fmt.Sprintf("method %.40q is not a standard HTTP method", method),
	}
}
