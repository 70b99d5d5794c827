package policy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
)

func rules(t *testing.T, rs ...config.Rule) (*Engine, *Policy) {
	t.Helper()
	for i := range rs {
		if rs[i].When == "" {
			rs[i].When = "true"
		}
		if rs[i].Action == "review" && rs[i].MinApprovals == 0 {
			rs[i].MinApprovals = 1
		}
	}
	e, err := New([]config.Policy{{Name: "p", Subjects: []string{"*"}, Connections: []string{"*"}, Rules: rs}})
	if err != nil {
		t.Fatal(err)
	}
	return e, e.policies[0]
}

func TestDecideRules(t *testing.T) {
	e, p := rules(t,
		config.Rule{When: "privileged || unknown", Action: "deny", Message: "not through an agent"},
		config.Rule{When: "read", Action: "allow"},
		config.Rule{Name: "big-deletes", When: "destructive || where_missing", Action: "review", Approvers: []string{"group:dba"}, MinApprovals: 2, Wait: config.Duration(time.Minute)},
		config.Rule{When: `write && size(tables) > 0 && tables.all(t, t.startsWith("scratch."))`, Action: "allow"},
		config.Rule{When: `write && "ai-agents" in groups && connection == "orders"`, Action: "review", Approvers: []string{"group:dba"}},
		config.Rule{When: `client_ip.startsWith("10.") && now.getHours() < 24`, Action: "allow"},
	)
	agent := &sluice.Identity{Subject: "bot", Groups: []string{"ai-agents"}}
	local := netip.MustParseAddr("127.0.0.1")
	cases := []struct {
		name   string
		in     Input
		action sluice.Action
		rule   string
	}{
		{"pure read", Input{Class: sluice.ClassRead, Tables: []string{"orders"}}, sluice.ActionAllow, "rule 2"},
		{"read and delete in a CTE is not a read", Input{Class: sluice.ClassRead | sluice.ClassWrite | sluice.ClassDestructive}, sluice.ActionReview, "big-deletes"},
		{"privileged", Input{Class: sluice.ClassPrivileged}, sluice.ActionDeny, "rule 1"},
		{"unknown", Input{Class: sluice.ClassUnknown | sluice.ClassRead}, sluice.ActionDeny, "rule 1"},
		{"delete without where", Input{Class: sluice.ClassWrite, WhereMissing: true}, sluice.ActionReview, "big-deletes"},
		{"scratch write", Input{Class: sluice.ClassWrite, Tables: []string{"scratch.a", "scratch.b"}}, sluice.ActionAllow, "rule 4"},
		{"orders write by an agent", Input{Class: sluice.ClassWrite, Tables: []string{"orders"}, Connection: "orders"}, sluice.ActionReview, "rule 5"},
		{"write elsewhere from 10/8", Input{Class: sluice.ClassWrite, Connection: "billing", ClientAddr: netip.MustParseAddr("10.1.1.1")}, sluice.ActionAllow, "rule 6"},
		{"no match denies", Input{Class: sluice.ClassWrite, Connection: "billing", ClientAddr: local}, sluice.ActionDeny, "no rule matched"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.Identity = agent
			if !in.ClientAddr.IsValid() {
				in.ClientAddr = local
			}
			d := e.Decide(p, &in)
			if d.Action != c.action || d.Rule != c.rule || d.Policy != "p" {
				t.Fatalf("decision %+v, want %s by %q", d, c.action, c.rule)
			}
		})
	}
	d := e.Decide(p, &Input{Class: sluice.ClassWrite, WhereMissing: true, Identity: agent})
	if d.MinApprovals != 2 || d.Wait != time.Minute || len(d.Approvers) != 1 || d.Approvers[0] != "group:dba" {
		t.Fatalf("review decision %+v", d)
	}
	d = e.Decide(p, &Input{Class: sluice.ClassPrivileged, Identity: agent})
	if d.Message != "not through an agent" {
		t.Fatalf("deny message %q", d.Message)
	}
}

func TestRuleCompileErrorsHaveKeys(t *testing.T) {
	_, err := New([]config.Policy{{Name: "p", Subjects: []string{"*"}, Connections: []string{"*"}, Rules: []config.Rule{
		{When: "read", Action: "allow"},
		{When: "tables + 1", Action: "deny"},
		{When: "'a string'", Action: "deny"},
		{When: "no_such_var", Action: "deny"},
	}}})
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 3 {
		t.Fatalf("err = %v", err)
	}
	for i, want := range []string{"policies[0].rules[1].when", "policies[0].rules[2].when", "policies[0].rules[3].when"} {
		if ps[i].Key != want {
			t.Errorf("problem %d key %q, want %q (%s)", i, ps[i].Key, want, ps[i].Message)
		}
	}
	if !strings.Contains(ps[1].Message, "boolean") {
		t.Errorf("non-boolean message: %s", ps[1].Message)
	}
}

func TestReadOnlyImplied(t *testing.T) {
	e, err := New([]config.Policy{
		{Name: "ro", Subjects: []string{"*"}, Connections: []string{"a"}, Rules: []config.Rule{{When: "read", Action: "allow"}, {When: "true", Action: "deny"}}},
		{Name: "rw", Subjects: []string{"*"}, Connections: []string{"b"}, Rules: []config.Rule{{When: "read", Action: "allow"}, {When: "write", Action: "review", Approvers: []string{"group:x"}, MinApprovals: 1}}},
		{Name: "explicit", Subjects: []string{"*"}, Connections: []string{"c"}, ReadOnly: true},
		{Name: "grant-only", Subjects: []string{"*"}, Connections: []string{"d"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"ro": true, "rw": false, "explicit": true, "grant-only": false}
	for _, p := range e.policies {
		if p.ReadOnly != want[p.Name] {
			t.Errorf("%s: ReadOnly %v", p.Name, p.ReadOnly)
		}
	}
}

func TestGrantOnlyPolicyAllows(t *testing.T) {
	e, _ := New([]config.Policy{{Name: "g", Subjects: []string{"*"}, Connections: []string{"*"}}})
	d := e.Decide(e.policies[0], &Input{Class: sluice.ClassDestructive, Identity: &sluice.Identity{}})
	if d.Action != sluice.ActionAllow || d.Rule != "grant" {
		t.Fatalf("%+v", d)
	}
}

func BenchmarkDecide(b *testing.B) {
	e, err := New([]config.Policy{{Name: "p", Subjects: []string{"*"}, Connections: []string{"*"}, Rules: []config.Rule{
		{When: "privileged || unknown", Action: "deny"},
		{When: "destructive || where_missing", Action: "review", Approvers: []string{"group:dba"}, MinApprovals: 1},
		{When: "read", Action: "allow"},
	}}})
	if err != nil {
		b.Fatal(err)
	}
	in := &Input{Class: sluice.ClassRead, Tables: []string{"pgbench_accounts"}, Identity: &sluice.Identity{Subject: "bot"}}
	b.ReportAllocs()
	for b.Loop() {
		e.Decide(e.policies[0], in)
	}
}

func TestDecideHTTPRules(t *testing.T) {
	e, p := rules(t,
		config.Rule{Name: "no purge", Methods: []string{"post"}, Paths: []string{"/v1/**/purge"}, Action: "deny", Message: "no purges"},
		config.Rule{Name: "rg deletes", When: `"azure.delete_resource_group" in patterns`, Action: "review", Approvers: []string{"group:ops"}},
		config.Rule{Name: "big", When: `method == "PUT" && has(body.replicas) && body.replicas > 10.0`, Action: "deny", Message: "too many"},
		config.Rule{Name: "debug header", When: `"x-debug" in headers && headers["x-debug"] == "1"`, Action: "deny", Message: "no debug"},
		config.Rule{Name: "reads", When: "read", Action: "allow"},
		config.Rule{Name: "puts", Methods: []string{"PUT"}, Action: "allow"},
	)
	id := &sluice.Identity{Subject: "bot"}
	in := func(method, path string, class sluice.Class, body any, patterns ...string) *Input {
		return &Input{Kind: sluice.KindHTTP, Class: class, Identity: id, Connection: "api",
			HTTP: &HTTPInput{Method: method, Path: path, RawPath: path, Body: body, Patterns: patterns,
				Headers: map[string]string{"content-type": "application/json"}}}
	}
	cases := []struct {
		in   *Input
		want string // rule name
	}{
		{in("POST", "/v1/queues/q1/purge", sluice.ClassWrite, nil), "no purge"},
		{in("POST", "/v1/queues/q1/send", sluice.ClassWrite, nil), "no rule matched"},
		{in("DELETE", "/subscriptions/s/resourceGroups/rg", sluice.ClassWrite|sluice.ClassDestructive, nil, "azure.delete_resource_group"), "rg deletes"},
		{in("PUT", "/apps/a", sluice.ClassWrite, map[string]any{"replicas": 50.0}), "big"},
		{in("PUT", "/apps/a", sluice.ClassWrite, map[string]any{"replicas": 2.0}), "puts"},
		{in("PUT", "/apps/a", sluice.ClassWrite, nil), "puts"},
		{in("GET", "/apps", sluice.ClassRead, nil), "reads"},
		// An encoded slash may climb out of the allowed path upstream.
		{in("PUT", "/apps/a%2F..%2F..%2Fadmin", sluice.ClassWrite, nil), "no rule matched"},
		// ... while a deny rule applies to either reading.
		{in("POST", "/v1/q%2Fpurge", sluice.ClassWrite, nil), "no purge"},
		// A SQL request never matches a rule limited to HTTP methods.
		{&Input{Kind: sluice.KindSQL, Class: sluice.ClassWrite, Identity: id}, "no rule matched"},
	}
	for _, c := range cases {
		if d := e.Decide(p, c.in); d.Rule != c.want {
			t.Errorf("%s %v: decided by %q (%s), want %q", c.in.Kind, c.in.HTTP, d.Rule, d.Action, c.want)
		}
	}
	dbg := in("GET", "/apps", sluice.ClassRead, nil)
	dbg.HTTP.Headers["x-debug"] = "1"
	if d := e.Decide(p, dbg); d.Rule != "debug header" {
		t.Errorf("header rule: %q", d.Rule)
	}
}
