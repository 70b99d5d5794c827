package notify

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseCommand checks that any comment text yields either no command or
// a command whose reason is one bounded line.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"/approve", "/deny no", " \n/APPROVE\tok\nmore", "/approved", "/approve \u202e", "/deny \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		approve, reason, ok := parseCommand(s)
		if !ok && (approve || reason != "") {
			t.Fatalf("no command but approve=%v reason=%q", approve, reason)
		}
		if strings.ContainsAny(reason, "\n\r") || len(reason) > maxReason || !utf8.ValidString(reason) {
			t.Fatalf("reason %q", reason)
		}
		if ok {
			word := strings.ToLower(strings.Fields(s)[0])
			if word != "/approve" && word != "/deny" {
				t.Fatalf("%q parsed as a command", s)
			}
		}
	})
}

// FuzzMarkdownFence checks that no statement can close the fence around it
// or escape its code span.
func FuzzMarkdownFence(f *testing.F) {
	for _, s := range []string{"SELECT 1", "```", "a\n````\nb", "`", "~~~\n```sql", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := mdFence(s, "sql")
		n := longestRun(out[:strings.IndexByte(out, 's')], '`')
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		inner := lines[1 : len(lines)-1]
		for _, l := range inner {
			c := strings.TrimSpace(l)
			if c != "" && len(c) >= n && strings.Trim(c, "`") == "" {
				t.Fatalf("line %q closes the %d-backtick fence", l, n)
			}
		}
		if strings.Join(inner, "\n") != s {
			t.Fatalf("content changed")
		}
		code := mdCode(s)
		d := 0
		for d < len(code) && code[d] == '`' {
			d++
		}
		body := code[d : len(code)-d]
		if strings.Contains(body, strings.Repeat("`", d)) && longestRun(body, '`') >= d {
			t.Fatalf("code span %q can be closed early", code)
		}
	})
}

// FuzzADFPlain checks that any comment body decodes without panicking.
func FuzzADFPlain(f *testing.F) {
	for _, s := range []string{`"x"`, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"/approve"}]}]}`, `{`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = parseCommand(adfPlain(b))
	})
}

// FuzzSlackPayload checks that any interactivity body parses or fails
// without panicking, and yields only well-formed review ids.
func FuzzSlackPayload(f *testing.F) {
	f.Add([]byte("payload=%7B%22type%22%3A%22block_actions%22%2C%22actions%22%3A%5B%7B%22action_id%22%3A%22sluice_approve%22%2C%22value%22%3A%22rv_1%22%7D%5D%7D"))
	f.Add([]byte("payload=%7B"))
	f.Add([]byte("a=b&payload="))
	s := &Slack{}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := parseSlackInteraction(b)
		if err != nil {
			return
		}
		if v, ok := s.vote(in); ok && !reviewIDPattern.MatchString(v.reviewID) {
			t.Fatalf("review id %q", v.reviewID)
		}
	})
}
