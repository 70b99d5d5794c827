package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/review"
)

// Row limits of query and describe.
const (
	DefaultMaxRows = 100
	MaxRows        = 1000
)

func boolPtr(b bool) *bool { return &b }

// addTools registers the tools on the SDK server.
func (s *Server) addTools() {
	sdk.AddTool(s.sdk, &sdk.Tool{
		Name:  "list_connections",
		Title: "List connections",
		Description: "Lists the database connections you may use through sluice, with their type and what their " +
			"policy does with reads, writes, schema changes and destructive statements (allow, review by " +
			"approvers, or deny). Call this first.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: boolPtr(false)},
	}, s.listConnections)
	sdk.AddTool(s.sdk, &sdk.Tool{
		Name:  "describe",
		Title: "Describe a connection",
		Description: "Shows the tables of a connection with their columns and types; with table, one table's " +
			"columns, types, nullability, defaults and primary key. It runs as a read through sluice, so it is " +
			"audited like any query.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: boolPtr(false)},
	}, s.describe)
	sdk.AddTool(s.sdk, &sdk.Tool{
		Name:  "query",
		Title: "Run SQL",
		Description: "Runs SQL (PostgreSQL) on a connection through sluice and returns the rows as a table: " +
			"max_rows of them (default 100, at most 1000), with a truncation notice when there are more. " +
			"Policy decides each statement: it may be denied (the error says why), or held for human approval: " +
			"then the result has status pending_review and a review id; once the review is approved, call query " +
			"again with exactly the same SQL on the same connection and it runs once. Within one MCP session " +
			"(protocol versions up to 2025-11-25) the calls on a connection share a database session, so a " +
			"transaction can span calls.",
		Annotations: &sdk.ToolAnnotations{DestructiveHint: boolPtr(true), OpenWorldHint: boolPtr(false)},
	}, s.query)
	sdk.AddTool(s.sdk, &sdk.Tool{
		Name:  "review_status",
		Title: "Check a review",
		Description: "Shows a review of a held statement: its status (pending, approved, denied, expired, " +
			"executed), the approvers and their votes, and what to do next.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: boolPtr(false)},
	}, s.reviewStatus)
	s.addHTTPTool()
}

// callContext derives a call's context from the server's, so that Close
// cancels it.
func (s *Server) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// toolError turns err into the error a tool returns, which the SDK sends
// as an MCP tool error (isError): the caller-facing message with its detail
// and hint, never the internal cause.
func toolError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errors.New("the call was canceled")
	}
	e := sluice.AsError(err)
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Detail != "" {
		b.WriteString("\nDETAIL: " + e.Detail)
	}
	if e.Hint != "" {
		b.WriteString("\nHINT: " + e.Hint)
	}
	return errors.New(b.String())
}

// ListInput is the input of list_connections.
type ListInput struct{}

// ConnectionsOutput is the result of list_connections.
type ConnectionsOutput struct {
	Subject     string           `json:"subject" jsonschema:"who you are to sluice"`
	Connections []ConnectionInfo `json:"connections"`
}

// ConnectionInfo is one connection the caller may use.
type ConnectionInfo struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Policy   string `json:"policy" jsonschema:"the policy that grants it"`
	ReadOnly bool   `json:"read_only" jsonschema:"the database session is read-only"`
	Access   Access `json:"access" jsonschema:"what the policy does with typical statements of each class"`
}

// Access says what a policy does with typical statements of each class:
// "allow", "review by APPROVERS", or "deny: MESSAGE".
type Access struct {
	Read        string `json:"read"`
	Write       string `json:"write"`
	DDL         string `json:"ddl"`
	Destructive string `json:"destructive"`
	Privileged  string `json:"privileged"`
}

func (s *Server) listConnections(ctx context.Context, req *sdk.CallToolRequest, _ ListInput) (*sdk.CallToolResult, ConnectionsOutput, error) {
	c, err := callerOf(req.Extra)
	if err != nil {
		return nil, ConnectionsOutput{}, toolError(err)
	}
	call, err := s.Gate.BeginCall(ctx, c.id, c.addr, "list_connections {}")
	if err != nil {
		return nil, ConnectionsOutput{}, toolError(err)
	}
	out := ConnectionsOutput{Subject: c.id.Subject, Connections: []ConnectionInfo{}}
	names := make([]string, 0, len(s.Connections))
	for name := range s.Connections {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := s.Policies.Grant(c.id, name, c.addr.Addr())
		if p == nil {
			continue
		}
		out.Connections = append(out.Connections, ConnectionInfo{Name: name, Type: string(s.Connections[name]),
			Policy: p.Name, ReadOnly: p.ReadOnly, Access: s.access(p, c, name)})
	}
	rows := make([][]string, 0, len(out.Connections))
	for _, ci := range out.Connections {
		rows = append(rows, []string{ci.Name, ci.Type, ci.Policy, strconv.FormatBool(ci.ReadOnly)})
	}
	call.End(ctx, int64(len(rows)), s.callCapture([]string{"name", "type", "policy", "read_only"}, rows), nil)
	var b strings.Builder
	if len(out.Connections) == 0 {
		fmt.Fprintf(&b, "%s may use no connection through sluice from %s; ask an operator for a grant.", c.id.Subject, c.addr.Addr())
	} else {
		fmt.Fprintf(&b, "Connections %s may use:\n", c.id.Subject)
		for _, ci := range out.Connections {
			ro := ""
			if ci.ReadOnly {
				ro = ", read-only"
			}
			fmt.Fprintf(&b, "- %s (%s%s, policy %s): read: %s; write: %s; ddl: %s; destructive: %s; privileged: %s\n",
				ci.Name, ci.Type, ro, ci.Policy, ci.Access.Read, ci.Access.Write, ci.Access.DDL, ci.Access.Destructive, ci.Access.Privileged)
		}
	}
	return textResult(b.String()), out, nil
}

// access summarizes what p's rules decide for a typical statement of each
// class, by asking the policy engine itself.
func (s *Server) access(p *policy.Policy, c *caller, conn string) Access {
	isHTTP := s.Connections[conn] == sluice.ConnHTTP
	probe := func(class sluice.Class, kind string, whereMissing bool) string {
		in := &policy.Input{Kind: sluice.KindSQL, Class: class, Kinds: []string{kind}, Statements: 1,
			WhereMissing: whereMissing, Identity: c.id, Connection: conn, ClientAddr: c.addr.Addr(), Now: time.Now()}
		if isHTTP {
			method := map[string]string{"select": "GET", "update": "POST", "delete": "DELETE"}[kind]
			if method == "" {
				return "not applicable"
			}
			in = &policy.Input{Kind: sluice.KindHTTP, Class: class, Identity: c.id, Connection: conn,
				ClientAddr: c.addr.Addr(), Now: time.Now(), HTTP: &policy.HTTPInput{Method: method, Path: "/", RawPath: "/"}}
		}
		d := s.Policies.Decide(p, in)
		switch d.Action {
		case sluice.ActionAllow:
			return "allow"
		case sluice.ActionReview:
			return fmt.Sprintf("review by %s (%d approval(s))", strings.Join(d.Approvers, ", "), max(d.MinApprovals, 1))
		default:
			return "deny: " + d.Message
		}
	}
	return Access{
		Read:        probe(sluice.ClassRead, "select", false),
		Write:       probe(sluice.ClassWrite, "update", false),
		DDL:         probe(sluice.ClassDDL, "create_table", false),
		Destructive: probe(sluice.ClassWrite|sluice.ClassDestructive, "delete", true),
		Privileged:  probe(sluice.ClassPrivileged, "copy", false),
	}
}

// textResult is a tool result with one text content.
func textResult(text string) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: text}}}
}

// ReviewInput is the input of review_status.
type ReviewInput struct {
	ReviewID string `json:"review_id" jsonschema:"the review id (rv_...) from a pending query result"`
}

// ReviewStatusOutput is the result of review_status.
type ReviewStatusOutput struct {
	Review ReviewInfo `json:"review"`
	Next   string     `json:"next" jsonschema:"what to do next"`
}

// ReviewInfo is a review as the agent sees it.
type ReviewInfo struct {
	ID           string   `json:"id"`
	Status       string   `json:"status" jsonschema:"pending, approved, denied, expired or executed"`
	Connection   string   `json:"connection"`
	Statement    string   `json:"statement"`
	Requester    string   `json:"requester"`
	Approvers    []string `json:"approvers" jsonschema:"who may approve (group:NAME or subject:NAME)"`
	MinApprovals int      `json:"min_approvals"`
	Approvals    int      `json:"approvals"`
	Votes        []Vote   `json:"votes,omitempty"`
	Reasons      []string `json:"reasons,omitempty" jsonschema:"why the statement needs a review"`
	Impact       string   `json:"impact,omitempty"`
	CreatedAt    string   `json:"created_at"`
	ValidUntil   string   `json:"valid_until" jsonschema:"an approval can be used until then"`
}

// Vote is one approver's vote.
type Vote struct {
	By      string `json:"by"`
	Approve bool   `json:"approve"`
	Reason  string `json:"reason,omitempty"`
	Via     string `json:"via"`
	At      string `json:"at"`
}

func reviewInfo(rv *sluice.Review) ReviewInfo {
	ri := ReviewInfo{ID: rv.ID, Status: string(rv.Status), Connection: rv.Request.Connection, Statement: rv.Request.Text,
		Requester: rv.Request.Subject, Approvers: rv.Approvers, MinApprovals: rv.MinApprovals, Approvals: rv.Approvals(),
		Reasons: rv.Reasons, Impact: rv.Impact, CreatedAt: rv.CreatedAt.UTC().Format(time.RFC3339),
		ValidUntil: rv.ValidUntil.UTC().Format(time.RFC3339)}
	if ri.Approvers == nil {
		ri.Approvers = []string{}
	}
	for _, d := range rv.Decisions {
		ri.Votes = append(ri.Votes, Vote{By: d.By, Approve: d.Approve, Reason: d.Reason, Via: d.Via, At: d.At.UTC().Format(time.RFC3339)})
	}
	return ri
}

// nextStep says what the caller should do about review rv.
func nextStep(rv *sluice.Review, c *caller) string {
	mine := rv.Request.Subject == c.id.Subject
	switch rv.Status {
	case sluice.ReviewPending:
		return fmt.Sprintf("Waiting for %d more approval(s) from %s, who can run `sluice reviews approve %s --reason '...'` "+
			"(details: `sluice reviews show %s`). Check again later with review_status; do not send the statement in "+
			"another form to get around the review.",
			max(rv.MinApprovals-rv.Approvals(), 1), strings.Join(rv.Approvers, ", "), rv.ID, rv.ID)
	case sluice.ReviewApproved:
		if mine {
			return fmt.Sprintf("Approved. Call query again with exactly the same SQL on connection %q before %s: it runs once.",
				rv.Request.Connection, rv.ValidUntil.UTC().Format(time.RFC3339))
		}
		return "Approved; the requester may now run the statement once."
	case sluice.ReviewDenied:
		why := ""
		for _, d := range rv.Decisions {
			if !d.Approve {
				why = fmt.Sprintf(" by %s", d.By)
				if d.Reason != "" {
					why += ": " + d.Reason
				}
			}
		}
		return "Denied" + why + ". Do not run this statement again; change the approach or ask the approvers."
	case sluice.ReviewExecuted:
		return "Approved and already run once. Running it again opens a new review."
	case sluice.ReviewExpired:
		return "Expired without a decision. Running the statement again opens a new review."
	}
	return ""
}

func (s *Server) reviewStatus(ctx context.Context, req *sdk.CallToolRequest, in ReviewInput) (*sdk.CallToolResult, ReviewStatusOutput, error) {
	c, err := callerOf(req.Extra)
	if err != nil {
		return nil, ReviewStatusOutput{}, toolError(err)
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	args, _ := json.Marshal(in) // a struct of one string always encodes
	call, err := s.Gate.BeginCall(ctx, c.id, c.addr, "review_status "+string(args))
	if err != nil {
		return nil, ReviewStatusOutput{}, toolError(err)
	}
	rv, err := s.viewReview(ctx, c, in.ReviewID)
	if err != nil {
		call.End(ctx, 0, nil, err)
		return nil, ReviewStatusOutput{}, err
	}
	call.End(ctx, 1, s.callCapture([]string{"id", "status", "approvals", "min_approvals"},
		[][]string{{rv.ID, string(rv.Status), strconv.Itoa(rv.Approvals()), strconv.Itoa(rv.MinApprovals)}}), nil)
	out := ReviewStatusOutput{Review: reviewInfo(rv), Next: nextStep(rv, c)}
	text := fmt.Sprintf("Review %s is %s (%d of %d approvals) for %s on connection %s:\n%s\n%s",
		rv.ID, rv.Status, rv.Approvals(), rv.MinApprovals, rv.Request.Subject, rv.Request.Connection, rv.Request.Text, out.Next)
	return textResult(text), out, nil
}

// viewReview returns review id if c may see it, or the error c is shown.
func (s *Server) viewReview(ctx context.Context, c *caller, id string) (*sluice.Review, error) {
	notFound := fmt.Errorf("no review %q that you may see; review ids look like rv_... and come from a pending query result", id)
	if strings.TrimSpace(id) == "" {
		return nil, errors.New("review_id is required")
	}
	rv, err := s.Reviews.Get(ctx, id)
	if err != nil {
		if e := review.PublicError(err); sluice.ErrorCode(e) == sluice.ENotFound {
			return nil, notFound
		}
		s.Log.Warn("review_status", "review", id, "err", err)
		return nil, errors.New("sluice could not read the review now; try again later")
	}
	if !s.mayView(rv, c.id) {
		return nil, notFound // do not confirm that the id exists
	}
	return rv, nil
}

// callCapture is the audit record's capture of what a call answered: text
// columns and their rows, within the capture caps as a query's result is.
func (s *Server) callCapture(columns []string, rows [][]string) *sluice.Capture {
	rs := &resultSet{}
	for _, name := range columns {
		rs.cols = append(rs.cols, sluice.Column{Name: name, TypeOID: pgtype.TextOID})
	}
	for _, r := range rows {
		row := make([]*string, len(r))
		for i := range r {
			row[i] = &r[i]
		}
		rs.rows = append(rs.rows, row)
	}
	return rs.capture(s.CaptureRows, s.CaptureBytes)
}

// mayView reports whether id may see review rv: its requester, its
// approvers and auditors (as the admin API decides).
func (s *Server) mayView(rv *sluice.Review, id *sluice.Identity) bool {
	if rv.Request.Subject == id.Subject || review.MayDecide(rv, id) == nil {
		return true
	}
	return slices.ContainsFunc(s.Auditors, func(a policy.Subject) bool { return a.Matches(id) })
}
