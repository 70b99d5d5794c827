package sqlclass

import (
	"hash/maphash"
	"strings"
	"sync"

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
// Lookup is in two steps. The exact text is looked up first. Then, for a
// text without '$' (so without parameters or dollar quotes) that holds a
// single statement, pg_query's normalized text — the text with each
// constant replaced by $n — is looked up. That is sound because no class,
// kind, table, function, setting, WHERE verdict or reason depends on the
// value of a constant: whether a WHERE refers to a column does not change
// when 1 = 1 becomes 1 = 0, set_config is privileged whatever it sets, and
// EXPLAIN (ANALYZE false) counts as ANALYZE. The few results that do read a
// constant (BEGIN READ ONLY vs READ WRITE, set_config's setting name,
// options the normalizer rewrites) are marked and cached by exact text
// only. The statement's span is recomputed from the new text: constants
// lie strictly inside a statement, so the bytes before and after it are
// the same in every text with the same normalized form. A hit carries the
// fingerprint of the first text cached under the form (see docs/classes.md
// for the one pg_query quirk where that differs from the text's own). The
// pg_query fingerprint is not used as a key: it is equal for BEGIN READ
// ONLY and BEGIN READ WRITE.
type Cache struct {
	seed   maphash.Seed
	shards []cacheShard
	limit  int // entries per shard
}

type cacheShard struct {
	mu    sync.Mutex
	exact map[string]*cacheEntry
	norm  map[string]*cacheEntry
	head  cacheEntry // sentinel of the LRU list; head.next is the newest
	_     [64]byte   // keep shards' locks on separate cache lines
}

type cacheEntry struct {
	key        string
	a          *Analysis
	norm       bool // in cacheShard.norm
	start      int  // normalized entries: the statement's start
	tail       int  // normalized entries: bytes after the statement's end
	prev, next *cacheEntry
}

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
		s.exact = make(map[string]*cacheEntry)
		s.norm = make(map[string]*cacheEntry)
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
	if a := c.get(text, false); a != nil {
		return a
	}
	var norm string
	if normalizable(text) {
		if n, err := pg.Normalize(text); err == nil {
			norm = n
			if a := c.getNormalized(norm, text); a != nil {
				return a
			}
		}
	}
	a := classify(text, nil, nil)
	c.put(text, false, a, 0, 0)
	if norm != "" && a.valueIndependent() {
		st := &a.Statements[0]
		c.put(norm, true, a, st.Start, len(text)-st.End)
	}
	return a
}

// Len returns the number of entries.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.exact) + len(s.norm)
		s.mu.Unlock()
	}
	return n
}

// normalizable reports whether text may be looked up by its normalized
// form: no '$' (every $n in the normalized text is then a replaced
// constant) and no NUL (the C normalizer would stop there).
func normalizable(text string) bool {
	return strings.IndexByte(text, '$') < 0 && strings.IndexByte(text, 0) < 0
}

// valueIndependent reports whether a (classified from its own text) may
// serve every text with the same normalized form.
func (a *Analysis) valueIndependent() bool {
	return a.Err == nil && !a.constDependent && len(a.Statements) == 1
}

func (c *Cache) shard(key string) *cacheShard {
	if len(c.shards) == 1 {
		return &c.shards[0]
	}
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

func (c *Cache) get(key string, norm bool) *Analysis {
	e, ok := c.entry(key, norm)
	if !ok {
		return nil
	}
	return e.a
}

// getNormalized returns the analysis stored under normalized form norm,
// rebased onto text.
func (c *Cache) getNormalized(norm, text string) *Analysis {
	e, ok := c.entry(norm, true)
	if !ok {
		return nil
	}
	end := len(text) - e.tail
	if e.start > end {
		return nil // cannot happen for texts with the same normalized form
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

// cached is what an entry holds, copied out under the shard's lock: put
// may update the entry itself at any time.
type cached struct {
	a           *Analysis
	start, tail int
}

func (c *Cache) entry(key string, norm bool) (cached, bool) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.exact
	if norm {
		m = s.norm
	}
	e := m[key]
	if e == nil {
		return cached{}, false
	}
	if s.head.next != e {
		e.unlink()
		s.pushFront(e)
	}
	return cached{a: e.a, start: e.start, tail: e.tail}, true
}

func (c *Cache) put(key string, norm bool, a *Analysis, start, tail int) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.exact
	if norm {
		m = s.norm
	}
	if e := m[key]; e != nil {
		e.a, e.start, e.tail = a, start, tail
		e.unlink()
		s.pushFront(e)
		return
	}
	e := &cacheEntry{key: key, a: a, norm: norm, start: start, tail: tail}
	m[key] = e
	s.pushFront(e)
	for len(s.exact)+len(s.norm) > c.limit {
		old := s.head.prev
		old.unlink()
		if old.norm {
			delete(s.norm, old.key)
		} else {
			delete(s.exact, old.key)
		}
	}
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
