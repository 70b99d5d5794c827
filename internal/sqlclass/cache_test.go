package sqlclass

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	pg "github.com/pganalyze/pg_query_go/v6"
)

var placeholder = regexp.MustCompile(`\$[0-9]+`)

// literals replace the normalizer's placeholders in variants: numbers,
// strings, escapes, booleans, NULL, bit strings — values of every kind, so
// that a rule that depended on a constant's value or type would show.
var literals = []string{"0", "1", "-7", "1.5", "'x'", "'it''s'", "'DELETE FROM t'", `E'\n'`, "true", "false", "NULL", "B'101'", "''"}

// checkNormalizedSound proves, for text, what the cache's normalized-form
// lookup relies on: every text with the same normalized form gets, from the
// cache, exactly what a fresh classification of that text gives. It
// returns the number of variants checked.
func checkNormalizedSound(t testing.TB, text string) int {
	t.Helper()
	a := Classify(text)
	if !normalizable(text) || !a.valueIndependent() {
		return 0
	}
	norm, err := pg.Normalize(text)
	if err != nil {
		return 0
	}
	c := NewCache(16)
	c.Classify(text)
	checked := 0
	variants := make([]string, 0, len(literals)+1)
	for _, lit := range literals {
		variants = append(variants, placeholder.ReplaceAllLiteralString(norm, lit))
	}
	i := 0
	variants = append(variants, placeholder.ReplaceAllStringFunc(norm, func(string) string {
		i++
		return literals[i%len(literals)]
	}))
	for _, v := range variants {
		if !normalizable(v) {
			continue
		}
		vn, err := pg.Normalize(v)
		if err != nil || vn != norm {
			continue
		}
		served := c.get(norm, normKey, v)
		if served == nil {
			t.Fatalf("%q: variant %q not served from the normalized entry", text, v)
		}
		fresh := Classify(v)
		minusQuirk := strings.Contains(text, "-") || strings.Contains(v, "-")
		if minusQuirk {
			// pg_query folds a unary minus into a numeric constant
			// (-7) but not into others (-'7'); the normalizer turns
			// both into $1, the fingerprint tells them apart. The
			// classification is the same; the fingerprint is the
			// first text's.
			served = withFingerprint(served, fresh.Fingerprint)
		}
		if d := diffAnalysis(served, fresh); d != "" {
			t.Fatalf("%q: variant %q from the cache differs from its own classification: %s", text, v, d)
		}
		cached := c.Classify(v)
		if minusQuirk {
			cached = withFingerprint(cached, fresh.Fingerprint)
		}
		if d := diffAnalysis(cached, fresh); d != "" {
			t.Fatalf("%q: Cache.Classify(%q) differs: %s", text, v, d)
		}
		checked++
	}
	return checked
}

// TestCacheNormalizedSound runs checkNormalizedSound over the table.
func TestCacheNormalizedSound(t *testing.T) {
	checkTableSound(t, "normalized key", checkNormalizedSound, 100)
}

// checkTableSound runs check over every table text and fails unless at
// least minTexts texts and 500 variants were checked.
func checkTableSound(t *testing.T, key string, check func(testing.TB, string) int, minTexts int) {
	t.Helper()
	texts, variants := 0, 0
	for _, tc := range table {
		if n := check(t, tc.sql); n > 0 {
			texts++
			variants += n
		}
	}
	t.Logf("%d table texts use the %s; %d variants served from it matched a fresh classification", texts, key, variants)
	if texts < minTexts || variants < 500 {
		t.Errorf("only %d texts / %d variants checked", texts, variants)
	}
}

// TestCacheExcludesValueDependent checks the texts whose classification
// reads a constant: they must not share a normalized entry.
func TestCacheExcludesValueDependent(t *testing.T) {
	c := NewCache(64)
	for _, pair := range [][2]string{
		{"SET TRANSACTION READ ONLY", "SET TRANSACTION READ WRITE"},
		{"BEGIN READ ONLY", "BEGIN READ WRITE"},
		{"SELECT set_config('work_mem', '1MB', false)", "SELECT set_config('search_path', '1MB', false)"},
		{"CREATE FUNCTION f() RETURNS int LANGUAGE 'sql' AS 'select 1'", "CREATE FUNCTION f() RETURNS int LANGUAGE 'plperlu' AS 'select 1'"},
	} {
		a, b := c.Classify(pair[0]), c.Classify(pair[1])
		if d := diffAnalysis(b, Classify(pair[1])); d != "" {
			t.Errorf("%q after %q: %s", pair[1], pair[0], d)
		}
		_ = a
	}
	// The fingerprint is not a sound key.
	fa, _ := pg.FingerprintToUInt64("BEGIN READ ONLY")
	fb, _ := pg.FingerprintToUInt64("BEGIN READ WRITE")
	if fa != fb {
		t.Logf("fingerprints of BEGIN READ ONLY/WRITE now differ; the cache does not use them either way")
	}
	if Classify("BEGIN READ ONLY").Class == Classify("BEGIN READ WRITE").Class {
		t.Errorf("READ ONLY and READ WRITE classified alike")
	}
}

func TestCacheExactAndNUL(t *testing.T) {
	c := NewCache(4)
	a := c.Classify("SELECT 1")
	if c.Classify("SELECT 1") != a {
		t.Errorf("exact hit returned a different analysis")
	}
	// A NUL byte must not let the normalizer see only a prefix.
	c.Classify("SELECT 2")
	if got := c.Classify("SELECT 3\x00; DELETE FROM t"); got.Class != U {
		t.Errorf("text with NUL classified %s", got.Class)
	}
	// Dollar quotes never use the normalized key.
	c.Classify("SELECT 'a'")
	if got := c.Classify("SELECT $$a$$"); got.Text != "SELECT $$a$$" {
		t.Errorf("got %q", got.Text)
	}
}

func TestCacheEvicts(t *testing.T) {
	c := NewCache(10)
	for i := range 100 {
		c.Classify(fmt.Sprintf("SELECT %d FROM t%d", i, i))
	}
	if n := c.Len(); n > 10 {
		t.Errorf("cache holds %d entries, limit 10", n)
	}
	c = NewCache(1000)
	for i := range 5000 {
		c.Classify(fmt.Sprintf("SELECT * FROM t%d", i))
	}
	if n := c.Len(); n > 1000+16 {
		t.Errorf("cache holds %d entries, limit about 1000", n)
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := NewCache(256)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				text := fmt.Sprintf("SELECT abalance FROM pgbench_accounts WHERE aid = %d", (i*7+g)%500)
				if i%3 == 0 {
					text = table[(i+g)%len(table)].sql
				}
				got := c.Classify(text)
				if d := diffAnalysis(got, Classify(text)); d != "" {
					t.Errorf("%q: %s", text, d)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestCacheLongText(t *testing.T) {
	c := NewCache(8)
	text := "SELECT " + strings.Repeat("1 + ", MaxCachedText/4) + "1"
	if a := c.Classify(text); a.Class != R || c.Len() != 0 {
		t.Errorf("long text: class %s, %d entries", a.Class, c.Len())
	}
}

func withFingerprint(a *Analysis, fp uint64) *Analysis {
	b := *a
	b.Fingerprint = fp
	return &b
}

// TestCacheConcurrentSameShape classifies, from many goroutines, texts that
// share a normalized form but differ in their literals, so that entries are
// read while put replaces them (run with -race); every result must describe
// its own text.
func TestCacheConcurrentSameShape(t *testing.T) {
	c := NewCache(64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				lit := strings.Repeat("x", (g*300+i)%17)
				text := "select * from t where a = '" + lit + "'"
				text = strings.Repeat(" ", i%3) + text // moves the statement within the text
				if d := diffAnalysis(c.Classify(text), Classify(text)); d != "" {
					t.Errorf("%q: %s", text, d)
					return
				}
			}
		})
	}
	wg.Wait()
}
