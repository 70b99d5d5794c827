// Package script runs SQL scripts submitted with `sluice run`, typically
// from a CI/CD pipeline, inside the gateway. The gate decides the script
// as a whole and statement by statement; a script that needs approval is
// held for one review (announced in the configured trackers) and left
// there, and the caller comes back to run it once approved. An allowed or
// approved script runs statement by statement on one upstream connection,
// each statement recorded as a request of its own, bound to the script
// and its review; the approval is claimed exactly once.
//
// Every call opens a gate session of its own (protocol "run") for the
// caller's identity, so the grant, the policy, masking and the journal are
// the gate's, as for any front door.
package script

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/sqlexec"
)

// Session end reasons of runs.
const (
	// EndLeft: the script was left for its review.
	EndLeft = "left_for_review"
	// EndFinished: the call is over (the script ran, was denied, or was
	// not ready to run).
	EndFinished = "run_finished"
	// EndUpstreamUnavailable: the upstream connection could not be opened.
	EndUpstreamUnavailable = "upstream_unavailable"
)

// MaxScriptBytes caps a script's size.
const MaxScriptBytes = 1 << 20

// Connector opens an authenticated upstream connection for a named
// connection, with the credential only sluice holds.
type Connector interface {
	Connect(ctx context.Context, connection string, params map[string]string) (*pgconn.PgConn, error)
}

// Reviews is the subset of the review flow used here.
type Reviews interface {
	Get(ctx context.Context, id string) (*sluice.Review, error)
	Wait(ctx context.Context, id string, until time.Time) (*sluice.Review, error)
}

// Service runs scripts. Set its fields before use; it is safe for
// concurrent use afterwards.
type Service struct {
	Gate     *gate.Gate
	Reviews  Reviews
	Upstream Connector
	Exec     *sqlexec.Executor
	// Connections names every connection with its type.
	Connections map[string]sluice.ConnType
	Log         *slog.Logger
}

// Caller is who calls, and from where (for the policy's sources).
type Caller struct {
	Identity *sluice.Identity
	Addr     netip.AddrPort
}

// Submit submits a script for connection conn with the caller's note
// (why, for approvers). A script the policy allows runs at once; one that
// needs approval is left for its review (status pending, or approved when
// an approval for the same script by the same caller is waiting to be
// used); a denied one is reported as denied. The error is for calls that
// cannot be made: an unknown connection (ENotFound), a bad script
// (EInvalid), no grant (EForbidden), a journal that cannot write
// (EUnavailable).
func (s *Service) Submit(ctx context.Context, c Caller, conn, text, note string) (*sluice.Run, error) {
	if err := s.check(conn, text); err != nil {
		return nil, err
	}
	gs, err := s.open(ctx, c, conn)
	if err != nil {
		return nil, err
	}
	reason := EndFinished
	defer func() { gs.Close(context.WithoutCancel(ctx), reason) }()
	sc, err := gs.BeginScript(ctx, &sluice.Request{Kind: sluice.KindSQL, Text: text, Note: note})
	run, err := s.admitted(gs, sc, err)
	if err != nil || run.Status == sluice.RunDenied {
		return run, err
	}
	if sc.Decision.Action == sluice.ActionAllow {
		s.execute(ctx, gs, sc, run)
		return run, nil
	}
	gs.Leave(ctx, sc)
	reason = EndLeft
	run.ID = sc.Decision.ReviewID
	rv, err := s.Reviews.Get(ctx, run.ID)
	if err != nil {
		return nil, fmt.Errorf("read review %s: %w", run.ID, err)
	}
	s.withReview(run, rv)
	return run, nil
}

// check refuses what cannot be a script for a connection.
func (s *Service) check(conn, text string) error {
	switch ct, ok := s.Connections[conn]; {
	case !ok:
		return sluice.Errorf(sluice.ENotFound, "connection %q does not exist", conn)
	case ct != sluice.ConnPostgres:
		return sluice.Errorf(sluice.EInvalid, "connection %q is of type %s; sluice run runs SQL on postgres connections", conn, ct)
	}
	switch {
	case strings.TrimSpace(text) == "":
		return sluice.Errorf(sluice.EInvalid, "the script is empty")
	case strings.ContainsRune(text, 0):
		return sluice.Errorf(sluice.EInvalid, "the script must not contain NUL characters")
	case len(text) > MaxScriptBytes:
		return sluice.Errorf(sluice.ETooLarge, "the script is larger than %d bytes", MaxScriptBytes)
	}
	return nil
}

// open opens the call's gate session, which checks the grant and records
// the start.
func (s *Service) open(ctx context.Context, c Caller, conn string) (*gate.Session, error) {
	return s.Gate.OpenSession(ctx, gate.SessionInfo{Identity: c.Identity, Connection: conn, Protocol: sluice.ProtoRun, ClientAddr: c.Addr})
}

// admitted turns BeginScript's outcome into a run: the statements with
// their classes and decisions, and the denial if any. The error is one the
// call fails with (the journal could not write).
func (s *Service) admitted(gs *gate.Session, sc *gate.Script, err error) (*sluice.Run, error) {
	if sc == nil {
		return nil, err
	}
	run := &sluice.Run{Status: sluice.RunPending, Connection: gs.Info().Connection, Session: gs.ID(),
		Class: sc.Request.Class, Decision: &sc.Decision}
	for _, st := range sc.Statements {
		run.Statements = append(run.Statements, sluice.RunStatement{Text: st.Text, Kind: st.Kind, Class: st.Class,
			Tables: st.Tables, Reasons: st.Reasons, Decision: st.Decision.Action})
	}
	if err == nil {
		return run, nil
	}
	e := sluice.AsError(err)
	if e.Code != sluice.EForbidden {
		return nil, err
	}
	run.Status, run.Error, run.Detail, run.Hint = sluice.RunDenied, e.Message, e.Detail, e.Hint
	return run, nil
}

// Status returns the run held by review id, waiting up to wait while the
// review is pending (a long poll: a decision answers at once).
func (s *Service) Status(ctx context.Context, id string, wait time.Duration) (*sluice.Run, error) {
	rv, err := s.Reviews.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if rv.Status == sluice.ReviewPending && wait > 0 {
		w, err := s.Reviews.Wait(ctx, id, time.Now().Add(wait))
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		if w != nil {
			rv = w
		}
	}
	run := &sluice.Run{ID: rv.ID, Connection: rv.Request.Connection, Session: rv.Request.SessionID, Class: rv.Request.Class}
	s.withReview(run, rv)
	return run, nil
}

// withReview sets the run's review and the status and error it implies.
func (s *Service) withReview(run *sluice.Run, rv *sluice.Review) {
	run.Review = rv
	switch rv.Status {
	case sluice.ReviewPending:
		run.Status = sluice.RunPending
	case sluice.ReviewApproved:
		run.Status = sluice.RunApproved
	case sluice.ReviewDenied:
		run.Status, run.Error = sluice.RunDenied, "denied in review "+rv.ID
		for _, d := range rv.Decisions {
			if !d.Approve {
				run.Error = fmt.Sprintf("denied by %s in review %s", d.By, rv.ID)
				if d.Reason != "" {
					run.Error += ": " + d.Reason
				}
			}
		}
	case sluice.ReviewExpired:
		run.Status = sluice.RunExpired
		run.Error = fmt.Sprintf("review %s expired at %s with %d of %d approvals", rv.ID,
			rv.ValidUntil.UTC().Format(time.DateTime+" UTC"), rv.Approvals(), max(rv.MinApprovals, 1))
	case sluice.ReviewExecuted:
		run.Status = sluice.RunExecuted
		run.Error = fmt.Sprintf("review %s was approved for one run, which already happened", rv.ID)
	default:
		run.Status, run.Error = sluice.RunDenied, fmt.Sprintf("review %s is %s", rv.ID, rv.Status)
	}
}

// Execute runs the script review id approved, once. Only the caller who
// submitted it may. text is the script; empty means the text the review
// holds, which sluice runs only when it is exactly what was approved (the
// review's copy may be masked). A review that is not approved (yet) is
// reported with its status and nothing runs.
func (s *Service) Execute(ctx context.Context, c Caller, id, text string) (*sluice.Run, error) {
	rv, err := s.Reviews.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if rv.Request.Subject != c.Identity.Subject {
		return nil, sluice.Errorf(sluice.EForbidden, "only %s, who submitted review %s, may run it", rv.Request.Subject, id)
	}
	if rv.Status != sluice.ReviewApproved {
		run := &sluice.Run{ID: id, Connection: rv.Request.Connection, Session: rv.Request.SessionID, Class: rv.Request.Class}
		s.withReview(run, rv)
		if run.Status == sluice.RunPending {
			run.Error = fmt.Sprintf("review %s is still pending: %d of %d approvals", id, rv.Approvals(), max(rv.MinApprovals, 1))
		}
		return run, nil
	}
	if text, err = approvedText(rv, text); err != nil {
		return nil, err
	}
	conn := rv.Request.Connection
	if err := s.check(conn, text); err != nil {
		return nil, err
	}
	gs, err := s.open(ctx, c, conn)
	if err != nil {
		return nil, err
	}
	reason := EndFinished
	defer func() { gs.Close(context.WithoutCancel(ctx), reason) }()
	sc, err := gs.BeginScript(ctx, &sluice.Request{Kind: sluice.KindSQL, Text: text, Note: rv.Request.Note})
	run, err := s.admitted(gs, sc, err)
	if err != nil || run.Status == sluice.RunDenied {
		return run, err
	}
	run.ID = id
	if sc.Decision.Action == sluice.ActionReview {
		if sc.Decision.ReviewID != id {
			// The approval was used or expired meanwhile: the script now
			// waits for a new review.
			gs.Leave(ctx, sc)
			reason = EndLeft
			nrv, err := s.Reviews.Get(ctx, sc.Decision.ReviewID)
			if err != nil {
				return nil, fmt.Errorf("read review %s: %w", sc.Decision.ReviewID, err)
			}
			run.ID = nrv.ID
			s.withReview(run, nrv)
			run.Error = fmt.Sprintf("review %s can no longer be used; the script now waits for review %s", id, nrv.ID)
			return run, nil
		}
		if err := gs.AwaitScript(ctx, sc, 0); err != nil {
			e := sluice.AsError(err)
			run.Status, run.Error, run.Hint = sluice.RunDenied, e.Message, e.Hint
			if e.Code == sluice.ETimeout {
				run.Status = sluice.RunPending
			}
			return run, nil
		}
		if rv, err := s.Reviews.Get(ctx, id); err == nil {
			run.Review = rv
		}
	}
	s.execute(ctx, gs, sc, run)
	return run, nil
}

// approvedText returns the script to run for review rv: text when given,
// else the review's own copy; either must be exactly what was approved.
func approvedText(rv *sluice.Review, text string) (string, error) {
	given := text != ""
	if !given {
		text = rv.Request.Text
	}
	probe := sluice.Request{Connection: rv.Request.Connection, Text: text}
	if probe.Hash() == rv.StatementHash {
		return text, nil
	}
	switch {
	case given:
		return "", sluice.Errorf(sluice.EConflict, "the script differs from the one review %s approved", rv.ID)
	case rv.Request.Masked:
		return "", sluice.Errorf(sluice.EConflict,
			"sluice masked part of the script in its records, so it cannot run it from review %s alone; pass the script again (--file)", rv.ID)
	}
	return "", sluice.Errorf(sluice.EConflict, "review %s does not hold a script that sluice run can run", rv.ID)
}

// execute runs a released script's statements in order on one upstream
// connection, each recorded as its own request, and stops at the first
// that fails; then it records the script's own result.
func (s *Service) execute(ctx context.Context, gs *gate.Session, sc *gate.Script, run *sluice.Run) {
	start := time.Now()
	conn := gs.Info().Connection
	summary := &sluice.Result{Status: sluice.StatusOK}
	defer func() {
		summary.Duration = time.Since(start)
		gs.Done(context.WithoutCancel(ctx), sc.Request, summary)
	}()
	pc, err := s.Upstream.Connect(ctx, conn, sqlexec.StartupParams("sluice run", gs.ReadOnly()))
	if err != nil {
		s.log().Error("upstream connect failed", "session", gs.ID(), "connection", conn, "err", err)
		summary.Status, summary.Error = sluice.StatusAborted, "08006: could not connect to the database"
		run.Status = sluice.RunFailed
		run.Error = fmt.Sprintf("sluice could not connect to the database behind connection %q; nothing ran", conn)
		return
	}
	defer pc.Close(context.WithoutCancel(ctx))
	var tags []string
	run.Status = sluice.RunSucceeded
	for i, st := range sc.Statements {
		part, err := gs.BeginPart(ctx, sc, i)
		if err != nil {
			e := sluice.AsError(err)
			summary.Status, summary.Error = sluice.StatusError, e.Message
			run.Status, run.Error = sluice.RunFailed, fmt.Sprintf("statement #%d was not run: %s", i+1, e.Message)
			return
		}
		out := s.Exec.Run(ctx, gs, pc, part, sqlexec.Statement{Text: st.Text})
		run.Statements[i].Result = runResult(part.ID, out)
		tags = append(tags, out.Result.Tag)
		summary.Tag, summary.Rows = strings.Join(tags, "; "), summary.Rows+out.Result.Rows
		if out.Err != nil {
			summary.Status, summary.Error = sluice.StatusError, out.Result.Error
			run.Status = sluice.RunFailed
			run.Error = fmt.Sprintf("statement #%d failed: %s", i+1, out.Result.Error)
			if n := len(sc.Statements) - i - 1; n > 0 {
				run.Error += fmt.Sprintf("; the %d statement(s) after it were not run", n)
			}
			return
		}
	}
}

// runResult is what the caller sees of one statement's outcome.
func runResult(id string, out *sqlexec.Outcome) *sluice.RunResult {
	r := &sluice.RunResult{Request: id, Status: out.Result.Status, Tag: out.Result.Tag, Rows: out.Result.Rows,
		Duration: out.Result.Duration, Error: out.Result.Error, Values: out.Rows, Truncated: out.Truncated}
	for _, c := range out.Columns {
		r.Columns = append(r.Columns, c.Name)
	}
	return r
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}
