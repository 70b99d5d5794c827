package ocsf

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
)

func TestSQLActivity(t *testing.T) {
	const (
		r  = sluice.ClassRead
		w  = sluice.ClassWrite
		d  = sluice.ClassDestructive
		dd = sluice.ClassDDL
	)
	for _, c := range []struct {
		text  string
		class sluice.Class
		oid   uint32
		want  activity
	}{
		{"SELECT 1", r, 0, dsQuery},
		{"  (select 1) union (select 2)", r, 0, dsQuery},
		{"-- hello\n/* a /* nested */ comment */ select 1", r, 0, dsQuery},
		{"WITH x AS (SELECT 1) SELECT * FROM x", r, 0, dsQuery},
		{"WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone", r | w | d, 0, dsDelete},
		{"SELECT 1; UPDATE t SET a = 1", r | w, 0, dsWrite},
		{"SHOW search_path", r, 0, dsRead},
		{"EXPLAIN SELECT 1", r, 0, dsRead},
		{"insert into t values (1)", w, 0, dsCreate},
		{"UPDATE t SET a = 1 WHERE id = 2", w, 0, dsUpdate},
		{"UPDATE t SET a = 1", w | d, 0, dsUpdate},
		{"DELETE FROM t WHERE id = 1", w, 0, dsDelete},
		{"TRUNCATE t", w | d, 0, dsDelete},
		{"DROP TABLE t", dd | d, 0, dsDelete},
		{"CREATE TABLE t (a int)", dd, 0, dsCreate},
		{"ALTER TABLE t ADD b int", dd, 0, dsUpdate},
		{"GRANT SELECT ON t TO bob", sluice.ClassPrivileged, 0, dsUpdate},
		{"MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE", w | d, 0, dsWrite},
		{"COPY t FROM STDIN", w, 0, dsWrite},
		{"COPY t TO STDOUT", r, 0, dsRead},
		{"BEGIN", 0, 0, activityOther},
		{"SET statement_timeout = 0", r, 0, activityOther},
		{"EXECUTE ins(1)", w, 0, dsWrite},
		{"DO $$ BEGIN END $$", sluice.ClassUnknown, 0, activityOther},
		{"", 0, 1234, activityOther},
		{"", 0, 0, activityUnknown},
		{"", r, 0, dsRead},
		{"-- only a comment", 0, 0, activityOther},
		{"/* unterminated", 0, 0, activityOther},
		{"123", 0, 0, activityOther},
	} {
		got := sqlActivity(&sluice.Request{Text: c.text, Class: c.class, FunctionOID: c.oid})
		if got != c.want {
			t.Errorf("sqlActivity(%q, %v) = %v, want %v", c.text, c.class, got, c.want)
		}
	}
}

func TestHTTPActivity(t *testing.T) {
	for method, want := range map[string]activity{
		"GET": apiRead, "HEAD": apiRead, "OPTIONS": apiRead, "POST": apiCreate, "PUT": apiUpdate,
		"PATCH": apiUpdate, "DELETE": apiDelete, "PROPFIND": activityOther, "": activityUnknown,
	} {
		if got := httpActivity(method); got != want {
			t.Errorf("httpActivity(%q) = %v, want %v", method, got, want)
		}
	}
	req := &sluice.Request{Text: "delete /v1/x"}
	if got := httpMethod(req); got != "DELETE" {
		t.Errorf("httpMethod from text = %q, want DELETE", got)
	}
}

func TestReviewStep(t *testing.T) {
	for reason, want := range map[string]string{
		"created":                "created",
		"notified: slack C1/123": "notified",
		"notify failed: jira":    "notify_failed",
		"vote: approve by bob via cli (1 of 2 approvals)": "vote",
		"approved by bob via cli":                         "approved",
		"denied by bob via slack":                         "denied",
		"executed":                                        "executed",
		"expired":                                         "expired",
		"":                                                "pending",
		"Something-Else!":                                 "something_else",
	} {
		if got := reviewStep(reason, sluice.ReviewPending); got != want {
			t.Errorf("reviewStep(%q) = %q, want %q", reason, got, want)
		}
	}
}

func TestClientEndpoint(t *testing.T) {
	for addr, want := range map[string]endpoint{
		"10.0.0.1:5432":        {IP: "10.0.0.1", Port: 5432},
		"[2001:db8::1]:443":    {IP: "2001:db8::1", Port: 443},
		"2001:db8::1":          {IP: "2001:db8::1"},
		"10.0.0.1":             {IP: "10.0.0.1"},
		"/tmp/.s.PGSQL.5432":   {Name: "/tmp/.s.PGSQL.5432"},
		"client.example:12345": {Name: "client.example", Port: 12345},
		"":                     {Name: "unknown"},
	} {
		if got := clientEndpoint(addr); got != want {
			t.Errorf("clientEndpoint(%q) = %+v, want %+v", addr, got, want)
		}
	}
}

func TestOneLine(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"SELECT 1", 100, "SELECT 1"},
		{"  SELECT\n\t1\r\n  FROM t  ", 100, "SELECT 1 FROM t"},
		{"abcdef", 5, "ab…"},
		{"ééé", 5, "é…"},
		{"aééé", 6, "aé…"},
		{"ééé", 4, "…"},
	} {
		got := oneLine(c.in, c.n)
		if got != c.want || len(got) > c.n || !utf8.ValidString(got) {
			t.Errorf("oneLine(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestSQLState(t *testing.T) {
	for msg, want := range map[string]string{
		`42P01: relation "x" does not exist`: "42P01",
		"57014: canceling statement":         "57014",
		"connection reset":                   "",
		"42p01: lower case":                  "",
		"":                                   "",
	} {
		if got := sqlState(msg); got != want {
			t.Errorf("sqlState(%q) = %q, want %q", msg, got, want)
		}
	}
}

// FuzzEvent maps records whose strings come from the fuzzer: Event must
// never fail and must always return one JSON object with the required
// attributes.
func FuzzEvent(f *testing.F) {
	f.Add("request", "sql", "SELECT 1", "10.0.0.1:5432", "allow", "ok", "created", uint16(1))
	f.Add("result", "http", "GET /x", "[::1]:1", "deny", "error", "", uint16(6))
	f.Add("review", "mcp_tool", "tool {}", "", "review", "aborted", "vote: approve", uint16(32))
	f.Add("auth_failure", "", "/* x", "not an address", "", "", "notify failed: x", uint16(0))
	f.Fuzz(func(t *testing.T, typ, kind, text, addr, action, status, reason string, class uint16) {
		req := &sluice.Request{Kind: sluice.RequestKind(kind), Text: text, ClientAddr: addr, Class: sluice.Class(class),
			HTTP: &sluice.HTTPRequest{Method: text, URL: text}}
		ev := sluice.Event{Type: sluice.EventType(typ), Request: req, ClientAddr: addr, Reason: reason,
			Decision: &sluice.Decision{Action: sluice.Action(action), Message: reason},
			Result:   &sluice.Result{Status: status, Error: text, HTTP: &sluice.HTTPResult{Status: int(class)}},
			Review:   &sluice.Review{Status: sluice.ReviewStatus(status), Request: *req},
			Identity: &sluice.Identity{Subject: text, Method: sluice.AuthMethod(kind)}}
		rec := &journal.Record{Seq: 1, Event: ev}
		b, err := Event(rec, Product{})
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("invalid JSON: %v\n%s", err, b)
		}
		for _, k := range []string{"class_uid", "category_uid", "activity_id", "type_uid", "time", "severity_id", "metadata"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("no %s in %s", k, b)
			}
		}
		if msg, _ := m["message"].(string); strings.ContainsAny(msg, "\n\r") {
			t.Fatalf("message on more than one line: %q", msg)
		}
	})
}
