package sqlclass

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// Literals put into the slots of a shape key to make variants: integers,
// small, large, padded and too large for int32, and strings with quotes,
// SQL and comment starts inside.
var (
	intLiterals    = []string{"0", "1", "7", "42", "2147483647", "0099", "2147483648", "99999999999"}
	stringLiterals = []string{"''", "'x'", "'it''s'", "'DELETE FROM t'", "'1'", "'/* \"q\" */'", "'\n'"}
)

// checkShapeSound proves, for text, what the cache's shape-key lookup
// relies on: its variants (each replaced literal in turn, then all of them,
// replaced by others of the same kind) get from the cache exactly what a
// fresh classification gives, and those with the same key get it from the
// shape entry without pg_query's normalizer. It returns the number of
// variants served from the shape entry.
func checkShapeSound(t testing.TB, text string) int {
	t.Helper()
	key := appendShapeKey(nil, text)
	if key == nil {
		return 0
	}
	slots, err := shapeSlots(key, text)
	if err != nil {
		t.Fatalf("%q: key %q: %v", text, key, err)
	}
	if len(slots) == 0 {
		return 0
	}
	c := NewCache(200)
	a := c.Classify(text)
	stored := c.get(string(key), shapeKey, text) != nil
	norm, err := pg.Normalize(text)
	want := err == nil && a.valueIndependent() && shapeKind(a.Statements[0].Kind) && shapeMatches(key, norm)
	if stored != want {
		t.Fatalf("%q: stored under its shape key: %v, want %v", text, stored, want)
	}
	served := 0
	for _, v := range shapeVariants(text, slots) {
		fresh := Classify(v)
		if bytes.Equal(appendShapeKey(nil, v), key) && stored {
			got := c.get(string(key), shapeKey, v)
			if got == nil {
				t.Fatalf("%q: variant %q not served from the shape entry", text, v)
			}
			if d := diffAnalysis(got, fresh); d != "" {
				t.Fatalf("%q: variant %q from the shape entry differs from its own classification: %s", text, v, d)
			}
			calls := countNormalize(func() { got = c.Classify(v) })
			if d := diffAnalysis(got, fresh); d != "" || calls != 0 {
				t.Fatalf("%q: Cache.Classify(%q) (%d normalizer calls) differs: %s", text, v, calls, d)
			}
			served++
			continue
		}
		got := c.Classify(v)
		if strings.Contains(text, "-") || strings.Contains(v, "-") {
			got = withFingerprint(got, fresh.Fingerprint) // see checkNormalizedSound
		}
		if d := diffAnalysis(got, fresh); d != "" {
			t.Fatalf("%q: Cache.Classify(%q) differs: %s", text, v, d)
		}
	}
	return served
}

// shapeVariants returns text with each slot in turn, then all of them,
// replaced by the other literals of its kind.
func shapeVariants(text string, slots []slot) []string {
	lits := func(s slot) []string {
		if s.marker == shapeInt {
			return intLiterals
		}
		return stringLiterals
	}
	var out []string
	for _, s := range slots {
		for _, lit := range lits(s) {
			out = append(out, text[:s.start]+lit+text[s.end:])
		}
	}
	for n := range 3 {
		var b strings.Builder
		prev := 0
		for i, s := range slots {
			l := lits(s)
			b.WriteString(text[prev:s.start])
			b.WriteString(l[(i+n)%len(l)])
			prev = s.end
		}
		b.WriteString(text[prev:])
		out = append(out, b.String())
	}
	return out
}

// countNormalize returns how often fn calls pg_query's normalizer through
// the cache.
func countNormalize(fn func()) int {
	calls := 0
	saved := normalize
	normalize = func(s string) (string, error) {
		calls++
		return saved(s)
	}
	defer func() { normalize = saved }()
	fn()
	return calls
}

// TestCacheShapeSound runs checkShapeSound over the table.
func TestCacheShapeSound(t *testing.T) {
	checkTableSound(t, "shape key", checkShapeSound, 50)
}

// TestCacheShapeExcludes checks texts that share a shape key but must not
// share an analysis, or that must not be stored under a shape key: value
// dependent results, statements other than plain DML, and literals that
// are not constants of the parse tree.
func TestCacheShapeExcludes(t *testing.T) {
	for _, pair := range [][2]string{
		{"SELECT set_config('work_mem', '1MB', false)", "SELECT set_config('search_path', '1MB', false)"},
		{"SELECT set_config('statement_timeout', '1s', false)", "SELECT set_config('default_transaction_read_only', 'off', false)"},
		{"SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", "SET TRANSACTION SNAPSHOT 'x'"},
		{"SET statement_timeout = 5", "SET statement_timeout = 6"},
		{"SET default_transaction_read_only = 'on'", "SET default_transaction_read_only = 'off'"},
		{"ALTER ROLE r SET work_mem = '1MB'", "ALTER ROLE r SET work_mem = '2MB'"},
		{"EXPLAIN SELECT * FROM t WHERE a = 1", "EXPLAIN SELECT * FROM t WHERE a = 2"},
		{"SELECT 1 INTO t2", "SELECT 2 INTO t2"},
		{"CALL p(1)", "CALL p(2)"},
		{"DO 'begin end'", "DO 'begin perform 1; end'"},
		{"NOTIFY ch, 'a'", "NOTIFY ch, 'b'"},
		{"COPY t TO '/tmp/a'", "COPY t TO '/tmp/b'"},
		{"CREATE FUNCTION f() RETURNS int LANGUAGE 'sql' AS 'select 1'", "CREATE FUNCTION f() RETURNS int LANGUAGE 'plperlu' AS 'select 1'"},
		{"DECLARE c CURSOR FOR SELECT 1", "DECLARE c CURSOR FOR SELECT 2"},
		{"PREPARE p AS SELECT 1", "PREPARE p AS SELECT 2"},
		{"SELECT 1; SELECT 2", "SELECT 3; SELECT 4"},
		// Integers the normalizer keeps: the second text does not parse.
		{"SELECT 1::float(10)", "SELECT 1::float(60)"},
		{"SELECT current_time(1)", "SELECT current_time(2147483647)"},
		{"SELECT '1'::timestamp(3)", "SELECT '1'::timestamp(2147483647)"},
		{"SELECT a FROM t ORDER BY 1", "SELECT a FROM t ORDER BY 2"},
		{"SELECT a, count(*) FROM t GROUP BY 1", "SELECT a, count(*) FROM t GROUP BY 2"},
		{"SELECT * FROM t WHERE a = -1", "SELECT * FROM t WHERE a = -2"},
	} {
		c := NewCache(64)
		ka, kb := appendShapeKey(nil, pair[0]), appendShapeKey(nil, pair[1])
		if ka == nil || !bytes.Equal(ka, kb) {
			t.Errorf("%q / %q: keys %q and %q, want the same", pair[0], pair[1], ka, kb)
		}
		c.Classify(pair[0])
		if n := len(c.shards[0].maps[shapeKey]); n != 0 {
			t.Errorf("%q stored under its shape key", pair[0])
		}
		if d := diffAnalysis(c.Classify(pair[1]), Classify(pair[1])); d != "" {
			t.Errorf("%q after %q: %s", pair[1], pair[0], d)
		}
	}
}

// TestCacheInvalidUTF8 checks that a string constant that is not valid
// UTF-8, which pg_query fails on, is not served from an entry made for a
// valid one, by shape key or normalized form.
func TestCacheInvalidUTF8(t *testing.T) {
	c := NewCache(64)
	c.Classify("SELECT ''!0")
	for _, text := range []string{"SELECT '\xcb'!1", "SELECT 'a\xcb'!1"} {
		if d := diffAnalysis(c.Classify(text), Classify(text)); d != "" {
			t.Errorf("%q: %s", text, d)
		}
	}
}

// TestCacheShapeHit checks that a shape hit skips the normalizer, that the
// normalized path fills in a missing shape entry, and that eviction counts
// shape entries.
func TestCacheShapeHit(t *testing.T) {
	c := NewCache(0) // sharded: shapeEntry must find the shard put chose
	c.Classify(benchSimple)
	text := "SELECT abalance FROM pgbench_accounts WHERE aid = 7;"
	var a *Analysis
	if n := countNormalize(func() { a = c.Classify(text) }); n != 0 {
		t.Errorf("shape hit called the normalizer %d times", n)
	}
	if d := diffAnalysis(a, Classify(text)); d != "" {
		t.Errorf("%q: %s", text, d)
	}
	// 2147483648 is kept in the key, where the normalizer puts $1: such
	// texts are served from the normalized entry only. A negative number gets no shape entry; a normalized hit of another
	// text with the same form stores one for that text's shape.
	c2 := NewCache(64)
	for _, tc := range []struct {
		c     *Cache
		text  string
		calls int
	}{
		{c, "SELECT abalance FROM pgbench_accounts WHERE aid = 2147483648;", 1},
		{c, "SELECT abalance FROM pgbench_accounts WHERE aid = 2147483649;", 1},
		{c2, "SELECT * FROM t WHERE a = -1", 1},
		{c2, "SELECT * FROM t WHERE a = 5", 1},
		{c2, "SELECT * FROM t WHERE a = 6", 0},
	} {
		if n := countNormalize(func() { a = tc.c.Classify(tc.text) }); n != tc.calls {
			t.Errorf("%q: %d normalizer calls, want %d", tc.text, n, tc.calls)
		}
		if d := diffAnalysis(a, Classify(tc.text)); d != "" {
			t.Errorf("%q: %s", tc.text, d)
		}
	}
	if n := testing.AllocsPerRun(100, func() { c.Classify(text) }); n > 1 {
		t.Errorf("shape hit: %v allocations, want at most 1", n)
	}
	c = NewCache(8)
	for i := range 100 {
		c.Classify(fmt.Sprintf("SELECT * FROM t%d WHERE a = %d", i%20, i))
	}
	if n := c.Len(); n > 8 {
		t.Errorf("cache holds %d entries, limit 8", n)
	}
}
