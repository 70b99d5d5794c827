package notify

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// githubAPI is a fake GitHub REST API that checks every call: the token,
// the media type and API version, a User-Agent, JSON bodies, and paths
// under the configured repository.
func githubAPI(t *testing.T) *fake {
	return newFake(t, func(t *testing.T, s seen) {
		wantHeader(t, s, "Authorization", "Bearer "+testGitHubToken)
		wantHeader(t, s, "Accept", "application/vnd.github+json")
		wantHeader(t, s, "X-GitHub-Api-Version", "2022-11-28")
		if s.Header.Get("User-Agent") == "" {
			t.Error("github: no User-Agent")
		}
		wantContentTypeJSON(t, s)
		if !strings.HasPrefix(s.Path, "/repos/acme/ops/issues") {
			t.Errorf("github: path %s", s.Path)
		}
	})
}

func newTestGitHub(t *testing.T, api string, mutate ...func(*GitHubConfig)) *GitHub {
	t.Helper()
	cfg := GitHubConfig{
		API: api, Repo: "acme/ops", Token: testGitHubToken, WebhookSecret: testGitHubHook,
		Labels: []string{"sluice", "needs-approval"}, Users: map[string]string{"Alice-GH": "alice"}, HTTP: fastHTTP,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	g, err := NewGitHub(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// fencedBlock returns the content of the first fenced code block of md and
// its info string, following CommonMark: the block ends at the first line
// that is only a run of at least as many backticks as the opening fence.
func fencedBlock(t *testing.T, md string) (info, content string) {
	t.Helper()
	lines := strings.Split(md, "\n")
	for i, l := range lines {
		n := longestRun(l, '`')
		if n < 3 || !strings.HasPrefix(l, strings.Repeat("`", n)) {
			continue
		}
		info = l[n:]
		for j := i + 1; j < len(lines); j++ {
			c := strings.TrimSpace(lines[j])
			if len(c) >= n && strings.Trim(c, "`") == "" {
				return info, strings.Join(lines[i+1:j], "\n")
			}
		}
		t.Fatalf("fence opened on line %d is never closed", i)
	}
	t.Fatal("no fenced block")
	return "", ""
}

func TestGitHubOpenedCreatesIssue(t *testing.T) {
	f := githubAPI(t)
	f.on("POST /repos/acme/ops/issues", jsonAnswer(201, map[string]any{"number": 17, "html_url": "https://github.com/acme/ops/issues/17"}))
	g := newTestGitHub(t, f.url())
	r := sampleReview()
	r.Request.Text = "UPDATE t SET note = '\n```\n@everyone [x](https://evil)\n````' WHERE id = 1"
	r.Request.Subject = "agent`7 @octocat"
	ref, err := g.Opened(context.Background(), r, Links{Review: "https://sluice.example/reviews/rv_42", CLI: "sluice reviews approve rv_42 --reason ..."})
	if err != nil {
		t.Fatal(err)
	}
	if ref != "17" {
		t.Errorf("ref = %q", ref)
	}
	s := f.next(t)
	if s.Method != http.MethodPost {
		t.Errorf("method %s", s.Method)
	}
	m := s.JSON(t)
	if title, _ := m["title"].(string); !strings.HasPrefix(title, "[sluice rv_42] write, destructive statement on orders") {
		t.Errorf("title = %q", title)
	}
	labels, _ := m["labels"].([]any)
	if len(labels) != 2 || labels[0] != "sluice" || labels[1] != "needs-approval" {
		t.Errorf("labels = %v", m["labels"])
	}
	body, _ := m["body"].(string)
	if id, ok := reviewFromIssueBody(body); !ok || id != "rv_42" {
		t.Errorf("body marker: %q %v", id, ok)
	}
	info, stmt := fencedBlock(t, body)
	if info != "sql" || stmt != r.Request.Text {
		t.Errorf("fenced statement (%q) = %q, want %q", info, stmt, r.Request.Text)
	}
	for _, w := range []string{"1200", "group:dba", "/approve <reason>", "sluice:approve", "sluice:deny",
		"sluice reviews approve rv_42", "(<https://sluice.example/reviews/rv_42>)", "DELETE without WHERE"} {
		if !strings.Contains(body, w) {
			t.Errorf("body lacks %q:\n%s", w, body)
		}
	}
	if !strings.Contains(body, "``agent`7 @octocat``") {
		t.Errorf("requester not safely code-spanned:\n%s", body)
	}
}

func TestGitHubClosed(t *testing.T) {
	tests := []struct {
		r      *sluice.Review
		reason string
	}{
		{decided(sluice.ReviewApproved, true), "completed"},
		{decided(sluice.ReviewExecuted, true), "completed"},
		{decided(sluice.ReviewDenied, false), "not_planned"},
		{decided(sluice.ReviewExpired, false), "not_planned"},
	}
	for _, tt := range tests {
		t.Run(string(tt.r.Status), func(t *testing.T) {
			f := githubAPI(t)
			f.on("POST /repos/acme/ops/issues/17/comments", jsonAnswer(201, map[string]any{"id": 1}))
			f.on("PATCH /repos/acme/ops/issues/17", jsonAnswer(200, map[string]any{"number": 17}))
			g := newTestGitHub(t, f.url())
			if err := g.Closed(context.Background(), tt.r, "17"); err != nil {
				t.Fatal(err)
			}
			reqs := f.requests()
			if len(reqs) != 2 {
				t.Fatalf("calls = %d, want comment and close", len(reqs))
			}
			comment, _ := reqs[0].JSON(t)["body"].(string)
			if reqs[0].Method != http.MethodPost || !strings.Contains(comment, "rv_42") || !strings.Contains(comment, "by alice via slack") {
				t.Errorf("comment %s: %q", reqs[0].Method, comment)
			}
			m := reqs[1].JSON(t)
			if reqs[1].Method != http.MethodPatch || m["state"] != "closed" || m["state_reason"] != tt.reason {
				t.Errorf("close: %s %s", reqs[1].Method, reqs[1].Body)
			}
		})
	}
}

func TestGitHubClosedStopsWhenCommentFails(t *testing.T) {
	f := githubAPI(t)
	f.on("POST /repos/acme/ops/issues/17/comments", jsonAnswer(404, map[string]any{"message": "Not Found"}))
	g := newTestGitHub(t, f.url())
	err := g.Closed(context.Background(), decided(sluice.ReviewApproved, true), "17")
	if err == nil || !strings.Contains(err.Error(), "HTTP 404: Not Found") {
		t.Fatalf("err = %v", err)
	}
	if len(f.requests()) != 1 {
		t.Error("a 404 was retried, or the issue was closed anyway")
	}
	if err := g.Closed(context.Background(), decided(sluice.ReviewApproved, true), "x"); err == nil {
		t.Error("malformed ref accepted")
	}
}

func TestNewGitHubValidates(t *testing.T) {
	base := GitHubConfig{Repo: "a/b", Token: "t", WebhookSecret: "s"}
	g, err := NewGitHub(base, nil)
	if err != nil || g.Name() != "github" || g.approveLabel != "sluice:approve" {
		t.Fatalf("minimal config: %v", err)
	}
	for name, m := range map[string]func(*GitHubConfig){
		"no repo":     func(c *GitHubConfig) { c.Repo = "" },
		"bad repo":    func(c *GitHubConfig) { c.Repo = "a/b/c" },
		"no token":    func(c *GitHubConfig) { c.Token = "" },
		"no secret":   func(c *GitHubConfig) { c.WebhookSecret = "" },
		"same labels": func(c *GitHubConfig) { c.ApproveLabel, c.DenyLabel = "ok", "OK" },
		"long label":  func(c *GitHubConfig) { c.Labels = []string{strings.Repeat("x", 51)} },
		"http api":    func(c *GitHubConfig) { c.API = "http://github.example.com" },
	} {
		cfg := base
		m(&cfg)
		if _, err := NewGitHub(cfg, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
