package sqlclass

import (
	"hash/maphash"
	"strings"
	"sync"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// DefaultCacheEntries is the size of a Cache made with NewCache(0).
const DefaultCacheEntries = 4096

// MaxCachedText is the longest statement text a Cache keeps; longer texts
// are classified on every call.
const MaxCachedText = 16 << 10

// Cache remembers analyses by statement text, for the extended protocol
// (a statement text is parsed once and executed many times) and for simple
// queries that differ only in constants. It holds at most its size in
// entries and evicts the least recently used. A Cache is safe for
// concurrent use; the analyses it returns are shared and must not be
// modified.
//
// Lookup is in three steps. The exact text is looked up first. Then, for a
// text without '$' (so without parameters or dollar quotes) or NUL and in
// valid UTF-8, its shape key: the text with each plain integer and simple
// string literal replaced by a marker, computed in Go (appendShapeKey).
// Then pg_query's normalized text, the text with each constant replaced by
// $n, which costs a call into the C library.
//
// The normalized lookup is sound because no class, kind, table, function,
// setting, WHERE verdict or reason depends on the value of a constant:
// whether a WHERE refers to a column does not change when 1 = 1 becomes
// 1 = 0, set_config is privileged whatever it sets, and EXPLAIN (ANALYZE
// false) counts as ANALYZE. The few results that do read a constant (BEGIN
// READ ONLY vs READ WRITE, set_config's setting name, options the
// normalizer rewrites) are marked and cached by exact text only, and only
// single statements are stored under a normalized form.
//
// The shape key is sound for the same reason. Its scanner gives up on what
// it does not fully understand (comments, escapes, prefixed strings, string
// continuation) and copies every other byte, so texts with the same key
// are the same tokens but for the values of integer tokens and of string
// tokens in the same places (integers beyond 32 bits, another token, are
// kept). An analysis is stored under a shape key only when it may be
// stored under its normalized form, is a SELECT, INSERT, UPDATE or DELETE,
// and the key's markers stand exactly where the normalizer put its $n: then
// every replaced literal is a constant of the parse tree, never a type
// modifier such as float(10), whose value the grammar checks, an ORDER BY
// position or half of a negative number, which the normalizer keeps.
//
// The statement's span is recomputed from the new text: constants lie
// strictly inside a statement, so the bytes before and after it are the
// same in every text with the same normalized form or shape key. A hit
// carries the fingerprint of the first text cached under the key (see
// docs/classes.md for the one pg_query quirk where that differs from the
// text's own). The pg_query fingerprint is not used as a key: it is equal
// for BEGIN READ ONLY and BEGIN READ WRITE.
type Cache struct {
	seed   maphash.Seed
	shards []cacheShard
	limit  int // entries per shard
}

// keyKind tells which of a shard's maps an entry is in.
type keyKind uint8

const (
	exactKey keyKind = iota // the text itself
	normKey                 // pg_query's normalized text
	shapeKey                // the text's shape key
	keyKinds
)

type cacheShard struct {
	mu   sync.Mutex
	maps [keyKinds]map[string]*cacheEntry
	head cacheEntry // sentinel of the LRU list; head.next is the newest
	_    [64]byte   // keep shards' locks on separate cache lines
}

type cacheEntry struct {
	key        string
	kind       keyKind
	cached     // under the shard's lock
	prev, next *cacheEntry
}

// cached is what an entry holds, copied out under the shard's lock: put
// may update the entry itself at any time.
type cached struct {
	a     *Analysis
	start int // normalized and shape entries: the statement's start
	tail  int // normalized and shape entries: bytes after the statement's end
}

// normalize is pg.Normalize; tests count the calls.
var normalize = pg.Normalize

// NewCache returns a cache that holds about entries analyses (entries <= 0
// means DefaultCacheEntries).
func NewCache(entries int) *Cache {
	if entries <= 0 {
		entries = DefaultCacheEntries
	}
	n := 16
	if entries < 256 {
		n = 1
	}
	c := &Cache{seed: maphash.MakeSeed(), shards: make([]cacheShard, n), limit: (entries + n - 1) / n}
	for i := range c.shards {
		s := &c.shards[i]
		for k := range s.maps {
			s.maps[k] = make(map[string]*cacheEntry)
		}
		s.head.next, s.head.prev = &s.head, &s.head
	}
	return c
}

// Classify returns the analysis of text, from the cache when it can. Like
// the package-level Classify it has no session state.
func (c *Cache) Classify(text string) *Analysis {
	if len(text) > MaxCachedText {
		return classify(text, nil, nil)
	}
	if a := c.get(text, exactKey, text); a != nil {
		return a
	}
	var norm string
	var shape []byte  // nil: no shape key
	var buf [256]byte // holds a short shape key without allocating
	if normalizable(text) {
		shape = appendShapeKey(buf[:0], text)
		if e, ok := c.shapeEntry(shape); ok {
			if a := e.rebase(text); a != nil {
				return a
			}
		}
		if n, err := normalize(text); err == nil {
			norm = n
			if e, ok := c.entry(norm, normKey); ok {
				if a := e.rebase(text); a != nil {
					c.putShape(shape, norm, e)
					return a
				}
			}
		}
	}
	a := classify(text, nil, nil)
	c.put(text, exactKey, cached{a: a})
	if norm != "" && a.valueIndependent() {
		st := &a.Statements[0]
		e := cached{a: a, start: st.Start, tail: len(text) - st.End}
		c.put(norm, normKey, e)
		c.putShape(shape, norm, e)
	}
	return a
}

// Len returns the number of entries.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.len()
		s.mu.Unlock()
	}
	return n
}

// normalizable reports whether text may be looked up by its normalized
// form or shape key: no '$' (every $n in the normalized text is then a
// replaced constant), no NUL (the C normalizer would stop there; shape keys
// use both bytes as markers) and valid UTF-8 (pg_query fails on a string
// constant that is not, so whether a text classifies would depend on a
// constant's bytes).
func normalizable(text string) bool {
	return strings.IndexByte(text, '$') < 0 && strings.IndexByte(text, 0) < 0 && utf8.ValidString(text)
}

// valueIndependent reports whether a (classified from its own text) may
// serve every text with the same normalized form.
func (a *Analysis) valueIndependent() bool {
	return a.Err == nil && !a.constDependent && len(a.Statements) == 1
}

// putShape stores e, which serves the texts with normalized form norm,
// under shape key shape (nil for none) when that is sound: e is a single
// plain DML statement, and shape has its markers exactly where norm has
// its $n.
func (c *Cache) putShape(shape []byte, norm string, e cached) {
	if shape == nil || !e.a.valueIndependent() || !shapeKind(e.a.Statements[0].Kind) || !shapeMatches(shape, norm) {
		return
	}
	c.put(string(shape), shapeKey, e)
}

// shapeKind reports whether statements of kind may be stored under a shape
// key.
func shapeKind(kind string) bool {
	switch kind {
	case "select", "insert", "update", "delete":
		return true
	}
	return false
}

func (c *Cache) shard(key string) *cacheShard {
	if len(c.shards) == 1 {
		return &c.shards[0]
	}
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

// get returns the analysis stored under key in the map of kind, rebased
// onto text for normalized and shape entries.
func (c *Cache) get(key string, kind keyKind, text string) *Analysis {
	e, ok := c.entry(key, kind)
	if !ok {
		return nil
	}
	if kind == exactKey {
		return e.a
	}
	return e.rebase(text)
}

// rebase returns the analysis of a normalized or shape entry for text.
func (e cached) rebase(text string) *Analysis {
	end := len(text) - e.tail
	if e.start > end {
		return nil // cannot happen for texts with the same key
	}
	one := new(struct {
		a  Analysis
		st [1]Statement
	})
	one.a = *e.a
	one.st[0] = e.a.Statements[0]
	a := &one.a
	a.Text = text
	a.Statements = one.st[:]
	st := &a.Statements[0]
	st.Start, st.End, st.Text = e.start, end, text[e.start:end]
	return a
}

func (c *Cache) entry(key string, kind keyKind) (cached, bool) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touch(s.maps[kind][key])
}

// shapeEntry is entry for a shape key, which is looked up without copying
// it into a string.
func (c *Cache) shapeEntry(key []byte) (cached, bool) {
	if key == nil {
		return cached{}, false
	}
	s := &c.shards[0]
	if len(c.shards) > 1 {
		s = &c.shards[maphash.Bytes(c.seed, key)%uint64(len(c.shards))]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touch(s.maps[shapeKey][string(key)])
}

// touch moves e, if not nil, to the front of the LRU list and returns what
// it holds.
func (s *cacheShard) touch(e *cacheEntry) (cached, bool) {
	if e == nil {
		return cached{}, false
	}
	if s.head.next != e {
		e.unlink()
		s.pushFront(e)
	}
	return e.cached, true
}

func (c *Cache) put(key string, kind keyKind, v cached) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.maps[kind]
	if e := m[key]; e != nil {
		e.cached = v
		e.unlink()
		s.pushFront(e)
		return
	}
	e := &cacheEntry{key: key, kind: kind, cached: v}
	m[key] = e
	s.pushFront(e)
	for s.len() > c.limit {
		old := s.head.prev
		old.unlink()
		delete(s.maps[old.kind], old.key)
	}
}

func (s *cacheShard) len() int {
	n := 0
	for _, m := range s.maps {
		n += len(m)
	}
	return n
}

func (s *cacheShard) pushFront(e *cacheEntry) {
	e.prev, e.next = &s.head, s.head.next
	s.head.next.prev = e
	s.head.next = e
}

func (e *cacheEntry) unlink() {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}
