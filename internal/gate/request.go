package gate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/sqlclass"
)

// classify fills req's classification and returns the policy input, the
// SQL analysis (nil for other kinds) and why the request is in its classes.
func (s *Session) classify(req *sluice.Request) (*sqlclass.Analysis, *policy.Input, []string) {
	in := &policy.Input{Kind: req.Kind, Text: req.Text, Identity: &s.rec.Identity,
		Connection: s.rec.Connection, Now: s.gate.Now()}
	if ap, err := netipAddr(s.rec.ClientAddr); err == nil {
		in.ClientAddr = ap
	}
	if req.Kind == sluice.KindHTTP {
		return nil, in, s.classifyHTTP(req, in)
	}
	var a *sqlclass.Analysis
	s.mu.Lock() // the statement tracker also hears from Done
	switch {
	case req.Kind == sluice.KindSQL && req.FunctionOID != 0:
		a = s.sql.ClassifyFunctionCall(req.FunctionOID)
	case req.Kind == sluice.KindSQL:
		a = s.sql.Classify(req.Text)
	}
	s.mu.Unlock()
	if a == nil {
		in.Class = sluice.ClassUnknown
		req.Class = sluice.ClassUnknown
		return nil, in, nil
	}
	req.Class, req.Tables = a.Class, a.Tables
	req.Fingerprint = a.FingerprintHex()
	in.Class, in.Tables, in.Functions, in.Settings = a.Class, a.Tables, a.Functions, a.Settings
	in.WhereMissing, in.Statements = a.WhereMissing, len(a.Statements)
	var reasons []string
	for _, st := range a.Statements {
		in.Kinds = append(in.Kinds, st.Kind)
		reasons = append(reasons, st.Reasons...)
	}
	return a, in, reasons
}

// Check classifies text and returns the decision the policy would make,
// recording nothing. The PostgreSQL front door uses it at Parse, so that a
// statement the policy denies never reaches the upstream even as a Parse.
func (s *Session) Check(req *sluice.Request) sluice.Decision {
	_, in, _ := s.classify(req)
	return s.gate.policy.Decide(s.policy, in)
}

// Begin numbers req, classifies it, decides on it and records it. With a nil
// error the decision is Allow, and the caller forwards the request and later
// calls Done; or it is Review (d.ReviewID names the review), and the caller
// holds the request and calls Await. Otherwise the error, a *sluice.Error,
// is what the caller sees: the rule's message for a denial, or EUnavailable
// when the request could not be recorded.
func (s *Session) Begin(ctx context.Context, req *sluice.Request) (sluice.Decision, error) {
	s.number(req)
	a, in, reasons := s.classify(req)
	d := s.gate.policy.Decide(s.policy, in)
	// The approval binds to the statement as sent; everything recorded from
	// here on (review, journal, index) sees it with its secrets masked.
	var hash string
	if d.Action == sluice.ActionReview {
		hash = req.Hash()
	}
	s.maskStatement(req)
	if d.Action == sluice.ActionReview {
		return s.hold(ctx, req, a, hash, d, reasons, "statement")
	}
	if err := s.recordRequest(ctx, req, d); err != nil {
		return d, err
	}
	if d.Action == sluice.ActionAllow {
		s.track(req, a)
		return d, nil
	}
	return d, denied(d, req.Class, reasons)
}

// recordRequest journals req with its decision d.
func (s *Session) recordRequest(ctx context.Context, req *sluice.Request, d sluice.Decision) error {
	ev := &sluice.Event{Time: req.Time, Type: sluice.EventRequest, Session: s.rec.ID, Request: req, Decision: &d}
	if err := s.gate.rec.Record(ctx, ev); err != nil {
		s.gate.log.Error("record request", "request", req.ID, "err", err)
		return journalError(err)
	}
	req.Recorded = ev.Seq
	return nil
}

// hold opens (or joins) the review that holds req, recording the request,
// with the review's id, before a new review is journaled: the journal then
// reads in the order things happened. If no review can be opened, the
// request is denied: its record says so if it was not written yet, and a
// decision that refuses it follows the record if it was. what names the
// request in that denial: "statement" or "script".
func (s *Session) hold(ctx context.Context, req *sluice.Request, a *sqlclass.Analysis, hash string, d sluice.Decision,
	reasons []string, what string) (sluice.Decision, error) {
	var recorded bool
	var recErr error
	rv, err := s.openReview(ctx, req, hash, d, reasons, func(id string) error {
		held := d
		held.ReviewID = id
		recErr = s.recordRequest(ctx, req, held)
		recorded = recErr == nil
		return recErr
	})
	if recErr != nil {
		return d, recErr
	}
	if err == nil {
		d.ReviewID = rv.ID
		s.track(req, a)
		return d, nil
	}
	s.gate.log.Error("open review", "request", req.ID, "err", err)
	deny := sluice.Decision{Action: sluice.ActionDeny, Policy: d.Policy, Rule: d.Rule,
		Message: "this " + what + " needs an approval, but sluice could not open a review; try again later"}
	if !recorded {
		if err := s.recordRequest(ctx, req, deny); err != nil {
			return deny, err
		}
		return deny, denied(deny, req.Class, reasons)
	}
	// The request's record is written: its outcome must follow even when
	// the caller has gone.
	ev := &sluice.Event{Time: s.gate.Now(), Type: sluice.EventDecision, Session: s.rec.ID, Request: req, Decision: &deny}
	if err := s.gate.rec.Record(context.WithoutCancel(ctx), ev); err != nil {
		s.gate.log.Error("record review outcome", "request", req.ID, "err", err)
		return deny, journalError(err)
	}
	return deny, denied(deny, req.Class, reasons)
}

// number gives req its place in the session and the session's context:
// who sent it, where, when.
func (s *Session) number(req *sluice.Request) {
	s.mu.Lock()
	s.seq++
	req.Seq = s.seq
	s.mu.Unlock()
	req.SessionID = s.rec.ID
	req.ID = s.rec.ID + "/" + strconv.FormatInt(req.Seq, 10)
	req.Time = s.gate.Now()
	req.Subject, req.Groups = s.rec.Identity.Subject, s.rec.Identity.Groups
	req.Connection, req.ClientAddr = s.rec.Connection, s.rec.ClientAddr
}

// denied is the error a denial shows the caller: the rule's message and
// why the request is what it is.
func denied(d sluice.Decision, class sluice.Class, reasons []string) *sluice.Error {
	e := &sluice.Error{Code: sluice.EForbidden, Message: d.Message}
	if e.Message == "" {
		e.Message = "denied by policy " + d.Policy
	}
	if len(reasons) > 0 {
		e.Detail = "sluice classified the request as " + class.String() + ": " + strings.Join(reasons, "; ")
	}
	e.Hint = fmt.Sprintf("decided by %s of policy %q", d.Rule, d.Policy)
	return e
}

// openReview opens (or joins) the review that holds req; see Reviews.Hold.
func (s *Session) openReview(ctx context.Context, req *sluice.Request, hash string, d sluice.Decision, reasons []string,
	record func(reviewID string) error) (*sluice.Review, error) {
	if s.gate.Reviews == nil {
		return nil, errors.New("no review flow configured")
	}
	return s.gate.Reviews.Hold(ctx, req, hash, d, reasons, record)
}

// Await holds a request that Begin sent to review until the review is
// decided, its wait ends, or ctx ends (the client went away or canceled).
// It returns nil when the request was approved and may be forwarded now
// (exactly once); otherwise the error the caller shows: the approver's
// denial (42501), the end of the wait naming the review (57014), or the
// cancellation (57014).
func (s *Session) Await(ctx context.Context, req *sluice.Request, d sluice.Decision) error {
	err := s.await(ctx, req, d)
	// The journal gets the hold's outcome next to the request.
	final := sluice.Decision{Action: sluice.ActionAllow, Policy: d.Policy, Rule: d.Rule, ReviewID: d.ReviewID}
	if err != nil {
		final.Action, final.Message = sluice.ActionDeny, sluice.AsError(err).Message
	}
	ev := &sluice.Event{Time: s.gate.Now(), Type: sluice.EventDecision, Session: s.rec.ID, Request: req, Decision: &final}
	if rerr := s.gate.rec.Record(context.WithoutCancel(ctx), ev); rerr != nil {
		s.gate.log.Error("record review outcome", "request", req.ID, "err", rerr)
		if err == nil {
			s.untrack(req)
			return journalError(rerr)
		}
	}
	return err
}

func (s *Session) await(ctx context.Context, req *sluice.Request, d sluice.Decision) error {
	rv, err := s.gate.Reviews.Wait(ctx, d.ReviewID, s.gate.Now().Add(d.Wait))
	if err != nil && ctx.Err() != nil {
		s.untrack(req)
		return &sluice.Error{Code: sluice.ECanceled, SQLStateCode: "57014",
			Message: fmt.Sprintf("canceled while waiting for approval (review %s)", d.ReviewID)}
	}
	if err != nil {
		s.untrack(req)
		return sluice.Errorf(sluice.EUnavailable, "could not follow review %s", d.ReviewID).WithCause(err)
	}
	switch rv.Status {
	case sluice.ReviewApproved:
		if _, err := s.gate.Reviews.Claim(ctx, rv.ID); err != nil {
			s.untrack(req)
			return sluice.Errorf(sluice.EForbidden, "review %s was approved but its approval was already used or has expired", rv.ID).WithCause(err)
		}
		return nil
	case sluice.ReviewDenied:
		s.untrack(req)
		by, why := "", ""
		for _, v := range rv.Decisions {
			if !v.Approve {
				by, why = v.By, v.Reason
			}
		}
		e := sluice.Errorf(sluice.EForbidden, "denied by %s in review %s", by, rv.ID)
		if why != "" {
			e.Message += ": " + why
		}
		return e
	case sluice.ReviewExecuted:
		s.untrack(req)
		return sluice.Errorf(sluice.EForbidden, "review %s was approved for one run, which already happened", rv.ID)
	case sluice.ReviewPending:
		s.untrack(req)
		return &sluice.Error{Code: sluice.ETimeout, SQLStateCode: "57014",
			Message: fmt.Sprintf("statement held for approval: review %s is still pending after %s", rv.ID, d.Wait),
			Hint: fmt.Sprintf("if it is approved before %s, run the same statement again on the same connection and it will run once",
				rv.ValidUntil.Format("2006-01-02 15:04:05 MST"))}
	default:
		s.untrack(req)
		return sluice.Errorf(sluice.EForbidden, "review %s %s", rv.ID, rv.Status)
	}
}

// track remembers a begun request's classification until Done.
func (s *Session) track(req *sluice.Request, a *sqlclass.Analysis) {
	if a == nil {
		return
	}
	s.mu.Lock()
	s.analyses[req] = a
	s.mu.Unlock()
}

func (s *Session) untrack(req *sluice.Request) *sqlclass.Analysis {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.analyses[req]
	delete(s.analyses, req)
	return a
}

// Done records the result of a request that was forwarded, and lets the
// session's statement tracking (prepared statements, transactions) learn
// what ran.
func (s *Session) Done(ctx context.Context, req *sluice.Request, res *sluice.Result) {
	if a := s.untrack(req); a != nil {
		s.ran(a, res)
	}
	ev := resultEvent(s.gate.Now(), s.rec.ID, req, res)
	if err := s.gate.rec.Record(ctx, ev); err != nil {
		s.gate.log.Error("record result", "request", req.ID, "err", err)
	}
}

// ran tells the statement tracker how many of a's statements completed.
func (s *Session) ran(a *sqlclass.Analysis, res *sluice.Result) {
	n := len(a.Statements)
	if res.Status != sluice.StatusOK {
		n = 0
		if res.Tag != "" {
			n = strings.Count(res.Tag, "; ") + 1
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sql.Ran(a, n)
}

// Parsed tells the statement tracker that the client prepared text under
// name at the protocol level; Closed that it closed it.
func (s *Session) Parsed(name, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sql.Parsed(name, s.sql.Classify(text))
}

// Closed forgets a protocol-level prepared statement.
func (s *Session) Closed(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sql.Closed(name)
}
