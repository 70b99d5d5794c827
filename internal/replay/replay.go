// Package replay re-executes a recorded session on a sandbox connection
// (`sluice audit replay SESSION --against CONNECTION`) and compares what
// each statement returns there with what the journal captured when it
// first ran.
//
// The replay runs inside the gateway, through the gate, as a session of
// its own (protocol "replay") of the operator who asks for it: the gate
// checks the operator's grant on the sandbox, decides every statement with
// the operator's policy there, masks results, and journals the session like
// any other. The statements run in one transaction, each behind a
// savepoint so that one failing does not end the replay, and the
// transaction is rolled back unless the caller asks to commit it.
package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/sqlexec"
	"github.com/sluicehq/sluice/internal/store"
)

// EndFinished is the end reason of a replay's session.
const EndFinished = "replay_finished"

// Connector opens an authenticated upstream connection for a named
// connection, with the credential only sluice holds.
type Connector interface {
	Connect(ctx context.Context, connection string, params map[string]string) (*pgconn.PgConn, error)
}

// Sessions finds recorded sessions (the state store's index).
type Sessions interface {
	GetSession(ctx context.Context, id string) (*sluice.Session, error)
}

// Replayer replays sessions. Set its fields before use; it is safe for
// concurrent use afterwards.
type Replayer struct {
	Gate     *gate.Gate
	Upstream Connector
	Sessions Sessions
	// JournalDir is where the journal lives, to read sessions' records.
	JournalDir string
	Exec       *sqlexec.Executor
	// Connections names every connection with its type; Sandboxes are
	// those marked sandbox: true, the only ones replays run on.
	Connections map[string]sluice.ConnType
	Sandboxes   map[string]bool
	Log         *slog.Logger
}

// Params say what to replay where, for whom.
type Params struct {
	Caller *sluice.Identity
	Addr   netip.AddrPort
	// Session is the recorded session; Against the sandbox connection.
	Session, Against string
	// Commit commits the replay's transaction instead of rolling it back.
	Commit bool
}

// savepoint is set before each replayed statement, so that a statement
// that fails on the sandbox does not abort the rest.
const savepoint = "sluice_replay"

// Replay replays p.Session on p.Against and reports the differences. The
// error is for replays that cannot start: a connection that is not a
// sandbox (EInvalid), an unknown session or connection (ENotFound), no
// grant on the sandbox (EForbidden), an upstream or journal that is not
// available (EUnavailable).
func (r *Replayer) Replay(ctx context.Context, p Params) (*Report, error) {
	if !r.Sandboxes[p.Against] {
		if _, ok := r.Connections[p.Against]; !ok {
			return nil, sluice.Errorf(sluice.ENotFound, "connection %q does not exist", p.Against)
		}
		return nil, sluice.Errorf(sluice.EInvalid,
			"connection %q is not a sandbox: a replay runs statements only on connections marked sandbox: true in the configuration", p.Against)
	}
	sess, err := r.Sessions.GetSession(ctx, p.Session)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, sluice.Errorf(sluice.ENotFound, "session %q is not in the audit index", p.Session)
	case err != nil:
		return nil, sluice.Errorf(sluice.EUnavailable, "reading the audit index failed").WithCause(err)
	}
	if r.Connections[sess.Connection] == sluice.ConnHTTP {
		return nil, sluice.Errorf(sluice.EInvalid, "session %s used the HTTP connection %q: only SQL sessions can be replayed", sess.ID, sess.Connection)
	}
	events, err := audit.SessionEvents(r.JournalDir, sess)
	if err != nil {
		return nil, sluice.Errorf(sluice.EUnavailable, "reading the journal failed").WithCause(err)
	}
	steps := plan(events)

	gs, err := r.Gate.OpenSession(ctx, gate.SessionInfo{Identity: p.Caller, Connection: p.Against, Protocol: sluice.ProtoReplay, ClientAddr: p.Addr})
	if err != nil {
		return nil, err
	}
	defer gs.Close(context.WithoutCancel(ctx), EndFinished)
	rep := &Report{Session: sess.ID, Subject: sess.Identity.Subject, Connection: sess.Connection, Against: p.Against,
		Replay: gs.ID(), Commit: p.Commit}
	pc, err := r.Upstream.Connect(ctx, p.Against, sqlexec.StartupParams("sluice replay", gs.ReadOnly()))
	if err != nil {
		r.log().Error("upstream connect failed", "session", gs.ID(), "connection", p.Against, "err", err)
		return nil, sluice.Errorf(sluice.EUnavailable, "sluice could not connect to the database behind connection %q", p.Against)
	}
	defer pc.Close(context.WithoutCancel(ctx))
	x := &runner{r: r, gs: gs, pc: pc, note: "replay of session " + sess.ID}
	if err := x.control(ctx, "BEGIN"); err != nil {
		return nil, err
	}
	for _, st := range steps {
		rep.Statements = append(rep.Statements, x.replay(ctx, st))
	}
	rep.Outcome = x.finish(ctx, p.Commit)
	for _, st := range rep.Statements {
		switch {
		case st.Skipped != "":
			rep.Skipped++
		default:
			rep.Replayed++
			if len(st.Differences) > 0 {
				rep.Differing++
			}
		}
	}
	return rep, nil
}

// runner sends one replay's statements, each through the gate.
type runner struct {
	r       *Replayer
	gs      *gate.Session
	pc      *pgconn.PgConn
	note    string
	aborted string // why the transaction can take no more statements
}

// control runs one of the replay's own statements (BEGIN, SAVEPOINT, ...):
// through the gate and the journal like the replayed ones.
func (x *runner) control(ctx context.Context, text string) error {
	req := &sluice.Request{Kind: sluice.KindSQL, Text: text, Note: x.note}
	d, err := x.gs.Begin(ctx, req)
	if err == nil && d.Action != sluice.ActionAllow {
		err = x.gs.Await(ctx, req, sluice.Decision{Action: d.Action, Policy: d.Policy, Rule: d.Rule, ReviewID: d.ReviewID})
	}
	if err != nil {
		e := sluice.AsError(err)
		return &sluice.Error{Code: e.Code, Message: fmt.Sprintf("the replay could not run %s on the sandbox: %s", text, e.Message), Cause: err}
	}
	out := x.r.Exec.Run(ctx, x.gs, x.pc, req, sqlexec.Statement{Text: text})
	if out.Err != nil {
		return sluice.Errorf(sluice.EUnavailable, "the replay could not run %s on the sandbox: %s", text, out.Result.Error)
	}
	return nil
}

// replay replays one step and compares its outcome.
func (x *runner) replay(ctx context.Context, st *step) Statement {
	out := Statement{Request: st.req.ID, Seq: st.req.Seq, Text: st.req.Text, Skipped: st.skip}
	switch {
	case out.Skipped != "":
		return out
	case x.aborted != "":
		out.Skipped = x.aborted
		return out
	case ctx.Err() != nil:
		out.Skipped = "the replay was canceled"
		return out
	}
	orig := st.result
	out.Original = side(orig, nil)
	if orig.Capture != nil {
		out.Original.Columns, out.Original.Captured = columnNames(orig.Capture.Columns), len(orig.Capture.Rows)
	}
	stmt, notes := statementFor(st.req, orig)
	out.Notes = notes
	req := &sluice.Request{Kind: sluice.KindSQL, Text: st.req.Text, Params: st.req.Params, Note: x.note + ", request " + st.req.ID}
	// Ask first, recording nothing: what the policy on the sandbox would
	// not let through is reported, not held for a review nobody waits for.
	if d := x.gs.Check(&sluice.Request{Kind: sluice.KindSQL, Text: stmt.Text}); d.Action != sluice.ActionAllow {
		out.Skipped = fmt.Sprintf("your policy on the sandbox (%s, %s) says %s", d.Policy, d.Rule, d.Action)
		return out
	}
	if err := x.control(ctx, "SAVEPOINT "+savepoint); err != nil {
		x.aborted = "not replayed: " + err.Error()
		out.Skipped = x.aborted
		return out
	}
	d, err := x.gs.Begin(ctx, req)
	if err == nil && d.Action != sluice.ActionAllow {
		err = x.gs.Await(ctx, req, sluice.Decision{Action: d.Action, Policy: d.Policy, Rule: d.Rule, ReviewID: d.ReviewID})
	}
	if err != nil {
		out.Skipped = "refused on the sandbox: " + sluice.AsError(err).Message
		x.release(ctx, false)
		return out
	}
	res := x.r.Exec.Run(ctx, x.gs, x.pc, req, stmt)
	out.Replay = req.ID
	out.Sandbox = side(res.Result, res.Columns)
	out.Sandbox.Captured = len(res.Rows)
	var more []string
	out.Differences, out.Rows, more = Compare(orig, res.Result, res.Columns, res.Rows, res.Truncated)
	out.Notes = append(out.Notes, more...)
	x.release(ctx, res.Err == nil)
	return out
}

// release ends a statement's savepoint: kept when it succeeded, rolled
// back to when it failed.
func (x *runner) release(ctx context.Context, ok bool) {
	text := "RELEASE SAVEPOINT " + savepoint
	if !ok {
		text = "ROLLBACK TO SAVEPOINT " + savepoint
	}
	if err := x.control(ctx, text); err != nil {
		x.aborted = "not replayed: " + err.Error()
	}
}

// finish commits or rolls back the replay's transaction and says which.
func (x *runner) finish(ctx context.Context, commit bool) string {
	ctx = context.WithoutCancel(ctx)
	if commit && x.aborted == "" {
		if err := x.control(ctx, "COMMIT"); err != nil {
			return "NOT committed: " + err.Error()
		}
		return "committed: the sandbox keeps the changes"
	}
	if err := x.control(ctx, "ROLLBACK"); err != nil {
		// Closing the connection rolls back what is left.
		return "rolled back (by closing the connection: " + err.Error() + ")"
	}
	if commit {
		return "rolled back, NOT committed: " + x.aborted
	}
	return "rolled back: the sandbox is unchanged"
}

// statementFor is how to send a recorded request so that its result
// compares with the capture: with its parameters, and asking for the
// result formats the original client asked for.
func statementFor(req *sluice.Request, orig *sluice.Result) (sqlexec.Statement, []string) {
	st := sqlexec.Statement{Text: req.Text, Params: req.Params, ParamFormats: req.ParamFormats}
	var notes []string
	if req.Masked {
		notes = append(notes, "the journal's copy of this statement was masked, and the replay ran that copy")
	}
	for i, p := range req.Params {
		switch {
		case p == nil:
		case strings.HasSuffix(*p, "…"):
			notes = append(notes, fmt.Sprintf("parameter $%d was cut when it was recorded, and the replay sent what was recorded", i+1))
		case strings.HasPrefix(*p, `\x`) && len(req.ParamFormats) == 0:
			notes = append(notes, fmt.Sprintf(`parameter $%d was recorded as \x-hex without its format (binary, or bytea) and is replayed as text`, i+1))
		}
	}
	binary := false
	var formats []int16
	if c := orig.Capture; c != nil {
		for _, col := range c.Columns {
			formats = append(formats, col.Format)
			binary = binary || col.Format == 1
		}
	}
	st.Extended = len(req.Params) > 0 || binary
	if binary {
		st.ResultFormats = formats
		if same(formats) {
			st.ResultFormats = formats[:1]
		}
	}
	return st, notes
}

func same(fs []int16) bool {
	for _, f := range fs {
		if f != fs[0] {
			return false
		}
	}
	return true
}

// side is what a Side shows of a result.
func side(res *sluice.Result, cols []sluice.Column) *Side {
	return &Side{Status: res.Status, Tag: res.Tag, Rows: res.Rows, Error: res.Error, Duration: res.Duration, Columns: columnNames(cols)}
}

func (r *Replayer) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}
