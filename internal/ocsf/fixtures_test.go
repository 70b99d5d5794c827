package ocsf

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
)

// Fixed values the fixtures share.
var (
	t0    = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	sess  = "20260314T150926-a1b2c3d4e5f6"
	prod  = Product{Name: "sluice", Vendor: "sluice", Version: "1.2.3"}
	alice = &sluice.Identity{Subject: "alice-oid", Name: "alice@example.com", Groups: []string{"ai-agents", "dev"},
		Client: "claude-code", Method: sluice.AuthOIDC, Issuer: "https://login.example.com/v2.0",
		TokenID: "jti-123", ExpiresAt: t0.Add(time.Hour)}
)

func strp(s string) *string { return &s }

// record returns a journal record of ev with sequence number seq, accepted
// by the journal ms milliseconds after t0.
func record(seq uint64, ms int, ev sluice.Event) *journal.Record {
	ev.Seq = seq
	if ev.Time.IsZero() {
		ev.Time = t0.Add(time.Duration(ms)*time.Millisecond - 100*time.Microsecond)
	}
	if ev.Session == "" && ev.Type != sluice.EventAuthFailure {
		ev.Session = sess
	}
	return &journal.Record{Seq: seq, Time: t0.Add(time.Duration(ms) * time.Millisecond), Event: ev}
}

// sqlRequest returns an SQL request of class c with text, as the gate
// records it.
func sqlRequest(n int64, c sluice.Class, text string) *sluice.Request {
	return &sluice.Request{
		ID: sess + "/" + string(rune('0'+n)), Seq: n, SessionID: sess, Kind: sluice.KindSQL,
		Text: text, Class: c, Tables: []string{"public.orders"}, Fingerprint: "fp-" + string(rune('0'+n)),
		Time: t0, Subject: "alice-oid", Groups: []string{"ai-agents"}, Connection: "orders",
		ClientAddr: "10.1.2.3:54321",
	}
}

func httpReq(n int64, method, url string, c sluice.Class) *sluice.Request {
	return &sluice.Request{
		ID: sess + "/" + string(rune('0'+n)), Seq: n, SessionID: sess, Kind: sluice.KindHTTP,
		Text: method + " /v1/things?limit=5", Class: c, Time: t0, Subject: "alice-oid",
		Groups: []string{"ai-agents"}, Connection: "things", ClientAddr: "[2001:db8::7]:4433",
		HTTP: &sluice.HTTPRequest{Method: method, URL: url,
			Headers:   map[string]string{"user-agent": "claude-code/2.0", "content-type": "application/json"},
			BodyBytes: 17, Patterns: []string{"things.list"}},
	}
}

// heldReview is the review of a held UPDATE.
func heldReview(status sluice.ReviewStatus) *sluice.Review {
	rv := &sluice.Review{
		ID: "rv-42", Status: status,
		Request: *sqlRequest(4, sluice.ClassWrite, "UPDATE orders SET status = 'shipped' WHERE id = $1"),
		Reasons: []string{"UPDATE with WHERE"}, Policy: "agents-orders", Rule: "rule 2",
		Approvers: []string{"group:dba"}, MinApprovals: 1, EstimatedRows: 1,
		Impact: "the planner estimates 1 rows", StatementHash: "abc123", CreatedAt: t0,
		WaitUntil: t0.Add(2 * time.Minute), ValidUntil: t0.Add(time.Hour),
		Tickets: map[string]string{"slack": "C1/123.456"},
	}
	rv.Request.Params = []*string{strp("1001")}
	return rv
}

// fixture is one journal record with what its OCSF event must say.
type fixture struct {
	name     string
	rec      *journal.Record
	class    int
	activity int
	status   int
	severity int
	// disposition is the expected disposition_id; -1 expects none.
	disposition int
}

// fixtures returns one record of every kind sluice writes.
func fixtures() []fixture {
	sel := sqlRequest(1, sluice.ClassRead, "SELECT id, email FROM orders WHERE created_at > now() - interval '1 day'")
	del := sqlRequest(2, sluice.ClassWrite|sluice.ClassDestructive, "DELETE FROM orders")
	upd := heldReview(sluice.ReviewPending).Request
	bad := sqlRequest(3, sluice.ClassRead, "SELECT * FROM ordres")
	get := httpReq(5, "GET", "https://api.things.example/v1/things?limit=5", sluice.ClassRead)
	post := httpReq(6, "POST", "https://api.things.example:8443/v1/things", sluice.ClassWrite)
	tool := &sluice.Request{ID: sess + "/7", Seq: 7, SessionID: sess, Kind: sluice.KindTool,
		Text: `drop_index {"name":"idx_orders_email"}`, Class: sluice.ClassDDL | sluice.ClassDestructive,
		Time: t0, Subject: "alice-oid", Connection: "orders", ClientAddr: "10.1.2.3:60000"}

	approved := heldReview(sluice.ReviewApproved)
	approved.DecidedAt = t0.Add(time.Minute)
	approved.Decisions = []sluice.ReviewDecision{{By: "bob-oid", Approve: true, Reason: "looks right", Via: "slack", At: t0.Add(time.Minute)}}

	return []fixture{
		{"sql_request_allow", record(10, 0, sluice.Event{Type: sluice.EventRequest, Request: sel,
			Decision: &sluice.Decision{Action: sluice.ActionAllow, Policy: "agents-orders", Rule: "rule 1"}}),
			6005, 4, 1, 1, 1},
		{"sql_request_deny", record(11, 1, sluice.Event{Type: sluice.EventRequest, Request: del,
			Decision: &sluice.Decision{Action: sluice.ActionDeny, Policy: "agents-orders", Rule: "rule 3",
				Message: "schema changes go through migrations"}}),
			6005, 7, 2, 4, 2},
		{"sql_request_review", record(12, 2, sluice.Event{Type: sluice.EventRequest, Request: &upd,
			Decision: &sluice.Decision{Action: sluice.ActionReview, Policy: "agents-orders", Rule: "rule 2",
				Approvers: []string{"group:dba"}, MinApprovals: 1, Wait: 2 * time.Minute, ReviewID: "rv-42"}}),
			6005, 2, 99, 3, 14},
		{"review_created", record(13, 3, sluice.Event{Type: sluice.EventReview, Session: sess,
			Review: heldReview(sluice.ReviewPending), Reason: "created"}),
			6003, 1, 1, 3, 14},
		{"review_approved", record(14, 60_000, sluice.Event{Type: sluice.EventReview, Session: sess,
			Review: approved, Reason: "approved by bob-oid via slack"}),
			6003, 3, 1, 3, 8},
		{"sql_decision_approved", record(15, 60_001, sluice.Event{Type: sluice.EventDecision, Request: &upd,
			Decision: &sluice.Decision{Action: sluice.ActionAllow, Policy: "agents-orders", Rule: "rule 2", ReviewID: "rv-42"}}),
			6005, 2, 1, 3, 8},
		{"sql_result_ok", record(16, 60_020, sluice.Event{Type: sluice.EventResult, Request: &upd,
			Result: &sluice.Result{Tag: "UPDATE 1", Rows: 1, Duration: 12_345 * time.Microsecond, Status: sluice.StatusOK,
				Masked: map[string]uint64{"email": 2}}}),
			6005, 2, 1, 3, 1},
		{"sql_result_error", record(17, 60_030, sluice.Event{Type: sluice.EventResult, Request: bad,
			Result: &sluice.Result{Duration: 900 * time.Microsecond, Status: sluice.StatusError,
				Error: `42P01: relation "ordres" does not exist`}}),
			6005, 4, 2, 2, 1},
		{"http_request", record(18, 61_000, sluice.Event{Type: sluice.EventRequest, Request: get,
			Decision: &sluice.Decision{Action: sluice.ActionAllow, Policy: "agents-things", Rule: "rule 1"}}),
			6003, 2, 1, 1, 1},
		{"http_result", record(19, 61_200, sluice.Event{Type: sluice.EventResult, Request: get,
			Result: &sluice.Result{Tag: "200 OK", Duration: 180 * time.Millisecond, Status: sluice.StatusOK,
				HTTP: &sluice.HTTPResult{Status: 200, Headers: map[string]string{"content-type": "application/json"}, BodyBytes: 2048}}}),
			6003, 2, 1, 1, 1},
		{"http_result_failed", record(20, 61_300, sluice.Event{Type: sluice.EventResult, Request: post,
			Result: &sluice.Result{Tag: "503 Service Unavailable", Duration: 30 * time.Millisecond, Status: sluice.StatusOK,
				HTTP: &sluice.HTTPResult{Status: 503, BodyBytes: 19}}}),
			6003, 1, 2, 3, 1},
		{"mcp_tool_call", record(21, 62_000, sluice.Event{Type: sluice.EventRequest, Request: tool,
			Decision: &sluice.Decision{Action: sluice.ActionDeny, Policy: "agents-orders", Rule: "rule 3", Message: "no destructive tools"}}),
			6003, 4, 2, 4, 2},
		{"session_start", record(1, -1000, sluice.Event{Type: sluice.EventSessionStart, Identity: alice,
			Connection: "orders", Protocol: sluice.ProtoPostgres, ClientAddr: "10.1.2.3:54321"}),
			3002, 1, 1, 1, 1},
		{"auth_failure", record(2, -900, sluice.Event{Type: sluice.EventAuthFailure,
			Connection: "orders", Protocol: sluice.ProtoPostgres, ClientAddr: "192.0.2.9:40000", Reason: "token expired"}),
			3002, 1, 2, 3, 2},
		{"auth_failure_no_grant", record(3, -800, sluice.Event{Type: sluice.EventAuthFailure, Identity: alice,
			Connection: "billing", Protocol: sluice.ProtoHTTP, ClientAddr: "10.1.2.3:54999", Reason: "no grant"}),
			3002, 1, 2, 3, 2},
		{"session_end", record(30, 90_000, sluice.Event{Type: sluice.EventSessionEnd, Reason: sluice.EndClient}),
			3002, 2, 1, 1, -1},
	}
}
