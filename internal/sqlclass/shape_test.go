package sqlclass

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestShapeKey checks the scanner on texts whose key is known: "-" stands
// for no key, '#' for shapeInt in the wanted key.
func TestShapeKey(t *testing.T) {
	for _, tc := range []struct{ text, key string }{
		{"SELECT abalance FROM pgbench_accounts WHERE aid = 12345;", "SELECT abalance FROM pgbench_accounts WHERE aid = #;"},
		{"SELECT 1, '', 'it''s', 'a\nb' FROM t", "SELECT #, $, $, $ FROM t"},
		{"INSERT INTO t(a,b) VALUES(1,'x'),(2,'y')", "INSERT INTO t(a,b) VALUES(#,$),(#,$)"},
		{"SELECT a[1], f(2)::text, 3=4, 5<>-6", "SELECT a[#], f(#)::text, #=#, #<>-#"},
		{"SELECT 2147483647, 2147483648, 0002147483647, 99999999999", "SELECT #, 2147483648, #, 99999999999"},
		// Numbers that are not plain integers are kept.
		{"SELECT 1.5, .5, 1., 1e5, 1E+5, 1e-5, 0x1F, 0o17, 0b101, 1_000, 1abc, 7", "SELECT 1.5, .5, 1., 1e5, 1E+5, 1e-5, 0x1F, 0o17, 0b101, 1_000, 1abc, #"},
		{"SELECT t.1, t1, x2y, _3, é4, a.b5", "SELECT t.1, t1, x2y, _3, é4, a.b5"},
		// Quoted identifiers are copied, digits and quotes inside kept.
		{`SELECT "a1", "it's 2", "x""3" FROM "t'4" WHERE "5" = 5`, `SELECT "a1", "it's 2", "x""3" FROM "t'4" WHERE "5" = #`},
		{`SELECT "a\" FROM t WHERE b = 1`, `SELECT "a\" FROM t WHERE b = #`},
		// Strings hide what looks like SQL, numbers and comments.
		{"SELECT '-- 1', '/* 2 */', '\"3\"' FROM t", "SELECT $, $, $ FROM t"},
		{"SELECT 'a' || 'b', 'c'::int, x = 'd'", "SELECT $ || $, $::int, x = $"},
		// Gives up.
		{"SELECT 1 -- one", "-"},
		{"SELECT /* one */ 1", "-"},
		{"SELECT 1--", "-"},
		{"SELECT 1e--5", "-"},
		{`SELECT E'a'`, "-"},
		{`SELECT e'\n'`, "-"},
		{"SELECT B'101', X'1F', N'x'", "-"},
		{"SELECT date'2020-01-01'", "-"},
		{"SELECT U&'d!0061t' UESCAPE '!'", "-"},
		{`SELECT * FROM U&"d!0061ta" UESCAPE '!'`, "-"},
		{`SELECT 'a\'`, "-"},
		{`SELECT 'a\\b'`, "-"},
		{"SELECT 'abc", "-"},
		{"SELECT 'it''s", "-"},
		{`SELECT "abc`, "-"},
		{"SELECT 'a'\n'b'", "-"},
		{"SELECT 'a' 'b'", "-"},
		{"SELECT $1", "-"},
		{"SELECT $$a$$", "-"},
		{"SELECT 1\x00", "-"},
		{"SELECT '\xcb'", "-"},
	} {
		want := strings.ReplaceAll(tc.key, "#", "\x00")
		key := appendShapeKey(nil, tc.text)
		if tc.key == "-" {
			if key != nil {
				t.Errorf("%q: key %q, want none", tc.text, key)
			}
			continue
		}
		if string(key) != want {
			t.Errorf("%q: key %q, want %q", tc.text, key, want)
			continue
		}
		if _, err := shapeSlots(key, tc.text); err != nil {
			t.Errorf("%q: %v", tc.text, err)
		}
	}
}

// TestShapeKeyPairs checks which texts share a key.
func TestShapeKeyPairs(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"SELECT * FROM t WHERE a = 1", "SELECT * FROM t WHERE a = 2147483647", true},
		{"SELECT * FROM t WHERE a = 'x'", "SELECT * FROM t WHERE a = 'DELETE FROM t'", true},
		{"SELECT * FROM t WHERE a = ''", "SELECT * FROM t WHERE a = 'it''s'", true},
		{"SELECT * FROM t WHERE a = 1", "SELECT * FROM t WHERE a = 2147483648", false},
		{"SELECT * FROM t WHERE a = 1", "SELECT * FROM t WHERE a = '1'", false},
		{"SELECT * FROM t WHERE a = 1", "SELECT * FROM t WHERE a = 1.0", false},
		{"SELECT * FROM t WHERE a = 1", "SELECT * FROM t WHERE a =  1", false},
		{"SELECT * FROM t WHERE a = 1", "select * from t where a = 1", false},
		{"SELECT * FROM t1", "SELECT * FROM t2", false},
		{`SELECT * FROM "t1"`, `SELECT * FROM "t2"`, false},
		{"SELECT x.1", "SELECT x.2", false},
		{"SELECT 1.5", "SELECT 1.6", false},
		{"SELECT 1e5", "SELECT 1e6", false},
	} {
		ka, kb := appendShapeKey(nil, tc.a), appendShapeKey(nil, tc.b)
		if ka == nil || kb == nil {
			t.Errorf("%q / %q: no key", tc.a, tc.b)
			continue
		}
		if bytes.Equal(ka, kb) != tc.same {
			t.Errorf("%q / %q: keys %q and %q, want same=%v", tc.a, tc.b, ka, kb, tc.same)
		}
	}
}

// slot is where a literal replaced in a shape key lies in its text.
type slot struct {
	start, end int
	marker     byte
}

// shapeSlots returns where the literals replaced in key lie in text. It
// checks, independently of the scanner, that key is text with plain
// integers and simple strings replaced and every other byte kept.
func shapeSlots(key []byte, text string) ([]slot, error) {
	var slots []slot
	identOrDot := func(i int) bool {
		return i >= 0 && i < len(text) && (isIdentByte(text[i]) || text[i] == '.')
	}
	i := 0
	for k, b := range key {
		switch b {
		case shapeInt:
			j := i
			for j < len(text) && isDigit(text[j]) {
				j++
			}
			if _, err := strconv.ParseInt(text[i:j], 10, 32); err != nil || identOrDot(i-1) || identOrDot(j) {
				return nil, fmt.Errorf("key byte %d: %q is no plain int32 literal", k, text[i:])
			}
			slots = append(slots, slot{i, j, b})
			i = j
		case shapeString:
			if i >= len(text) || text[i] != '\'' || i > 0 && (isIdentByte(text[i-1]) || text[i-1] == '&') {
				return nil, fmt.Errorf("key byte %d: %q is no simple string", k, text[i:])
			}
			j := i + 1
			for ; j < len(text); j++ {
				if text[j] == '\\' {
					return nil, fmt.Errorf("key byte %d: backslash in %q", k, text[i:])
				}
				if text[j] == '\'' {
					if j+1 < len(text) && text[j+1] == '\'' {
						j++
						continue
					}
					break
				}
			}
			if j == len(text) {
				return nil, fmt.Errorf("key byte %d: unterminated %q", k, text[i:])
			}
			slots = append(slots, slot{i, j + 1, b})
			i = j + 1
		default:
			if i >= len(text) || text[i] != b {
				return nil, fmt.Errorf("key byte %d %q differs from text %q", k, b, text[min(i, len(text)):])
			}
			i++
		}
	}
	if i != len(text) {
		return nil, fmt.Errorf("key ends before text %q", text[i:])
	}
	return slots, nil
}

// FuzzShapeKey checks that the scanner never changes a byte outside the
// literals it replaces (shapeSlots) and that every fuzzed text passes
// checkShapeSound.
func FuzzShapeKey(f *testing.F) {
	for _, s := range []string{
		"SELECT abalance FROM pgbench_accounts WHERE aid = 12345;",
		"UPDATE t SET a = 'x', b = 2 WHERE id = 3",
		"DELETE FROM t WHERE a IN (1, 2, 3) AND b = 'it''s'",
		"INSERT INTO t VALUES (1, 'a'), (2, 'b') RETURNING id",
		`SELECT "a1", 't''2', 3 FROM "t""4" WHERE x = 5e5 OR y = 0x1F OR z = 1_000`,
		"SELECT * FROM t LIMIT 10 OFFSET 20",
		"SELECT 1::float(10)",
		"SELECT set_config('work_mem', '1MB', false)",
		"SELECT 1 -- 2",
		"SELECT 'a'\n'b'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if key := appendShapeKey(nil, text); key != nil {
			if _, err := shapeSlots(key, text); err != nil {
				t.Fatalf("%q: key %q: %v", text, key, err)
			}
		}
		checkShapeSound(t, text)
	})
}
