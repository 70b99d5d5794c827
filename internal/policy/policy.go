// Package policy decides who may use which connection and, per request, what
// the gate does with it. It is pure: no I/O, no clocks, safe for concurrent
// use once built.
package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/httpclass"
	"github.com/sluicehq/sluice/internal/mask"
)

// Engine holds compiled policies. It is immutable and safe for concurrent use.
type Engine struct {
	policies []*Policy
}

// Policy is one compiled policy: whom it applies to, which connections it
// grants and from which client addresses.
type Policy struct {
	Name        string
	Subjects    []Subject
	Connections []string
	Sources     []netip.Prefix
	// ReadOnly says sessions under this policy open their upstream
	// connection read-only.
	ReadOnly bool
	// Mask masks results of this policy's sessions (nil: nothing to mask);
	// Unmasked are the subjects who see clear values.
	Mask     *mask.Engine
	Unmasked []Subject
	rules    []rule
}

// SeesClear reports whether id is exempt from p's masking.
func (p *Policy) SeesClear(id *sluice.Identity) bool {
	for _, s := range p.Unmasked {
		if s.Matches(id) {
			return true
		}
	}
	return false
}

// Subject matches identities: by group, by subject, or anyone ("*").
type Subject struct {
	Kind string // "group", "subject" or "*"
	Name string
}

// ParseSubject parses "group:NAME", "subject:NAME" or "*".
func ParseSubject(s string) (Subject, error) {
	if s == "*" {
		return Subject{Kind: "*"}, nil
	}
	kind, name, ok := strings.Cut(s, ":")
	if !ok || name == "" || (kind != "group" && kind != "subject") {
		return Subject{}, fmt.Errorf("subject %q must be group:NAME, subject:NAME or *", s)
	}
	return Subject{Kind: kind, Name: name}, nil
}

// Matches reports whether id is covered by s.
func (s Subject) Matches(id *sluice.Identity) bool {
	switch s.Kind {
	case "*":
		return true
	case "group":
		return id.InGroup(s.Name)
	case "subject":
		return id.Subject == s.Name
	}
	return false
}

// New compiles configured policies, their rules and their masking. Errors
// are config.Problems naming the key of each bad rule condition or masking
// setting.
func New(cfg []config.Policy, masking ...config.Masking) (*Engine, error) {
	var mc config.Masking
	if len(masking) > 0 {
		mc = masking[0]
	}
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("policy environment: %w", err)
	}
	e := &Engine{}
	var ps config.Problems
	for i, cp := range cfg {
		p := &Policy{Name: cp.Name, Connections: slices.Clone(cp.Connections), ReadOnly: cp.ReadOnly}
		readOnlyRules := len(cp.Rules) > 0
		for j, cr := range cp.Rules {
			prog, err := compileWhen(env, cr.When)
			if err != nil {
				ps = append(ps, config.Problem{Key: fmt.Sprintf("policies[%d].rules[%d].when", i, j), Message: err.Error()})
				continue
			}
			name := cr.Name
			if name == "" {
				name = fmt.Sprintf("rule %d", j+1)
			}
			d := sluice.Decision{Action: sluice.Action(cr.Action), Policy: cp.Name, Rule: name, Message: cr.Message,
				Approvers: slices.Clone(cr.Approvers), MinApprovals: cr.MinApprovals, Wait: cr.Wait.D()}
			if d.Action == sluice.ActionDeny && d.Message == "" {
				d.Message = fmt.Sprintf("denied by %s of policy %q", name, cp.Name)
			}
			if d.Action != sluice.ActionDeny && (strings.TrimSpace(cr.When) != "read" || len(cr.Methods)+len(cr.Paths) > 0) {
				readOnlyRules = false
			}
			r := rule{name: name, when: cr.When, prog: prog, decision: d}
			if r.http, err = compileHTTPMatch(cr); err != nil {
				ps = append(ps, config.Problem{Key: fmt.Sprintf("policies[%d].rules[%d].paths", i, j), Message: err.Error()})
				continue
			}
			p.rules = append(p.rules, r)
		}
		p.ReadOnly = p.ReadOnly || readOnlyRules
		m, err := compileMask(mc, cp.Mask)
		if err != nil {
			ps = append(ps, config.Problem{Key: fmt.Sprintf("policies[%d].mask", i), Message: err.Error()})
		} else if m.Enabled() {
			p.Mask = m
		}
		for j, u := range cp.Unmasked {
			sub, err := ParseSubject(u)
			if err != nil {
				ps = append(ps, config.Problem{Key: fmt.Sprintf("policies[%d].unmasked[%d]", i, j), Message: err.Error()})
				continue
			}
			p.Unmasked = append(p.Unmasked, sub)
		}
		for _, s := range cp.Subjects {
			sub, err := ParseSubject(s)
			if err != nil {
				return nil, fmt.Errorf("policy %s: %w", cp.Name, err)
			}
			p.Subjects = append(p.Subjects, sub)
		}
		for _, src := range cp.Sources {
			pfx, err := config.ParseSource(src)
			if err != nil {
				return nil, fmt.Errorf("policy %s: %w", cp.Name, err)
			}
			p.Sources = append(p.Sources, pfx)
		}
		e.policies = append(e.policies, p)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return e, nil
}

// appliesTo reports whether p covers id using conn from addr.
func (p *Policy) appliesTo(id *sluice.Identity, conn string, addr netip.Addr) bool {
	if !slices.Contains(p.Connections, conn) && !slices.Contains(p.Connections, "*") {
		return false
	}
	if !slices.ContainsFunc(p.Subjects, func(s Subject) bool { return s.Matches(id) }) {
		return false
	}
	if len(p.Sources) == 0 {
		return true
	}
	addr = addr.Unmap()
	return slices.ContainsFunc(p.Sources, func(pfx netip.Prefix) bool { return pfx.Contains(addr) })
}

// Grant returns the first policy that lets id use conn from addr, or nil.
// No matching policy means no access: the default is deny.
func (e *Engine) Grant(id *sluice.Identity, conn string, addr netip.Addr) *Policy {
	for _, p := range e.policies {
		if p.appliesTo(id, conn, addr) {
			return p
		}
	}
	return nil
}

// compileHTTPMatch compiles a rule's methods and paths into a classifier
// whose patterns match exactly the requests the rule applies to; nil when
// the rule names neither.
func compileHTTPMatch(cr config.Rule) (*httpclass.Classifier, error) {
	if len(cr.Methods) == 0 && len(cr.Paths) == 0 {
		return nil, nil
	}
	paths := cr.Paths
	if len(paths) == 0 {
		paths = []string{"/**"}
	}
	var ps []httpclass.Pattern
	for _, p := range paths {
		ps = append(ps, httpclass.Pattern{Name: "rule", Methods: upper(cr.Methods), Path: p, Class: sluice.ClassRead})
	}
	return httpclass.New(ps)
}

func upper(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}
