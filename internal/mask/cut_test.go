package mask

import (
	"strings"
	"testing"
)

func TestSafeCut(t *testing.T) {
	e, err := New(Config{Sets: []string{"pii", "secrets"},
		Custom: []CustomDetector{{Name: "ticket", Pattern: `TICKET [0-9]+ [A-Z]+`}}})
	if err != nil {
		t.Fatal(err)
	}
	card := "4111 1111 1111 1111"
	cases := []struct {
		name, src string
		limit     int
		want      string // the prefix SafeCut keeps
	}{
		{"last blank before the limit", "one two three", 9, "one two "},
		{"a card's blanks are not cuts", "pay " + card + " now", 12, "pay "},
		{"after the card", "pay " + card + " now", 24, "pay " + card + " "},
		{"a custom match's blanks are not cuts", "see TICKET 42 ABC then", 16, "see "},
		{"a key stays with its value", "set password = hunter2 now", 15, "set "},
		{"no blank", "abcdefgh", 8, ""},
		{"only blanks inside a hit", card, len(card), ""},
		{"limit beyond the end", "a b", 10, "a "},
		{"limit zero", "a b", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := e.SafeCut([]byte(c.src), c.limit)
			if got := c.src[:n]; got != c.want {
				t.Errorf("SafeCut(%q, %d) keeps %q, want %q", c.src, c.limit, got, c.want)
			}
			// Whatever is kept, the two pieces mask as the whole does.
			whole := string(e.Text(nil, []byte(c.src), nil))
			pieces := string(e.Text(nil, []byte(c.src[:n]), nil)) + string(e.Text(nil, []byte(c.src[n:]), nil))
			if pieces != whole {
				t.Errorf("cut at %d: pieces mask to %q, the whole to %q", n, pieces, whole)
			}
		})
	}
	var none *Engine
	if n := none.SafeCut([]byte("a "+card), 100); n != 17 {
		t.Errorf("a nil engine cuts at %d, want after the last blank (17): it finds no value", n)
	}
	long := strings.Repeat("x ", 600) + card
	if n := e.SafeCut([]byte(long), len(long)-5); n != 1200 {
		t.Errorf("SafeCut of a long line ending in a card = %d, want 1200 (before the card)", n)
	}
}

// TestCutMarginCoversAKeyAndItsValue checks the bound CutMargin rests on:
// the longest stretch from a key to the start of its value, with the most
// blanks and quotes the key-value detector takes, is found whole and is
// shorter than CutMargin; one blank more on either side of the '=' and the
// value is not found at all.
func TestCutMarginCoversAKeyAndItsValue(t *testing.T) {
	e, err := New(Config{Sets: []string{"secrets"}})
	if err != nil {
		t.Fatal(err)
	}
	found := func(s string) bool {
		return !strings.Contains(string(e.Text(nil, []byte(s), nil)), "hunter2secret")
	}
	blanks := strings.Repeat(" ", maxAssignBlanks)
	for _, c := range []struct{ before, op, quote string }{
		{`\"password\"`, ":=", `\"`},
		{"'db_password'", "=>", "'"},
		{"password   ", "=", ""}, // an unquoted key takes three blanks before its '='
	} {
		before := c.before
		if c.before[0] == '\\' || c.before[0] == '\'' {
			before += blanks
		}
		key := before + c.op + blanks + c.quote
		if !found("x " + key + "hunter2secret" + c.quote + " more") {
			t.Errorf("%q: not found with %d blanks", key, maxAssignBlanks)
		}
		if len(key) >= CutMargin {
			t.Errorf("%q is %d bytes, CutMargin %d: a cut could fall between the key and its value", key, len(key), CutMargin)
		}
		if found("x " + before + c.op + blanks + " " + c.quote + "hunter2secret" + c.quote) {
			t.Errorf("%q: found with %d blanks after the operator", key, maxAssignBlanks+1)
		}
		if c.before[0] != 'p' && found("x "+before+" "+c.op+blanks+c.quote+"hunter2secret"+c.quote) {
			t.Errorf("%q: found with %d blanks before the operator", key, maxAssignBlanks+1)
		}
	}
}

// TestSafeCutWithoutBlanksSkipsTheScan checks that a text with no blank
// before the limit, where no cut is possible, is not scanned: a stream
// that retries its cut as a long word grows would otherwise scan it whole
// for every byte.
func TestSafeCutWithoutBlanksSkipsTheScan(t *testing.T) {
	e, err := New(Config{Sets: []string{"pii", "secrets"}})
	if err != nil {
		t.Fatal(err)
	}
	src := []byte(strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo", 2000) + " tail")
	limit := len(src) - CutMargin
	if n := e.SafeCut(src, limit); n != 0 {
		t.Fatalf("cut at %d in a text without blanks before %d", n, limit)
	}
	if allocs := testing.AllocsPerRun(20, func() { e.SafeCut(src, limit) }); allocs != 0 {
		t.Errorf("SafeCut allocated %.0f times: it scanned a text where no cut is possible", allocs)
	}
}
