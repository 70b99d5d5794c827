package console

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func render(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		if t.Class == "" {
			b.WriteString(t.Text)
		} else {
			b.WriteString("[" + t.Class + ":" + t.Text + "]")
		}
	}
	return b.String()
}

func TestHighlight(t *testing.T) {
	cases := []struct{ in, want string }{
		{"select 1", "[sql-kw:select] [sql-num:1]"},
		{"SELECT a FROM t WHERE b = 'x''y'", "[sql-kw:SELECT] a [sql-kw:FROM] t [sql-kw:WHERE] b = [sql-str:'x''y']"},
		{"select E'a\\'b', 'c'", "[sql-kw:select] [sql-str:E'a\\'b'], [sql-str:'c']"},
		{"select $$it's$$, $tag$x$$y$tag$", "[sql-kw:select] [sql-str:$$it's$$], [sql-str:$tag$x$$y$tag$]"},
		{"select * from t where id = $1 and x > 2.5e-3", "[sql-kw:select] * [sql-kw:from] t [sql-kw:where] id = [sql-param:$1] [sql-kw:and] x > [sql-num:2.5e-3]"},
		{"select \"Select\" from t1 -- from\n/* a /* b */ c */ x",
			"[sql-kw:select] [sql-id:\"Select\"] [sql-kw:from] t1 [sql-com:-- from]\n[sql-com:/* a /* b */ c */] x"},
		{"select 'unterminated", "[sql-kw:select] [sql-str:'unterminated]"},
		{"selected fromage", "selected fromage"},
		{"update café set e=1", "[sql-kw:update] café [sql-kw:set] e=[sql-num:1]"},
		{"GET /api/v1/things", "GET /api/v1/things"},
	}
	for _, c := range cases {
		toks := highlight(c.in)
		if got := render(toks); got != c.want {
			t.Errorf("highlight(%q)\n got %s\nwant %s", c.in, got, c.want)
		}
		var joined strings.Builder
		for _, tk := range toks {
			joined.WriteString(tk.Text)
		}
		if joined.String() != c.in {
			t.Errorf("highlight(%q) loses text: %q", c.in, joined.String())
		}
	}
}

// FuzzHighlight checks that highlighting never loses, adds or splits text
// inside a rune, and never panics.
func FuzzHighlight(f *testing.F) {
	for _, s := range []string{"select 1", "E'\\", "$a$", "$1$", "/* /*", "--", "\"", "1.e", "x$1", "é'", "$$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		for _, tk := range highlight(s) {
			if tk.Text == "" {
				t.Fatalf("empty token in %q", s)
			}
			if utf8.ValidString(s) && !utf8.ValidString(tk.Text) {
				t.Fatalf("token %q splits a rune of %q", tk.Text, s)
			}
			b.WriteString(tk.Text)
		}
		if b.String() != s {
			t.Fatalf("highlight(%q) gives back %q", s, b.String())
		}
	})
}
