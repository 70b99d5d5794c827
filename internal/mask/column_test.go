package mask

import (
	"strings"
	"testing"
)

func TestColumnPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern, table, column string
		want                   bool
	}{
		{"email", "users", "email", true},
		{"email", "", "email", true},
		{"email", "public.users", "EMAIL", true},
		{"email", "users", "email2", false},
		{"*.email", "users", "email", true},
		{"*.email", "", "email", true},
		{"users.email", "users", "email", true},
		{"users.email", "public.users", "email", true},
		{"users.email", "Users", "Email", true},
		{"users.email", "orders", "email", false},
		{"users.email", "", "email", false},
		{"public.users.email", "public.users", "email", true},
		{"public.users.email", "users", "email", true}, // schema unknown
		{"public.users.email", "audit.users", "email", false},
		{"*.users.email", "audit.users", "email", true},
		{"*email*", "t", "billing_email_address", true},
		{"*_token", "t", "refresh_token", true},
		{"*_token", "t", "token", false},
		{"user*.*", "users", "anything", true},
		{"user*.*", "accounts", "anything", false},
		{"*.*", "", "x", true},
		{"a*b*c", "t", "axxbyyc", true},
		{"a*b*c", "t", "axxbyy", false},
		{"PUBLIC.Users.SSN", "public.users", "ssn", true},
	} {
		e, err := New(Config{Columns: []ColumnRule{{Pattern: tc.pattern}}})
		if err != nil {
			t.Fatal(err)
		}
		m := e.Column(tc.table, tc.column)
		if got := m != nil; got != tc.want {
			t.Errorf("pattern %q on %q.%q: match %v, want %v", tc.pattern, tc.table, tc.column, got, tc.want)
		}
		if m != nil && m.Rule() != tc.pattern {
			t.Errorf("Rule() = %q", m.Rule())
		}
	}
}

func TestColumnFirstRuleWins(t *testing.T) {
	e, err := New(Config{Columns: []ColumnRule{
		{Pattern: "users.email", Strategy: "partial"},
		{Pattern: "*.email", Strategy: "redact"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if s := e.Column("users", "email").Strategy(); s != Partial {
		t.Errorf("users.email: %v", s)
	}
	if s := e.Column("orders", "email").Strategy(); s != Redact {
		t.Errorf("orders.email: %v", s)
	}
}

func TestColumnNil(t *testing.T) {
	e, err := New(Config{Columns: []ColumnRule{{Pattern: "ssn"}}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Column("users", "name") != nil {
		t.Error("no rule and no detectors: want nil")
	}
	if e.Column("users", "ssn") == nil {
		t.Error("rule: want a masker")
	}
	d := allDetectors(t)
	if m := d.Column("users", "name"); m == nil || m.Rule() != "" || m.Strategy() != Redact {
		t.Error("detectors: want a detector-only masker")
	}
	var zero Engine
	if zero.Enabled() || zero.Column("a", "b") != nil {
		t.Error("zero engine must mask nothing")
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Sets: []string{"pci"}}, `unknown detector set "pci"`},
		{Config{Detectors: []string{"emial"}}, `unknown detector "emial"`},
		{Config{Strategy: "scramble"}, `unknown strategy "scramble"`},
		{Config{Columns: []ColumnRule{{Pattern: "a..b"}}}, `column rule 0 "a..b"`},
		{Config{Columns: []ColumnRule{{Pattern: "a.b.c.d"}}}, `column rule 0 "a.b.c.d"`},
		{Config{Columns: []ColumnRule{{Pattern: "x", Strategy: "nope"}}}, `column rule 0 "x": unknown strategy`},
		{Config{JSONPaths: []PathRule{{Path: "a.b"}}}, `json path rule 0 "a.b": path must start`},
		{Config{JSONPaths: []PathRule{{Path: "$.a[x]"}}}, `json path rule 0 "$.a[x]": bad index`},
		{Config{JSONPaths: []PathRule{{Path: "$.a['b"}}}, `unterminated`},
		{Config{Custom: []CustomDetector{{Name: "Bad Name", Pattern: "x"}}}, `custom detector "Bad Name": name`},
		{Config{Custom: []CustomDetector{{Name: "email", Pattern: "x"}}}, `custom detector "email": name is taken`},
		{Config{Custom: []CustomDetector{{Name: "x", Pattern: "("}}}, `custom detector "x": pattern`},
		{Config{Custom: []CustomDetector{{Name: "x", Pattern: "a*"}}}, `custom detector "x": pattern matches the empty string`},
		{Config{Custom: []CustomDetector{{Name: "x", Pattern: "a"}, {Name: "x", Pattern: "b"}}}, `custom detector "x": defined twice`},
	} {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}

func TestEnabledAndDetectors(t *testing.T) {
	e, err := New(Config{Sets: []string{"pii"}, Detectors: []string{"jwt"}, Custom: []CustomDetector{{Name: "emp_id", Pattern: `EMP-\d{6}`}}})
	if err != nil {
		t.Fatal(err)
	}
	if !e.Enabled() {
		t.Error("not enabled")
	}
	got := strings.Join(e.Detectors(), ",")
	if got != "email,phone,payment_card,iban,us_ssn,ip,jwt,emp_id" {
		t.Errorf("Detectors() = %s", got)
	}
	if len(SetDetectors("secrets")) != 16 || SetDetectors("nope") != nil || strings.Join(Sets(), ",") != "pii,secrets" {
		t.Error("sets")
	}
}

func TestCounts(t *testing.T) {
	e, err := New(Config{Sets: []string{"pii"}, Custom: []CustomDetector{{Name: "emp_id", Pattern: `EMP-\d{6}`}}})
	if err != nil {
		t.Fatal(err)
	}
	var a, b Counts
	e.Text(nil, []byte("a@example.com b@example.com EMP-123456 10.0.0.1"), &a)
	e.Text(nil, []byte("c@example.com EMP-000001"), &b)
	a.Merge(&b)
	var pairs []string
	for name, n := range a.All() {
		pairs = append(pairs, name+"="+string(rune('0'+n)))
	}
	if got := strings.Join(pairs, " "); got != "email=3 ip=1 emp_id=2" {
		t.Errorf("All() = %s", got)
	}
	if a.Total() != 6 || a.Get("email") != 3 || a.Get("emp_id") != 2 || a.Get("nope") != 0 {
		t.Errorf("Total %d, Get %d %d", a.Total(), a.Get("email"), a.Get("emp_id"))
	}
	a.Reset()
	if a.Total() != 0 || len(a.Map()) != 0 {
		t.Error("Reset")
	}
	var nilCounts *Counts
	if nilCounts.Total() != 0 {
		t.Error("nil Counts")
	}
	e.Text(nil, []byte("a@example.com"), nil) // nil counts is allowed
}

func TestCustomDetectors(t *testing.T) {
	e, err := New(Config{
		Sets: []string{"pii"},
		Custom: []CustomDetector{
			{Name: "emp_id", Pattern: `EMP-\d{6}`},                                     // literal prefix
			{Name: "ticket", Pattern: `[A-Z]{2,5}-\d+#secret`, Trigger: "#secret"},     // trigger inside
			{Name: "badge", Pattern: `(?i)badge\s*\d{4}`, Strategy: "partial"},         // no literal: full scan
			{Name: "overlap", Pattern: `EMP-\d{3}`, Trigger: "EMP"},                    // overlaps emp_id
			{Name: "mail_ref", Pattern: `ref:[a-z]+@example\.com`, Strategy: "redact"}, // overlaps email
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	in := "emp EMP-123456, OPS-42#secret, Badge 1234, ref:ann@example.com, 10.1.2.3"
	want := "emp [redacted:emp_id], [redacted:ticket], ***** 1234, [redacted:mail_ref], [redacted:ip]"
	var c Counts
	if got := string(e.Text(nil, []byte(in), &c)); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if c.Get("emp_id") != 1 || c.Get("ticket") != 1 || c.Get("badge") != 1 || c.Get("mail_ref") != 1 || c.Get("ip") != 1 || c.Total() != 5 {
		t.Errorf("counts %v", c.Map())
	}
}

// TestColumnOfUnknownTable checks that a column whose table could not be
// named is masked by the first rule whose column part matches, whatever
// table the rule names (fail closed), and by nothing when no rule's column
// part matches.
func TestColumnOfUnknownTable(t *testing.T) {
	e, err := New(Config{Columns: []ColumnRule{
		{Pattern: "crm.people.notes", Strategy: "redact"},
		{Pattern: "users.email", Strategy: "partial"},
		{Pattern: "*.email", Strategy: "redact"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Column("", "notes") != nil {
		t.Fatal("an expression column named notes must not match a table rule")
	}
	for _, tc := range []struct {
		column, rule string
		strategy     Strategy
	}{
		{"notes", "crm.people.notes", Redact},
		{"NOTES", "crm.people.notes", Redact},
		{"email", "users.email", Partial},
	} {
		m := e.ColumnOfUnknownTable(tc.column)
		if m == nil || m.Rule() != tc.rule || m.Strategy() != tc.strategy {
			t.Errorf("%s: masker %+v, want rule %q (%v)", tc.column, m, tc.rule, tc.strategy)
		}
	}
	if m := e.ColumnOfUnknownTable("name"); m != nil {
		t.Errorf("name: masker %+v, want none", m)
	}
	if m := allDetectors(t).ColumnOfUnknownTable("name"); m == nil || m.Rule() != "" {
		t.Error("detectors without rules: want a detector-only masker")
	}
}
