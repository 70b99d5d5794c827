package gate

import (
	"context"
	"net/netip"
	"time"

	"github.com/sluicehq/sluice"
)

// Call is a request that sluice answers itself instead of forwarding it:
// an MCP tool that lists the caller's connections or shows a review. It
// belongs to no session and no policy decides it (every authenticated
// caller may ask, and what it is shown depends on its grants), but it is
// journaled like a forwarded request, the request before the answer and
// the answer after it, so that the audit trail also holds what an agent
// learned from sluice itself.
type Call struct {
	g   *Gate
	req *sluice.Request
}

// BuiltinRule names the decision on a Call: sluice's own, not a policy's.
const BuiltinRule = "builtin"

// BeginCall journals a call by id from addr; text is the tool's name
// followed by its arguments as JSON, which the agent chose: the journal's
// copy has its secrets masked, as a statement's has. With an error
// (EUnavailable: the journal cannot record the call), the caller must not
// answer it.
func (g *Gate) BeginCall(ctx context.Context, id *sluice.Identity, addr netip.AddrPort, text string) (*Call, error) {
	now := g.Now()
	req := &sluice.Request{ID: "call-" + newSessionID(now), Seq: 1, Kind: sluice.KindTool, Text: text,
		Class: sluice.ClassRead, Time: now, Subject: id.Subject, Groups: id.Groups, ClientAddr: addr.String()}
	maskRequest(g.StatementMask, req)
	req.Masked = req.Text != text
	ev := &sluice.Event{Time: now, Type: sluice.EventRequest, Request: req,
		Decision: &sluice.Decision{Action: sluice.ActionAllow, Rule: BuiltinRule}}
	if err := g.rec.Record(ctx, ev); err != nil {
		g.log.Error("record call", "request", req.ID, "err", err)
		return nil, journalError(err)
	}
	req.Recorded = ev.Seq
	return &Call{g: g, req: req}, nil
}

// End journals the call's answer: rows items, the first of them in capture
// (nil for none), or failed, the error the caller was shown.
func (c *Call) End(ctx context.Context, rows int64, capture *sluice.Capture, failed error) {
	now := c.g.Now()
	res := &sluice.Result{Rows: rows, Duration: now.Sub(c.req.Time), Status: sluice.StatusOK, Capture: capture}
	if failed != nil {
		res.Status, res.Error = sluice.StatusError, failed.Error()
		if m := c.g.StatementMask; m != nil {
			res.Error = m.String(res.Error) // it may quote the arguments (an unknown review id)
		}
	}
	ev := resultEvent(now, "", c.req, res)
	if err := c.g.rec.Record(context.WithoutCancel(ctx), ev); err != nil {
		c.g.log.Error("record call result", "request", c.req.ID, "err", err)
	}
}

// resultEvent is the record of req's result res. It names the request's
// own record instead of repeating the request, which would be most of its
// bytes; only a request that no journal gave a position is repeated whole.
func resultEvent(now time.Time, session string, req *sluice.Request, res *sluice.Result) *sluice.Event {
	ev := &sluice.Event{Time: now, Type: sluice.EventResult, Session: session, Result: res}
	if req.Recorded == 0 {
		ev.Request = req
	} else {
		ev.RequestRef, ev.RequestSeq = req.ID, req.Recorded
	}
	return ev
}
