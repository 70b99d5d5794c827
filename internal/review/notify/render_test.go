package notify

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in      string
		approve bool
		reason  string
		ok      bool
	}{
		{"/approve", true, "", true},
		{"/approve looks fine", true, "looks fine", true},
		{"  \n\n/deny   not now  \nsecond line", false, "not now", true},
		{"/APPROVE\tok", true, "ok", true},
		{"/Deny", false, "", true},
		{"/approved", false, "", false},
		{"/approvefoo", false, "", false},
		{"please /approve", false, "", false},
		{"approve", false, "", false},
		{"", false, "", false},
		{"/approve \u202eevil", true, "<U+202E>evil", true},
		{"/deny " + strings.Repeat("x", 600), false, strings.Repeat("x", maxReason-3) + "…", true},
	}
	for _, tt := range tests {
		approve, reason, ok := parseCommand(tt.in)
		if approve != tt.approve || reason != tt.reason || ok != tt.ok {
			t.Errorf("parseCommand(%q) = %v, %q, %v; want %v, %q, %v", tt.in, approve, reason, ok, tt.approve, tt.reason, tt.ok)
		}
	}
}

func TestReviewFromTitle(t *testing.T) {
	for in, want := range map[string]string{
		"[sluice rv_42] write statement on orders by a": "rv_42",
		"[sluice 0d4f-aa.b:c] x":                        "0d4f-aa.b:c",
		"Re: [sluice rv_42] x":                          "",
		"[sluice rv 42] x":                              "",
		"[sluice ] x":                                   "",
	} {
		got, ok := reviewFromTitle(in)
		if got != want || ok != (want != "") {
			t.Errorf("reviewFromTitle(%q) = %q, %v", in, got, ok)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 5, "hello"},
		{"hello world", 8, "hello…"},
		{"ééé", 5, "é…"}, // é is 2 bytes, … is 3
		{"ééé", 2, ""},
	} {
		got := truncate(tt.in, tt.n)
		if got != tt.want || len(got) > tt.n || !utf8.ValidString(got) {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestVisible(t *testing.T) {
	for _, tt := range []struct {
		in        string
		multiline bool
		want      string
	}{
		{"SELECT 1;\n\tSELECT 2", true, "SELECT 1;\n\tSELECT 2"},
		{"SELECT 1;\r\nSELECT 2", false, "SELECT 1;  SELECT 2"},
		{"DROP /* \u202e */ TABLE", true, "DROP /* <U+202E> */ TABLE"},
		{"a\u200bb\x00c\x1b[31m", true, "a<U+200B>b<U+0000>c<U+001B>[31m"},
		{"bad \xff utf8", true, "bad <0xFF> utf8"},
		{"naïve 日本", true, "naïve 日本"},
	} {
		if got := visible(tt.in, tt.multiline); got != tt.want {
			t.Errorf("visible(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStatementText(t *testing.T) {
	v := "x'y"
	req := sluice.Request{Text: "UPDATE t SET a = $1 WHERE b = $2", Params: []*string{&v, nil}}
	want := "UPDATE t SET a = $1 WHERE b = $2\n\n-- parameters\n-- $1 = 'x'y'\n-- $2 = NULL"
	if got := statementText(req, 1000); got != want {
		t.Errorf("statementText = %q, want %q", got, want)
	}
	long := sluice.Request{Text: strings.Repeat("日", 1000)}
	got := statementText(long, 500)
	if len(got) > 500 || !utf8.ValidString(got) || !strings.HasSuffix(got, "(truncated; 3000 bytes in all)") {
		t.Errorf("truncated statement: %d bytes, ends %q", len(got), got[len(got)-40:])
	}
	if got := statementText(sluice.Request{Text: " "}, 100); got != "(empty)" {
		t.Errorf("empty statement = %q", got)
	}
}

func TestOutcomeAndFacts(t *testing.T) {
	r := decided(sluice.ReviewExecuted, true)
	r.ExecutedAt = time.Date(2026, 3, 1, 12, 2, 0, 0, time.UTC)
	h, votes := outcome(r)
	if h != "Approved and executed at 2026-03-01 12:02:00 UTC" || len(votes) != 1 ||
		votes[0] != "approved by alice via slack at 2026-03-01 12:01:00 UTC: looks fine" {
		t.Errorf("outcome = %q %q", h, votes)
	}
	r = sampleReview()
	r.Status = sluice.ReviewExpired
	r.MinApprovals = 2
	if h, _ := outcome(r); h != "Expired with 0 of 2 approvals" {
		t.Errorf("expired headline = %q", h)
	}
	r.EstimatedRows = -1
	r.Request.Connection = "orders\n<!here>"
	var got []string
	for _, f := range reviewFacts(r) {
		got = append(got, f.label+"="+f.value)
		if strings.ContainsAny(f.value, "\n\r") {
			t.Errorf("fact %s spans lines: %q", f.label, f.value)
		}
	}
	joined := strings.Join(got, "|")
	for _, w := range []string{"Estimated rows=unknown", "Approvals needed=2 from group:dba", "Review=rv_42",
		"Requester=agent-7 (groups: ai-agents)", "Classes=write, destructive", "Rule=agents-orders rule 2"} {
		if !strings.Contains(joined, w) {
			t.Errorf("facts lack %q: %s", w, joined)
		}
	}
}

func TestMarkdownEscaping(t *testing.T) {
	for in, want := range map[string]string{
		"alice":      "`alice`",
		"a`b":        "``a`b``",
		"`x`":        "`` `x` ``",
		"a```b":      "````a```b````",
		"":           "` `",
		"line\nnext": "`line next`",
	} {
		if got := mdCode(in); got != want {
			t.Errorf("mdCode(%q) = %q, want %q", in, got, want)
		}
	}
	if got := mdFence("a\n````\nb", "sql"); got != "`````sql\na\n````\nb\n`````\n" {
		t.Errorf("mdFence = %q", got)
	}
	if got := mdDestination("https://x.example/a b?c=<d>"); got != "<https://x.example/a%20b?c=%3Cd%3E>" {
		t.Errorf("mdDestination = %q", got)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"Sun, 01 Mar 2026 12:00:10 GMT", 10 * time.Second, true},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0, true},
	} {
		got, ok := retryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoffIsBounded(t *testing.T) {
	o := HTTPOptions{Backoff: time.Second}.withDefaults()
	for attempt := 1; attempt <= 10; attempt++ {
		d := o.backoff(attempt)
		if d <= 0 || d > maxBackoff {
			t.Errorf("backoff(%d) = %v", attempt, d)
		}
	}
	if d := o.backoff(1); d < 500*time.Millisecond || d > time.Second {
		t.Errorf("first backoff = %v, want within [Backoff/2, Backoff]", d)
	}
}

func TestADFPlain(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`"/approve ok"`, "/approve ok"},
		{`{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"/deny "},{"type":"text","text":"why","marks":[{"type":"strong"}]},{"type":"hardBreak"},{"type":"text","text":"more"}]}]}`, "/deny why\nmore\n"},
		{`{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"a"}]},{"type":"paragraph","content":[{"type":"text","text":"b"}]}]}`, "a\nb\n"},
		{`42`, ""},
		{`null`, ""},
	} {
		if got := adfPlain([]byte(tt.in)); got != tt.want {
			t.Errorf("adfPlain(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
