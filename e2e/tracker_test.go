package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGitHub is a GitHub REST API for one repository that checks every call.
type fakeGitHub struct {
	t        *testing.T
	mu       sync.Mutex
	issue    map[string]any // the issue sluice opened
	comments []string
	closed   string // state_reason
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := r.Header.Get("Authorization"); got != "Bearer gh-test-token" {
		f.t.Errorf("GitHub call %s %s with Authorization %q", r.Method, r.URL.Path, got)
		http.Error(w, "bad credentials", 401)
		return
	}
	if r.Header.Get("X-GitHub-Api-Version") == "" || !strings.Contains(r.Header.Get("Accept"), "github") {
		f.t.Errorf("GitHub call without API version headers: %v", r.Header)
	}
	body, _ := io.ReadAll(r.Body)
	var m map[string]any
	json.Unmarshal(body, &m)
	switch {
	case r.Method == "POST" && r.URL.Path == "/repos/acme/db/issues":
		f.issue = m
		w.WriteHeader(201)
		fmt.Fprint(w, `{"number": 7, "html_url": "https://github.example/acme/db/issues/7"}`)
	case r.Method == "POST" && r.URL.Path == "/repos/acme/db/issues/7/comments":
		f.comments = append(f.comments, fmt.Sprint(m["body"]))
		w.WriteHeader(201)
		fmt.Fprint(w, `{"id": 1}`)
	case r.Method == "PATCH" && r.URL.Path == "/repos/acme/db/issues/7":
		if m["state"] != "closed" {
			f.t.Errorf("PATCH issue with %v", m)
		}
		f.closed = fmt.Sprint(m["state_reason"])
		fmt.Fprint(w, `{"number": 7}`)
	default:
		f.t.Errorf("unexpected GitHub call %s %s", r.Method, r.URL.Path)
		http.Error(w, "not found", 404)
	}
}

func (f *fakeGitHub) snapshot() (map[string]any, []string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issue, append([]string(nil), f.comments...), f.closed
}

// TestReviewDecidedOnGitHubIssue holds a statement, checks the GitHub issue
// sluice opens, approves it with a signed /approve comment delivered to the
// gateway's hook, and checks that psql gets its result and the issue is
// closed with the outcome.
func TestReviewDecidedOnGitHubIssue(t *testing.T) {
	t.Parallel()
	gh := &fakeGitHub{t: t}
	api := httptest.NewServer(gh)
	defer api.Close()
	pg, db := newDatabase(t)
	role := pg.SCRAMUser()
	const secret = "gh-hook-secret"
	cfg := newConfig(t,
		[]connSpec{{Name: "orders", Address: pg.Addr(), Database: db, User: role.Name, Password: role.Password}},
		[]policySpec{{Name: "agents", Subjects: []string{"group:ai-agents"}, Connections: []string{"orders"}, Rules: []ruleSpec{
			{When: "destructive || where_missing", Action: "review", Approvers: []string{"group:dba"}, Wait: "60s"},
			{When: "true", Action: "allow"},
		}}},
		func(fc *fileConfig) {
			fc.Reviews.Groups = map[string][]string{"dba": {"alice"}}
			fc.Reviews.Notify = []map[string]any{{"type": "github", "api": api.URL, "repo": "acme/db",
				"token": "gh-test-token", "secret": secret, "labels": []string{"sluice"},
				"users": map[string]string{"octo-alice": "alice", "octo-agent": "agent-7"}}}
		})
	g := startGateway(t, cfg)
	agent := cfg.issue("agent-7", "ai-agents")
	conn := connect(t, g.pgAddr, "orders", agent)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "create table orders(id int); insert into orders values (1), (2)"); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := conn.Exec(ctx, "DELETE FROM orders"); errc <- err }()

	var issue map[string]any
	waitUntil(t, 15*time.Second, "the GitHub issue", func() bool { issue, _, _ = gh.snapshot(); return issue != nil })
	body := fmt.Sprint(issue["body"])
	if !strings.Contains(body, "DELETE FROM orders") || !strings.Contains(body, "agent-7") || !strings.Contains(fmt.Sprint(issue["labels"]), "sluice") {
		t.Fatalf("issue: %v", issue)
	}
	marker := strings.SplitN(strings.SplitN(body, "sluice-review: ", 2)[1], " ", 2)[0]

	hook := func(login, comment string) int {
		t.Helper()
		ev, _ := json.Marshal(map[string]any{"action": "created",
			"issue":      map[string]any{"number": 7, "body": body},
			"comment":    map[string]any{"body": comment, "user": map[string]any{"login": login}},
			"sender":     map[string]any{"login": login},
			"repository": map[string]any{"full_name": "acme/db"}})
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(ev)
		req, _ := http.NewRequest("POST", "http://"+g.httpAddr+"/hooks/github", bytes.NewReader(ev))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "issue_comment")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// A forged delivery is refused; the requester cannot approve their own.
	req, _ := http.NewRequest("POST", "http://"+g.httpAddr+"/hooks/github", strings.NewReader(`{}`))
	req.Header.Set("X-GitHub-Event", "issue_comment")
	req.Header.Set("X-Hub-Signature-256", "sha256=00")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("forged delivery: %v %v", resp, err)
	}
	hook("octo-agent", "/approve trust me") // decided synchronously: refused
	aliceTok := cfg.issue("alice", "dba")
	r := runSluice(t, []string{"SLUICE_TOKEN=" + aliceTok, "SLUICE_SERVER=http://" + g.httpAddr}, "reviews", "show", marker, "--json")
	var rv struct {
		Status    string
		Decisions []any
	}
	if err := json.Unmarshal([]byte(r.stdout), &rv); err != nil || rv.Status != "pending" || len(rv.Decisions) != 0 {
		t.Fatalf("after the requester's own /approve: %s %s (%v)", r.stdout, r.stderr, err)
	}
	if code := hook("octo-alice", "/approve looks fine"); code >= 300 {
		t.Fatalf("approval hook answered %d", code)
	}
	if err := <-errc; err != nil {
		t.Fatalf("DELETE after the GitHub approval: %v", err)
	}
	waitUntil(t, 15*time.Second, "the issue to be closed", func() bool { _, _, c := gh.snapshot(); return c != "" })
	_, comments, reason := gh.snapshot()
	all := strings.Join(comments, "\n")
	if reason != "completed" || !strings.Contains(all, "alice") || !strings.Contains(all, "own review") {
		t.Fatalf("issue closed %q with comments:\n%s", reason, all)
	}
	t.Logf("review %s decided on GitHub; comments:\n%s", marker, all)
}
