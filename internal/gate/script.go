package gate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/sqlclass"
)

// Script is a script that BeginScript admitted (`sluice run`): the request
// that stands for the whole script, the gate's decision on it, and its
// statements in order. The statements run one by one, each recorded as a
// request of its own (BeginPart), once the script is released: at once
// when the decision is allow, after AwaitScript when it is review. A
// Script belongs to the goroutine that runs it.
type Script struct {
	// Request is the script as one request, as recorded: its text may be
	// masked for the audit trail (Request.Masked), so the statements'
	// Text, not this, is what runs.
	Request    *sluice.Request
	Decision   sluice.Decision
	Statements []ScriptStatement

	released bool
}

// ScriptStatement is one statement of a script, as PostgreSQL's parser
// splits it.
type ScriptStatement struct {
	// Text is the statement as written, never masked: what runs.
	Text    string
	Kind    string
	Class   sluice.Class
	Tables  []string
	Reasons []string
	// Decision is the policy's decision on this statement alone.
	Decision sluice.Decision
}

// BeginScript is Begin for a script of several statements submitted as one
// unit. The policy decides the script as a whole (as it decides a simple
// query of several statements) and each statement alone; the strictest
// decision wins: any denial denies the script, any review holds all of it
// for one review, and only a script whose every statement is allowed runs
// at once. A review asked for by statements with different approvers is
// denied: one approval cannot stand for approvers it did not ask. A script
// that does not parse is denied. The script's request is recorded
// (write-ahead) with the decision and, for review, the review opened (or
// the approved one found) for its exact text.
//
// With a nil error the Script is admitted: allow (released, run its
// statements) or review (Decision.ReviewID names it; call AwaitScript or
// Leave). Otherwise the error is what the caller sees, and the Script,
// when not nil, still says how each statement was classified and decided.
func (s *Session) BeginScript(ctx context.Context, req *sluice.Request) (*Script, error) {
	s.number(req)
	req.Kind = sluice.KindSQL
	a, in, _ := s.classify(req)
	sc := &Script{Request: req}
	var d sluice.Decision
	var reasons []string
	switch {
	case a == nil || a.Err != nil:
		msg := "the script does not parse"
		if a != nil {
			msg += ": " + a.Err.Error()
		}
		d = sluice.Decision{Action: sluice.ActionDeny, Policy: s.policy.Name, Rule: "script", Message: msg}
	case len(a.Statements) == 0:
		d = sluice.Decision{Action: sluice.ActionDeny, Policy: s.policy.Name, Rule: "script",
			Message: "the script holds no statement"}
	default:
		d = sluice.Decision{Action: sluice.ActionAllow}
		for i, st := range a.Statements {
			sd := s.gate.policy.Decide(s.policy, statementInput(in, &st))
			sc.Statements = append(sc.Statements, ScriptStatement{Text: st.Text, Kind: st.Kind, Class: st.Class,
				Tables: st.Tables, Reasons: st.Reasons, Decision: sd})
			reasons = append(reasons, statementReason(i, &st, sd))
			d = stricter(d, sd, fmt.Sprintf("statement #%d (%s)", i+1, st.Kind))
		}
		// The script as one request may be stricter still (a rule on
		// `statements`, or on everything it touches); when it is not,
		// the statements' decision names the statement that decided.
		if whole := s.gate.policy.Decide(s.policy, in); d.Action == sluice.ActionAllow {
			d = whole
		} else {
			d = stricter(d, whole, "the script as a whole")
		}
	}
	sc.Decision = d
	hash := req.Hash()
	s.maskStatement(req)
	if d.Action == sluice.ActionReview {
		d, err := s.hold(ctx, req, a, hash, d, reasons, "script")
		sc.Decision = d
		return sc, err
	}
	if err := s.recordRequest(ctx, req, d); err != nil {
		return sc, err
	}
	if d.Action == sluice.ActionAllow {
		sc.released = true
		s.track(req, a)
		return sc, nil
	}
	return sc, denied(d, req.Class, reasons)
}

// statementInput is what the policy sees of one statement of a script.
func statementInput(script *policy.Input, st *sqlclass.Statement) *policy.Input {
	in := *script
	in.Text, in.Class, in.Tables, in.Functions, in.Settings = st.Text, st.Class, st.Tables, st.Functions, st.Settings
	in.Kinds, in.Statements, in.WhereMissing = []string{st.Kind}, 1, st.WhereMissing
	return &in
}

// statementReason describes statement i for approvers: its number, kind,
// classes, why, and what the policy decides for it alone.
func statementReason(i int, st *sqlclass.Statement, d sluice.Decision) string {
	s := fmt.Sprintf("#%d %s [%s]", i+1, st.Kind, st.Class)
	if len(st.Reasons) > 0 {
		s += ": " + strings.Join(st.Reasons, "; ")
	}
	return s + " (" + string(d.Action) + ")"
}

// strict orders actions: deny over review over allow.
func strict(a sluice.Action) int {
	switch a {
	case sluice.ActionAllow:
		return 0
	case sluice.ActionReview:
		return 1
	}
	return 2
}

// stricter combines the script's decision so far with the decision on
// part of it, named what.
func stricter(d, sd sluice.Decision, what string) sluice.Decision {
	switch {
	case strict(sd.Action) > strict(d.Action):
		if sd.Action == sluice.ActionDeny {
			msg := sd.Message
			if msg == "" {
				msg = "denied by policy " + sd.Policy
			}
			sd.Message = fmt.Sprintf("%s is denied: %s", what, msg)
		}
		return sd
	case d.Action == sluice.ActionReview && sd.Action == sluice.ActionReview:
		if !sameApprovers(d.Approvers, sd.Approvers) {
			return sluice.Decision{Action: sluice.ActionDeny, Policy: sd.Policy, Rule: sd.Rule,
				Message: fmt.Sprintf("%s needs approval by %s, and other parts of the script by %s: one review cannot stand for both; submit them as separate scripts",
					what, strings.Join(sd.Approvers, ", "), strings.Join(d.Approvers, ", "))}
		}
		d.MinApprovals = max(d.MinApprovals, sd.MinApprovals)
		d.Wait = max(d.Wait, sd.Wait)
	}
	return d
}

func sameApprovers(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// AwaitScript releases a script that BeginScript sent to review: it waits
// until wait for the review to be decided and claims the approval, exactly
// once, as Await does for one request (and records the outcome the same
// way). With wait 0 it only checks: an approved review is claimed, a
// pending one is reported as still pending.
func (s *Session) AwaitScript(ctx context.Context, sc *Script, wait time.Duration) error {
	if sc.released {
		return nil
	}
	if sc.Decision.Action != sluice.ActionReview {
		return sluice.Errorf(sluice.EForbidden, "the script was not admitted")
	}
	d := sc.Decision
	d.Wait = wait
	if err := s.Await(ctx, sc.Request, d); err != nil {
		return err
	}
	sc.released = true
	return nil
}

// Leave ends a script that BeginScript sent to review without waiting for
// the review (`sluice run` submits and returns): the review stays open and
// the journal records that the script was left for it. Once the review is
// approved, the same subject submits the same script again to run it once.
func (s *Session) Leave(ctx context.Context, sc *Script) {
	d := sc.Decision
	if d.Action != sluice.ActionReview || sc.released {
		return
	}
	s.untrack(sc.Request)
	out := sluice.Decision{Action: sluice.ActionReview, Policy: d.Policy, Rule: d.Rule, ReviewID: d.ReviewID,
		Message: fmt.Sprintf("not run yet: left for review %s; it runs once approved", d.ReviewID)}
	ev := &sluice.Event{Time: s.gate.Now(), Type: sluice.EventDecision, Session: s.rec.ID, Request: sc.Request, Decision: &out}
	if err := s.gate.rec.Record(context.WithoutCancel(ctx), ev); err != nil {
		s.gate.log.Error("record review outcome", "request", sc.Request.ID, "err", err)
	}
}

// BeginPart records statement i of a released script as a request of its
// own, allowed under the script's decision and bound to its review, before
// the caller runs it (write-ahead). The caller runs
// sc.Statements[i].Text and then calls Done with the returned request.
func (s *Session) BeginPart(ctx context.Context, sc *Script, i int) (*sluice.Request, error) {
	if !sc.released {
		return nil, sluice.Errorf(sluice.EForbidden, "the script is not released: its review is not approved")
	}
	st := sc.Statements[i]
	req := &sluice.Request{Kind: sluice.KindSQL, Text: st.Text, Parent: sc.Request.ID, Note: sc.Request.Note,
		Class: st.Class, Tables: st.Tables}
	s.number(req)
	s.maskStatement(req)
	d := sluice.Decision{Action: sluice.ActionAllow, Policy: sc.Decision.Policy, Rule: sc.Decision.Rule,
		ReviewID: sc.Decision.ReviewID}
	if err := s.recordRequest(ctx, req, d); err != nil {
		return nil, err
	}
	return req, nil
}
