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
// with the most blanks and quotes a key may have around its '=' and its
// value, a stream that has seen any part of that stretch, but not yet the
// value, is cut before the key when its limit stays CutMargin short of the
// end. One blank more and the value is not found at all.
func TestCutMarginCoversAKeyAndItsValue(t *testing.T) {
	e, err := New(Config{Sets: []string{"secrets"}})
	if err != nil {
		t.Fatal(err)
	}
	blanks := strings.Repeat(" ", maxAssignBlanks)
	head := strings.Repeat("lorem ", 200)
	for _, key := range []string{
		`\"password\"` + blanks + ":=" + blanks + `\"`,
		"password   =" + blanks,
		"'db_password'" + blanks + "=>" + blanks + "'",
	} {
		whole := head + key + "hunter2secret and more\n"
		if got := string(e.Text(nil, []byte(whole), nil)); strings.Contains(got, "hunter2secret") {
			t.Fatalf("%q: not found whole: %q", key, got[len(head):])
		}
		if len(key) >= CutMargin {
			t.Fatalf("%q is %d bytes, CutMargin %d", key, len(key), CutMargin)
		}
		for m := 1; m <= len(key); m++ {
			src := []byte(head + key[:m])
			if n := e.SafeCut(src, len(src)-CutMargin); n > len(head) {
				t.Fatalf("seen %q: cut at %d, inside the key's stretch (it starts at %d)", key[:m], n, len(head))
			}
		}
	}
	over := "password = " + blanks + " hunter2secret"
	if got := string(e.Text(nil, []byte(over), nil)); !strings.Contains(got, "hunter2secret") {
		t.Errorf("a value %d blanks after its '=' was found: %q", maxAssignBlanks+2, got)
	}
}
