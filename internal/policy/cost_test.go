package policy

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
)

// TestRuleCostLimit checks that a condition whose cost depends on the
// input is still stopped at the limit, and that stopping it fails closed:
// an allow rule does not match, a deny rule does.
func TestRuleCostLimit(t *testing.T) {
	// Both conditions are decided by walking every triple of tables: true
	// and false over a few, too costly over a hundred.
	const always = `tables.all(a, tables.all(b, tables.all(c, a + b + c != "")))`
	const never = `tables.exists(a, tables.exists(b, tables.exists(c, a + b + c == "")))`
	var tables []string
	for i := range 100 {
		tables = append(tables, fmt.Sprintf("t%d", i))
	}
	in := func(n int) *Input {
		return &Input{Class: sluice.ClassRead, Tables: tables[:n], Identity: &sluice.Identity{Subject: "bot"}}
	}

	e, p := rules(t, config.Rule{When: always, Action: "allow"})
	if d := e.Decide(p, in(3)); d.Action != sluice.ActionAllow {
		t.Errorf("the allow rule over 3 tables decided %+v, want allow", d)
	}
	if d := e.Decide(p, in(100)); d.Action != sluice.ActionDeny || d.Rule != "no rule matched" {
		t.Errorf("the allow rule over its cost limit decided %+v, want no match", d)
	}
	e, p = rules(t, config.Rule{When: never, Action: "deny", Message: "too costly"}, config.Rule{Action: "allow"})
	if d := e.Decide(p, in(3)); d.Action != sluice.ActionAllow {
		t.Errorf("the deny rule over 3 tables decided %+v, want the allow rule after it", d)
	}
	if d := e.Decide(p, in(100)); d.Action != sluice.ActionDeny || d.Message != "too costly" {
		t.Errorf("the deny rule over its cost limit decided %+v, want it to match", d)
	}
}

// TestBoundedRulesAllocateNothing checks that conditions whose worst case
// the checker can bound run without a cost tracker: deciding allocates
// nothing.
func TestBoundedRulesAllocateNothing(t *testing.T) {
	e, p := rules(t,
		config.Rule{When: "privileged || unknown", Action: "deny"},
		config.Rule{When: "destructive || where_missing", Action: "review", Approvers: []string{"group:dba"}},
		config.Rule{When: "read && statements == 1", Action: "allow"},
	)
	in := &Input{Class: sluice.ClassRead, Statements: 1, Identity: &sluice.Identity{Subject: "bot"}}
	if d := e.Decide(p, in); d.Action != sluice.ActionAllow {
		t.Fatalf("decided %+v, want allow", d)
	}
	if n := testing.AllocsPerRun(100, func() { e.Decide(p, in) }); n != 0 {
		t.Errorf("Decide allocates %v times per call, want 0", n)
	}
}
