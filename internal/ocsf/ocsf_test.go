package ocsf

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// obj is a decoded OCSF event.
type obj = map[string]any

// mapEvent returns rec's OCSF event, checked to be one valid JSON object
// without a trailing newline, and decoded.
func mapEvent(t *testing.T, rec *journal.Record) (obj, []byte) {
	t.Helper()
	b, err := Event(rec, prod)
	if err != nil {
		t.Fatalf("Event: %v", err)
	}
	if !json.Valid(b) {
		t.Fatalf("Event returned invalid JSON: %s", b)
	}
	if bytes.HasSuffix(b, []byte("\n")) {
		t.Errorf("Event output ends in a newline")
	}
	var m obj
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode event: %v\n%s", err, b)
	}
	if dec.More() {
		t.Fatalf("Event returned more than one JSON value: %s", b)
	}
	return m, b
}

// get returns the value at a dotted path ("metadata.product.name"), or nil.
func get(m obj, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(obj)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

// num returns the number at path, or -1 if there is none.
func num(t *testing.T, m obj, path string) int64 {
	t.Helper()
	n, ok := get(m, path).(json.Number)
	if !ok {
		return -1
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return i
}

func str(m obj, path string) string {
	s, _ := get(m, path).(string)
	return s
}

// requireAttrs checks the attributes OCSF 1.4.0 requires of every event
// and of its class, and returns the class, activity and type uids.
func requireAttrs(t *testing.T, m obj, rec *journal.Record) {
	t.Helper()
	for _, p := range []string{"class_uid", "category_uid", "activity_id", "type_uid", "time", "severity_id", "status_id",
		"metadata.sequence"} {
		if num(t, m, p) < 0 {
			t.Errorf("%s missing or not a number", p)
		}
	}
	for _, p := range []string{"class_name", "category_name", "activity_name", "type_name", "severity", "status",
		"metadata.version", "metadata.product.name", "metadata.product.vendor_name", "metadata.uid"} {
		if str(m, p) == "" {
			t.Errorf("%s missing", p)
		}
	}
	class, act := num(t, m, "class_uid"), num(t, m, "activity_id")
	if got := num(t, m, "type_uid"); got != class*100+act {
		t.Errorf("type_uid = %d, want class_uid*100+activity_id = %d", got, class*100+act)
	}
	wantCat := map[int64]int64{0: 0, 3002: 3, 6003: 6, 6005: 6}[class]
	if got := num(t, m, "category_uid"); got != wantCat {
		t.Errorf("category_uid = %d for class %d, want %d", got, class, wantCat)
	}
	if got := str(m, "metadata.version"); got != Version {
		t.Errorf("metadata.version = %q, want %q", got, Version)
	}
	want := rec.Time
	if want.IsZero() {
		want = rec.Event.Time
	}
	if want.IsZero() {
		if num(t, m, "time") != 0 {
			t.Errorf("time = %d for a record without a time, want 0", num(t, m, "time"))
		}
	} else if got := num(t, m, "time"); got != want.UnixMilli() {
		t.Errorf("time = %d, want %d", got, want.UnixMilli())
	}
	if num(t, m, "disposition_id") >= 0 {
		if p, _ := get(m, "metadata.profiles").([]any); !slices.Contains(p, any("security_control")) {
			t.Errorf("disposition_id set but metadata.profiles = %v, want security_control", get(m, "metadata.profiles"))
		}
	}
	switch class {
	case 6003:
		for _, p := range []string{"actor", "api", "src_endpoint"} {
			if get(m, p) == nil {
				t.Errorf("API Activity without %s", p)
			}
		}
		if str(m, "api.operation") == "" {
			t.Errorf("API Activity without api.operation")
		}
		if hr, ok := get(m, "http_request").(obj); ok && hr["url"] == nil {
			t.Errorf("http_request without url")
		}
		if get(m, "http_response") != nil && num(t, m, "http_response.code") < 0 {
			t.Errorf("http_response without code")
		}
	case 6005:
		for _, p := range []string{"actor", "src_endpoint"} {
			if get(m, p) == nil {
				t.Errorf("Datastore Activity without %s", p)
			}
		}
		if get(m, "database") == nil && get(m, "databucket") == nil && get(m, "table") == nil {
			t.Errorf("Datastore Activity without database, databucket or table")
		}
		if get(m, "database") != nil && num(t, m, "database.type_id") < 0 {
			t.Errorf("database without type_id")
		}
		if qi, ok := get(m, "query_info").(obj); ok && qi["query_string"] == nil {
			t.Errorf("query_info without query_string")
		}
	case 3002:
		u, ok := get(m, "user").(obj)
		if !ok || (u["uid"] == nil && u["name"] == nil) {
			t.Errorf("Authentication without user uid or name: %v", get(m, "user"))
		}
		if get(m, "service") == nil && get(m, "dst_endpoint") == nil {
			t.Errorf("Authentication without service or dst_endpoint")
		}
	}
	for _, ep := range []string{"src_endpoint", "dst_endpoint"} {
		if e, ok := get(m, ep).(obj); ok {
			if e["ip"] == nil && e["name"] == nil && e["hostname"] == nil && e["svc_name"] == nil && e["uid"] == nil {
				t.Errorf("%s has none of ip, name, hostname, svc_name, uid: %v", ep, e)
			}
		}
	}
}

func TestEventFixtures(t *testing.T) {
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			m, b := mapEvent(t, f.rec)
			requireAttrs(t, m, f.rec)
			checks := []struct {
				path string
				want int64
			}{
				{"class_uid", int64(f.class)},
				{"activity_id", int64(f.activity)},
				{"status_id", int64(f.status)},
				{"severity_id", int64(f.severity)},
				{"disposition_id", int64(f.disposition)},
				{"metadata.sequence", int64(f.rec.Seq)},
				{"metadata.logged_time", f.rec.Time.UnixMilli()},
			}
			for _, c := range checks {
				if got := num(t, m, c.path); got != c.want {
					t.Errorf("%s = %d, want %d", c.path, got, c.want)
				}
			}
			if got, want := str(m, "metadata.uid"), "journal:"+itoa(f.rec.Seq); got != want {
				t.Errorf("metadata.uid = %q, want %q", got, want)
			}
			if f.rec.Event.Type != sluice.EventAuthFailure {
				if got := str(m, "metadata.correlation_uid"); got != sess {
					t.Errorf("metadata.correlation_uid = %q, want the session %q", got, sess)
				}
			}
			if got := str(m, "metadata.product.version"); got != prod.Version {
				t.Errorf("metadata.product.version = %q, want %q", got, prod.Version)
			}
			if got := str(m, "metadata.event_code"); got != string(f.rec.Event.Type) {
				t.Errorf("metadata.event_code = %q, want %q", got, f.rec.Event.Type)
			}
			if msg := str(m, "message"); msg == "" || strings.ContainsAny(msg, "\n\r") {
				t.Errorf("message = %q, want one non-empty line", msg)
			}
			golden(t, f.name, b)
		})
	}
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// golden compares an event with testdata/<name>.json, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("event differs from %s (run go test -update after checking the change):\n%s", path, pretty.Bytes())
	}
}

func fixtureNamed(t *testing.T, name string) fixture {
	t.Helper()
	for _, f := range fixtures() {
		if f.name == name {
			return f
		}
	}
	t.Fatalf("no fixture %q", name)
	return fixture{}
}

func TestDatastoreValues(t *testing.T) {
	f := fixtureNamed(t, "sql_request_allow")
	m, _ := mapEvent(t, f.rec)
	req := f.rec.Event.Request
	for path, want := range map[string]string{
		"query_info.query_string": req.Text,
		"query_info.uid":          req.ID,
		"database.name":           "orders",
		"dst_endpoint.svc_name":   "orders",
		"actor.user.uid":          "alice-oid",
		"actor.session.uid":       sess,
		"src_endpoint.ip":         "10.1.2.3",
		"disposition":             "Allowed",
		"action":                  "Allowed",
		"policy.name":             "agents-orders",
		"activity_name":           "Query",
		"type_name":               "Datastore Activity: Query",
		"unmapped.request_id":     req.ID,
		"unmapped.rule":           "rule 1",
		"unmapped.fingerprint":    req.Fingerprint,
	} {
		if got := str(m, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if got := num(t, m, "src_endpoint.port"); got != 54321 {
		t.Errorf("src_endpoint.port = %d, want 54321", got)
	}
	if g, _ := get(m, "actor.user.groups").([]any); len(g) != 1 || get(g[0].(obj), "name") != "ai-agents" {
		t.Errorf("actor.user.groups = %v, want [{name: ai-agents}]", get(m, "actor.user.groups"))
	}
	if c, _ := get(m, "unmapped.classes").([]any); len(c) != 1 || c[0] != "read" {
		t.Errorf("unmapped.classes = %v, want [read]", get(m, "unmapped.classes"))
	}

	deny := fixtureNamed(t, "sql_request_deny")
	m, _ = mapEvent(t, deny.rec)
	for path, want := range map[string]string{
		"disposition":   "Blocked",
		"action":        "Denied",
		"status":        "Failure",
		"status_detail": "schema changes go through migrations",
		"severity":      "High",
	} {
		if got := str(m, path); got != want {
			t.Errorf("deny: %s = %q, want %q", path, got, want)
		}
	}
	if !strings.Contains(str(m, "message"), "denied") {
		t.Errorf("deny: message %q does not say denied", str(m, "message"))
	}

	held := fixtureNamed(t, "sql_request_review")
	m, _ = mapEvent(t, held.rec)
	if str(m, "status") != "Pending" || str(m, "disposition") != "Delayed" || str(m, "unmapped.review_id") != "rv-42" {
		t.Errorf("held: status %q, disposition %q, review %q; want Pending, Delayed, rv-42",
			str(m, "status"), str(m, "disposition"), str(m, "unmapped.review_id"))
	}

	fail := fixtureNamed(t, "sql_result_error")
	m, _ = mapEvent(t, fail.rec)
	if str(m, "status_code") != "42P01" || !strings.Contains(str(m, "status_detail"), "does not exist") {
		t.Errorf("error result: status_code %q, status_detail %q", str(m, "status_code"), str(m, "status_detail"))
	}
	if num(t, m, "duration") != 0 {
		t.Errorf("error result: duration = %d ms, want 0", num(t, m, "duration"))
	}

	ok := fixtureNamed(t, "sql_result_ok")
	m, _ = mapEvent(t, ok.rec)
	if num(t, m, "duration") != 12 || str(m, "status_detail") != "UPDATE 1" || num(t, m, "unmapped.masked.email") != 2 {
		t.Errorf("ok result: duration %d, status_detail %q, masked %v", num(t, m, "duration"), str(m, "status_detail"),
			get(m, "unmapped.masked"))
	}
}

func TestAPIValues(t *testing.T) {
	m, _ := mapEvent(t, fixtureNamed(t, "http_request").rec)
	for path, want := range map[string]string{
		"api.operation":                 "GET",
		"api.service.name":              "things",
		"api.request.uid":               sess + "/5",
		"http_request.http_method":      "GET",
		"http_request.url.url_string":   "https://api.things.example/v1/things?limit=5",
		"http_request.url.hostname":     "api.things.example",
		"http_request.url.path":         "/v1/things",
		"http_request.url.query_string": "limit=5",
		"http_request.user_agent":       "claude-code/2.0",
		"dst_endpoint.hostname":         "api.things.example",
		"dst_endpoint.svc_name":         "things",
		"src_endpoint.ip":               "2001:db8::7",
		"actor.user.uid":                "alice-oid",
	} {
		if got := str(m, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if num(t, m, "http_request.body_length") != 17 {
		t.Errorf("http_request.body_length = %d, want 17", num(t, m, "http_request.body_length"))
	}

	m, _ = mapEvent(t, fixtureNamed(t, "http_result").rec)
	if num(t, m, "http_response.code") != 200 || num(t, m, "api.response.code") != 200 || num(t, m, "duration") != 180 {
		t.Errorf("result: http_response.code %d, api.response.code %d, duration %d",
			num(t, m, "http_response.code"), num(t, m, "api.response.code"), num(t, m, "duration"))
	}
	if str(m, "http_response.content_type") != "application/json" {
		t.Errorf("http_response.content_type = %q", str(m, "http_response.content_type"))
	}

	m, _ = mapEvent(t, fixtureNamed(t, "http_result_failed").rec)
	if str(m, "status_code") != "503" || str(m, "api.response.error") != "503" || num(t, m, "dst_endpoint.port") != 8443 {
		t.Errorf("failed result: status_code %q, api.response.error %q, dst port %d",
			str(m, "status_code"), str(m, "api.response.error"), num(t, m, "dst_endpoint.port"))
	}

	m, _ = mapEvent(t, fixtureNamed(t, "mcp_tool_call").rec)
	if str(m, "api.operation") != "drop_index" || get(m, "http_request") != nil || str(m, "disposition") != "Blocked" {
		t.Errorf("tool call: operation %q, http_request %v, disposition %q",
			str(m, "api.operation"), get(m, "http_request"), str(m, "disposition"))
	}
	if str(m, "unmapped.text") != fixtureNamed(t, "mcp_tool_call").rec.Event.Request.Text {
		t.Errorf("tool call: unmapped.text = %q", str(m, "unmapped.text"))
	}
}

func TestAuthenticationValues(t *testing.T) {
	m, _ := mapEvent(t, fixtureNamed(t, "session_start").rec)
	for path, want := range map[string]string{
		"user.uid":              "alice-oid",
		"user.name":             "alice@example.com",
		"user.credential_uid":   "jti-123",
		"actor.app_name":        "claude-code",
		"session.uid":           sess,
		"session.issuer":        "https://login.example.com/v2.0",
		"auth_protocol":         "OpenID",
		"logon_type":            "Network",
		"dst_endpoint.svc_name": "orders",
		"src_endpoint.ip":       "10.1.2.3",
		"service.name":          "sluice",
		"status":                "Success",
		"unmapped.protocol":     "pgwire",
	} {
		if got := str(m, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if num(t, m, "auth_protocol_id") != 4 || get(m, "is_remote") != true {
		t.Errorf("auth_protocol_id %d, is_remote %v", num(t, m, "auth_protocol_id"), get(m, "is_remote"))
	}
	if num(t, m, "session.expiration_time") != t0.Add(time.Hour).UnixMilli() {
		t.Errorf("session.expiration_time = %d", num(t, m, "session.expiration_time"))
	}

	m, _ = mapEvent(t, fixtureNamed(t, "auth_failure").rec)
	if str(m, "status_detail") != "token expired" || str(m, "user.name") != "unknown" || num(t, m, "auth_protocol_id") != 0 {
		t.Errorf("failure: status_detail %q, user %v, auth_protocol_id %d",
			str(m, "status_detail"), get(m, "user"), num(t, m, "auth_protocol_id"))
	}
	if get(m, "session") != nil {
		t.Errorf("failure has a session: %v", get(m, "session"))
	}

	m, _ = mapEvent(t, fixtureNamed(t, "session_end").rec)
	if str(m, "activity_name") != "Logoff" || str(m, "session.uid") != sess || str(m, "status_detail") != sluice.EndClient {
		t.Errorf("end: activity %q, session %q, detail %q", str(m, "activity_name"), str(m, "session.uid"), str(m, "status_detail"))
	}
}

func TestReviewValues(t *testing.T) {
	m, _ := mapEvent(t, fixtureNamed(t, "review_created").rec)
	for path, want := range map[string]string{
		"api.operation":          "review.created",
		"actor.user.uid":         "alice-oid",
		"actor.session.uid":      sess,
		"src_endpoint.ip":        "10.1.2.3",
		"dst_endpoint.svc_name":  "orders",
		"policy.name":            "agents-orders",
		"unmapped.review_id":     "rv-42",
		"unmapped.review_status": "pending",
		"unmapped.rule":          "rule 2",
		"unmapped.statement":     heldReview(sluice.ReviewPending).Request.Text,
	} {
		if got := str(m, path); got != want {
			t.Errorf("created: %s = %q, want %q", path, got, want)
		}
	}
	if r, _ := get(m, "resources").([]any); len(r) != 1 || get(r[0].(obj), "uid") != "rv-42" {
		t.Errorf("created: resources = %v", get(m, "resources"))
	}

	m, _ = mapEvent(t, fixtureNamed(t, "review_approved").rec)
	for path, want := range map[string]string{
		"api.operation":     "review.approved",
		"actor.user.uid":    "bob-oid",
		"actor.app_name":    "slack",
		"src_endpoint.name": "slack",
		"disposition":       "Approved",
		"status_detail":     "approved by bob-oid via slack",
	} {
		if got := str(m, path); got != want {
			t.Errorf("approved: %s = %q, want %q", path, got, want)
		}
	}
	if num(t, m, "unmapped.approvals") != 1 {
		t.Errorf("approved: unmapped.approvals = %v", get(m, "unmapped.approvals"))
	}
}

// TestEventSparse maps records with nothing but their type (and no type at
// all): Event must not fail and must still give a well-formed event.
func TestEventSparse(t *testing.T) {
	types := []sluice.EventType{"", sluice.EventSessionStart, sluice.EventSessionEnd, sluice.EventAuthFailure,
		sluice.EventRequest, sluice.EventDecision, sluice.EventResult, sluice.EventReview, "something_new"}
	for _, typ := range types {
		t.Run(string(typ), func(t *testing.T) {
			for _, rec := range []*journal.Record{
				{Event: sluice.Event{Type: typ}},
				{Seq: 7, Time: t0, Event: sluice.Event{Type: typ}},
				{Seq: 8, Time: t0, Event: sluice.Event{Type: typ, Request: &sluice.Request{}, Decision: &sluice.Decision{},
					Result: &sluice.Result{}, Review: &sluice.Review{}, Identity: &sluice.Identity{}}},
				{Seq: 9, Event: sluice.Event{Type: typ, Request: &sluice.Request{Kind: sluice.KindHTTP}, Result: &sluice.Result{HTTP: &sluice.HTTPResult{}}}},
				{Seq: 10, Event: sluice.Event{Type: typ, Request: &sluice.Request{Kind: sluice.KindTool}}},
			} {
				m, _ := mapEvent(t, rec)
				requireAttrs(t, m, rec)
			}
		})
	}
}

func TestEventZeroRecord(t *testing.T) {
	m, _ := mapEvent(t, &journal.Record{})
	requireAttrs(t, m, &journal.Record{})
	if num(t, m, "class_uid") != 0 || num(t, m, "activity_id") != 0 || num(t, m, "type_uid") != 0 {
		t.Errorf("zero record: class %d activity %d type %d, want a Base Event of unknown activity",
			num(t, m, "class_uid"), num(t, m, "activity_id"), num(t, m, "type_uid"))
	}
	if str(m, "metadata.uid") != "journal:0" {
		t.Errorf("zero record: metadata.uid = %q", str(m, "metadata.uid"))
	}
	if _, err := Event(nil, prod); err == nil {
		t.Error("Event(nil) succeeded")
	}
	if _, err := Raw(nil); err == nil {
		t.Error("Raw(nil) succeeded")
	}
}

// TestEventZeroProduct checks the product defaults.
func TestEventZeroProduct(t *testing.T) {
	b, err := Event(fixtureNamed(t, "session_end").rec, Product{})
	if err != nil {
		t.Fatal(err)
	}
	var m obj
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if str(m, "metadata.product.name") != "sluice" || str(m, "metadata.product.vendor_name") != "sluice" {
		t.Errorf("metadata.product = %v, want sluice by sluice", get(m, "metadata.product"))
	}
}

// TestEventKeepsText checks that the statement reaches the event exactly,
// whatever it holds.
func TestEventKeepsText(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"SELECT '<b>' || $1 & 1 FROM t WHERE a <> b", ""},
		{"SELECT 1;\n-- comment\nDELETE FROM t", ""},
		{"SELECT '\x00\u2028\"\\'", ""},
		{"SELECT '\xff\xfe'", "SELECT '\uFFFD\uFFFD'"}, // invalid UTF-8 is replaced, not an error
	} {
		rec := record(5, 0, sluice.Event{Type: sluice.EventRequest, Request: sqlRequest(1, sluice.ClassRead, c.text),
			Decision: &sluice.Decision{Action: sluice.ActionAllow}})
		m, b := mapEvent(t, rec)
		want := c.want
		if want == "" {
			want = c.text
		}
		if got := str(m, "query_info.query_string"); got != want {
			t.Errorf("query_string = %q, want %q", got, want)
		}
		if bytes.Contains(b, []byte(`\u003c`)) {
			t.Errorf("output escapes < as \\u003c: %s", b)
		}
	}
}

func TestRawRoundTrip(t *testing.T) {
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			b, err := Raw(f.rec)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(b) || bytes.HasSuffix(b, []byte("\n")) {
				t.Fatalf("Raw returned %q", b)
			}
			var got struct {
				Seq   uint64       `json:"seq"`
				Time  time.Time    `json:"time"`
				Event sluice.Event `json:"event"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.Seq != f.rec.Seq || !got.Time.Equal(f.rec.Time) {
				t.Errorf("seq %d time %v, want %d %v", got.Seq, got.Time, f.rec.Seq, f.rec.Time)
			}
			if !reflect.DeepEqual(got.Event, f.rec.Event) {
				a, _ := json.Marshal(got.Event)
				w, _ := json.Marshal(f.rec.Event)
				t.Errorf("event did not round-trip:\n got %s\nwant %s", a, w)
			}
		})
	}
}
