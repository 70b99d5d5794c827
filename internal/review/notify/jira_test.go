package notify

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// jiraAPI is a fake Jira Cloud REST API v3 that checks every call: Basic
// auth with the email and API token, JSON, paths under /rest/api/3/issue.
func jiraAPI(t *testing.T) *fake {
	return newFake(t, func(t *testing.T, s seen) {
		wantHeader(t, s, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(testJiraEmail+":"+testJiraToken)))
		wantHeader(t, s, "Accept", "application/json")
		if s.Method != http.MethodGet {
			wantContentTypeJSON(t, s)
		} else if len(s.Body) != 0 {
			t.Errorf("jira: GET with a body")
		}
		if !strings.HasPrefix(s.Path, "/rest/api/3/issue") {
			t.Errorf("jira: path %s", s.Path)
		}
	})
}

func newTestJira(t *testing.T, base string, mutate ...func(*JiraConfig)) *Jira {
	t.Helper()
	cfg := JiraConfig{
		URL: base, Email: testJiraEmail, APIToken: testJiraToken, Project: "OPS", WebhookSecret: testJiraHook,
		Labels: []string{"sluice"}, ApproveStatus: "Approved", DenyStatus: "Rejected",
		Users: map[string]string{"5b10ac8d82e05b22cc7d4ef5": "alice"}, HTTP: fastHTTP,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	j, err := NewJira(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// adfNodes returns every node of an ADF document with the given type.
func adfNodes(v any, typ string) []map[string]any {
	var out []map[string]any
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["type"] == typ {
				out = append(out, v)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return out
}

func TestJiraOpenedCreatesIssue(t *testing.T) {
	f := jiraAPI(t)
	f.on("POST /rest/api/3/issue", jsonAnswer(201, map[string]any{"id": "10001", "key": "OPS-7", "self": "x"}))
	j := newTestJira(t, f.url())
	r := sampleReview()
	r.Request.Text = "DELETE FROM orders\n-- ``` {code} <b>"
	ref, err := j.Opened(context.Background(), r, Links{Review: "https://sluice.example/reviews/rv_42", CLI: "sluice reviews approve rv_42 --reason ..."})
	if err != nil {
		t.Fatal(err)
	}
	if ref != "OPS-7" {
		t.Errorf("ref = %q", ref)
	}
	s := f.next(t)
	m := s.JSON(t)
	fields, _ := m["fields"].(map[string]any)
	if path(fields, "project", "key") != "OPS" || path(fields, "issuetype", "name") != "Task" {
		t.Errorf("project/type: %s", s.Body)
	}
	if summary, _ := fields["summary"].(string); !strings.HasPrefix(summary, "[sluice rv_42] ") {
		t.Errorf("summary = %q", summary)
	}
	if labels, _ := fields["labels"].([]any); len(labels) != 1 || labels[0] != "sluice" {
		t.Errorf("labels = %v", fields["labels"])
	}
	desc := fields["description"]
	if path(desc, "type") != "doc" || path(desc, "version") != float64(1) {
		t.Errorf("description is not an ADF doc: %v", desc)
	}
	code := adfNodes(desc, "codeBlock")
	if len(code) != 1 || path(code[0], "content", 0, "text") != r.Request.Text || path(code[0], "attrs", "language") != "sql" {
		t.Errorf("codeBlock = %v", code)
	}
	for _, n := range adfNodes(desc, "text") {
		if n["text"] == "" {
			t.Error("empty ADF text node")
		}
	}
	all := allText(desc)
	for _, w := range []string{"agent-7", "1200", "/approve <reason>", "Approved", "Rejected", "sluice reviews approve rv_42"} {
		if !strings.Contains(all, w) {
			t.Errorf("description lacks %q", w)
		}
	}
	if !strings.Contains(string(s.Body), `"href":"https://sluice.example/reviews/rv_42"`) {
		t.Error("description lacks the console link")
	}
}

func TestJiraClosedComments(t *testing.T) {
	f := jiraAPI(t)
	f.on("POST /rest/api/3/issue/OPS-7/comment", jsonAnswer(201, map[string]any{"id": "1"}))
	j := newTestJira(t, f.url())
	if err := j.Closed(context.Background(), decided(sluice.ReviewDenied, false), "OPS-7"); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("calls = %d, want just the comment", len(reqs))
	}
	body := reqs[0].JSON(t)["body"]
	if path(body, "type") != "doc" || !strings.Contains(allText(body), "Denied") || !strings.Contains(allText(body), "denied by alice via slack") {
		t.Errorf("comment = %s", reqs[0].Body)
	}
}

func TestJiraClosedTransitions(t *testing.T) {
	f := jiraAPI(t)
	f.on("POST /rest/api/3/issue/OPS-7/comment", jsonAnswer(201, map[string]any{"id": "1"}))
	f.on("GET /rest/api/3/issue/OPS-7/transitions", jsonAnswer(200, map[string]any{"transitions": []any{
		map[string]any{"id": "11", "name": "Start", "to": map[string]any{"name": "In Progress"}},
		map[string]any{"id": "31", "name": "Done", "to": map[string]any{"name": "Closed"}},
	}}))
	f.on("POST /rest/api/3/issue/OPS-7/transitions", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	j := newTestJira(t, f.url(), func(c *JiraConfig) { c.DoneTransition = "done" })
	if err := j.Closed(context.Background(), decided(sluice.ReviewExecuted, true), "OPS-7"); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 3 || reqs[1].Method != http.MethodGet || reqs[2].Method != http.MethodPost {
		t.Fatalf("calls: %v", reqs)
	}
	if id := path(reqs[2].JSON(t), "transition", "id"); id != "31" {
		t.Errorf("transition id = %v", id)
	}
}

func TestJiraClosedRefusesDecidingTransition(t *testing.T) {
	f := jiraAPI(t)
	f.on("POST /rest/api/3/issue/OPS-7/comment", jsonAnswer(201, map[string]any{"id": "1"}))
	f.on("GET /rest/api/3/issue/OPS-7/transitions", jsonAnswer(200, map[string]any{"transitions": []any{
		map[string]any{"id": "41", "name": "Approve", "to": map[string]any{"name": "Approved"}},
	}}))
	j := newTestJira(t, f.url(), func(c *JiraConfig) { c.DoneTransition = "Approve" })
	err := j.Closed(context.Background(), decided(sluice.ReviewApproved, true), "OPS-7")
	if err == nil || !strings.Contains(err.Error(), "decides reviews") {
		t.Errorf("err = %v", err)
	}
	j = newTestJira(t, f.url(), func(c *JiraConfig) { c.DoneTransition = "Missing" })
	if err := j.Closed(context.Background(), decided(sluice.ReviewApproved, true), "OPS-7"); err == nil || !strings.Contains(err.Error(), "not available") {
		t.Errorf("err = %v", err)
	}
}

func TestJiraErrorDetail(t *testing.T) {
	f := jiraAPI(t)
	f.on("POST /rest/api/3/issue", jsonAnswer(400, map[string]any{"errorMessages": []any{}, "errors": map[string]any{
		"project": "project is required", "issuetype": "valid issue type is required"}}))
	j := newTestJira(t, f.url())
	_, err := j.Opened(context.Background(), sampleReview(), Links{})
	if err == nil || !strings.Contains(err.Error(), "HTTP 400: issuetype: valid issue type is required; project: project is required") {
		t.Errorf("err = %v", err)
	}
}

func TestNewJiraValidates(t *testing.T) {
	base := JiraConfig{URL: "https://x.atlassian.net", Email: "e", APIToken: "t", Project: "OPS", WebhookSecret: "s"}
	if j, err := NewJira(base, nil); err != nil || j.issueType != "Task" {
		t.Fatalf("minimal config: %v", err)
	}
	for name, m := range map[string]func(*JiraConfig){
		"no url":        func(c *JiraConfig) { c.URL = "" },
		"no token":      func(c *JiraConfig) { c.APIToken = "" },
		"no email":      func(c *JiraConfig) { c.Email = "" },
		"no secret":     func(c *JiraConfig) { c.WebhookSecret = "" },
		"bad project":   func(c *JiraConfig) { c.Project = "ops team" },
		"same statuses": func(c *JiraConfig) { c.ApproveStatus, c.DenyStatus = "Done", "done" },
		"label space":   func(c *JiraConfig) { c.Labels = []string{"needs approval"} },
	} {
		cfg := base
		m(&cfg)
		if _, err := NewJira(cfg, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
