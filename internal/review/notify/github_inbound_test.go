package notify

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

const sluiceIssueBody = "<!-- sluice-review: rv_42 -->\n### Approval needed: review `rv_42`\n"

// githubDelivery builds a signed webhook delivery.
func githubDelivery(t *testing.T, secret, event string, payload map[string]any) (http.Header, []byte) {
	t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	h.Set("X-Hub-Signature-256", "sha256="+hmacHex([]byte(secret), body))
	return h, body
}

func commentEvent(login, text, issueBody string) map[string]any {
	return map[string]any{
		"action":     "created",
		"issue":      map[string]any{"number": 17, "title": "[sluice rv_42] x", "body": issueBody},
		"comment":    map[string]any{"body": text, "user": map[string]any{"login": login}},
		"sender":     map[string]any{"login": login},
		"repository": map[string]any{"full_name": "acme/ops"},
	}
}

func labelEvent(login, label string) map[string]any {
	return map[string]any{
		"action":     "labeled",
		"issue":      map[string]any{"number": 17, "body": sluiceIssueBody},
		"label":      map[string]any{"name": label},
		"sender":     map[string]any{"login": login},
		"repository": map[string]any{"full_name": "acme/ops"},
	}
}

// githubComments is a fake API that accepts comments on issue 17.
func githubComments(t *testing.T) *fake {
	f := githubAPI(t)
	f.on("POST /repos/acme/ops/issues/17/comments", jsonAnswer(201, map[string]any{"id": 1}))
	return f
}

func TestGitHubCommentApproves(t *testing.T) {
	f := githubComments(t)
	g := newTestGitHub(t, f.url())
	d := newDecider()
	h, body := githubDelivery(t, testGitHubHook, "issue_comment", commentEvent("alice-gh", "/approve looks fine\nmore text", sluiceIssueBody))
	rec := post(g.Handler(d), h, body)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	got := waitDecision(t, d)
	if want := (decideCall{"rv_42", "alice", true, "looks fine", "github"}); got != want {
		t.Errorf("Decide(%+v), want %+v", got, want)
	}
	ack, _ := f.next(t).JSON(t)["body"].(string)
	if !strings.Contains(ack, "@alice-gh") || !strings.Contains(ack, "review rv_42 is now approved") {
		t.Errorf("ack = %q", ack)
	}
}

func TestGitHubCommentOnPendingReviewIsAcknowledged(t *testing.T) {
	f := githubComments(t)
	g := newTestGitHub(t, f.url())
	d := newDecider()
	d.status = sluice.ReviewPending
	h, body := githubDelivery(t, testGitHubHook, "issue_comment", commentEvent("alice-gh", "/DENY", sluiceIssueBody))
	post(g.Handler(d), h, body)
	got := waitDecision(t, d)
	if got.Approve || got.Reason != "denied on GitHub by alice-gh" {
		t.Errorf("Decide(%+v)", got)
	}
	comment, _ := f.next(t).JSON(t)["body"].(string)
	if !strings.Contains(comment, "@alice-gh") || !strings.Contains(comment, "denial") {
		t.Errorf("ack = %q", comment)
	}
}

func TestGitHubLabelDecides(t *testing.T) {
	for _, tt := range []struct {
		label   string
		approve bool
	}{{"sluice:approve", true}, {"Sluice:Deny", false}} {
		t.Run(tt.label, func(t *testing.T) {
			g := newTestGitHub(t, githubComments(t).url())
			d := newDecider()
			h, body := githubDelivery(t, testGitHubHook, "issues", labelEvent("Alice-GH", tt.label))
			if rec := post(g.Handler(d), h, body); rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			got := waitDecision(t, d)
			if got.ReviewID != "rv_42" || got.Subject != "alice" || got.Approve != tt.approve || got.Via != "github" ||
				!strings.Contains(got.Reason, "label "+tt.label) {
				t.Errorf("Decide(%+v)", got)
			}
		})
	}
}

func TestGitHubRefusesBadSignature(t *testing.T) {
	g := newTestGitHub(t, "http://127.0.0.1:9")
	d := newDecider()
	h, body := githubDelivery(t, "wrong-secret", "issue_comment", commentEvent("alice-gh", "/approve", sluiceIssueBody))
	if rec := post(g.Handler(d), h, body); rec.Code != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d", rec.Code)
	}
	h, body = githubDelivery(t, testGitHubHook, "issue_comment", commentEvent("alice-gh", "/approve", sluiceIssueBody))
	h.Del("X-Hub-Signature-256")
	h.Set("X-Hub-Signature", "sha1=0000")
	if rec := post(g.Handler(d), h, body); rec.Code != http.StatusUnauthorized {
		t.Errorf("sha1 only: %d", rec.Code)
	}
	h, _ = githubDelivery(t, testGitHubHook, "issue_comment", commentEvent("alice-gh", "/approve", sluiceIssueBody))
	_, other := githubDelivery(t, testGitHubHook, "issue_comment", commentEvent("alice-gh", "/approve", sluiceIssueBody+" "))
	if rec := post(g.Handler(d), h, other); rec.Code != http.StatusUnauthorized {
		t.Errorf("tampered body: %d", rec.Code)
	}
	noDecision(t, d)
}

func TestGitHubIgnoresWhatIsNotADecision(t *testing.T) {
	pr := commentEvent("alice-gh", "/approve", sluiceIssueBody)
	pr["issue"].(map[string]any)["pull_request"] = map[string]any{"url": "x"}
	edited := commentEvent("alice-gh", "/approve", sluiceIssueBody)
	edited["action"] = "edited"
	otherRepo := commentEvent("alice-gh", "/approve", sluiceIssueBody)
	otherRepo["repository"] = map[string]any{"full_name": "acme/other"}
	tests := []struct {
		name, event string
		payload     map[string]any
	}{
		{"ping", "ping", map[string]any{"zen": "Design for failure."}},
		{"push", "push", map[string]any{"ref": "refs/heads/main"}},
		{"issue sluice did not open", "issue_comment", commentEvent("alice-gh", "/approve", "please approve rv_42")},
		{"marker not first", "issue_comment", commentEvent("alice-gh", "/approve", "hi\n"+sluiceIssueBody)},
		{"not a command", "issue_comment", commentEvent("alice-gh", "I think we should /approve", sluiceIssueBody)},
		{"approved is not approve", "issue_comment", commentEvent("alice-gh", "/approved", sluiceIssueBody)},
		{"pull request", "issue_comment", pr},
		{"edited comment", "issue_comment", edited},
		{"other repository", "issue_comment", otherRepo},
		{"other label", "issues", labelEvent("alice-gh", "bug")},
		{"closed", "issues", map[string]any{"action": "closed", "issue": map[string]any{"number": 17, "body": sluiceIssueBody},
			"repository": map[string]any{"full_name": "acme/ops"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := githubAPI(t)
			g := newTestGitHub(t, f.url())
			d := newDecider()
			h, body := githubDelivery(t, testGitHubHook, tt.event, tt.payload)
			if rec := post(g.Handler(d), h, body); rec.Code != http.StatusNoContent {
				t.Errorf("status %d, want 204", rec.Code)
			}
			noDecision(t, d)
			if n := len(f.requests()); n != 0 {
				t.Errorf("%d API calls", n)
			}
		})
	}
}

func TestGitHubUnmappedUserGetsExplanation(t *testing.T) {
	f := githubComments(t)
	g := newTestGitHub(t, f.url())
	d := newDecider()
	h, body := githubDelivery(t, testGitHubHook, "issue_comment", commentEvent("mallory", "/approve trust me", sluiceIssueBody))
	if rec := post(g.Handler(d), h, body); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	noDecision(t, d)
	s := f.next(t)
	comment, _ := s.JSON(t)["body"].(string)
	if s.Path != "/repos/acme/ops/issues/17/comments" || !strings.Contains(comment, "@mallory") || !strings.Contains(comment, "not mapped") {
		t.Errorf("explanation %s: %q", s.Path, comment)
	}
	if strings.HasPrefix(strings.TrimSpace(comment), "/") {
		t.Error("a reply must never read as a command")
	}
}

func TestGitHubRefusalIsCommented(t *testing.T) {
	f := githubComments(t)
	g := newTestGitHub(t, f.url())
	d := newDecider()
	d.err = sluice.Errorf(sluice.EForbidden, "alice requested this review and cannot approve it")
	h, body := githubDelivery(t, testGitHubHook, "issue_comment", commentEvent("alice-gh", "/approve", sluiceIssueBody))
	post(g.Handler(d), h, body)
	waitDecision(t, d)
	comment, _ := f.next(t).JSON(t)["body"].(string)
	if !strings.Contains(comment, "was not recorded") || !strings.Contains(comment, "cannot approve it") {
		t.Errorf("comment = %q", comment)
	}
}

func TestGitHubChecksTicketWithLookup(t *testing.T) {
	f := githubComments(t)
	g := newTestGitHub(t, f.url())
	d := &lookupDecider{fakeDecider: newDecider(), tickets: map[string]string{"github": "99"}}
	h, body := githubDelivery(t, testGitHubHook, "issue_comment", commentEvent("alice-gh", "/approve", sluiceIssueBody))
	post(g.Handler(d), h, body)
	noDecision(t, d.fakeDecider)
	comment, _ := f.next(t).JSON(t)["body"].(string)
	if !strings.Contains(comment, "not where the review was announced") {
		t.Errorf("comment = %q", comment)
	}
	d.tickets["github"] = "17"
	post(g.Handler(d), h, body)
	waitDecision(t, d.fakeDecider)
}

func TestGitHubFormEncodedDelivery(t *testing.T) {
	g := newTestGitHub(t, githubComments(t).url())
	d := newDecider()
	_, js := githubDelivery(t, testGitHubHook, "issue_comment", commentEvent("alice-gh", "/approve ok", sluiceIssueBody))
	body := []byte(url.Values{"payload": {string(js)}}.Encode())
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("X-GitHub-Event", "issue_comment")
	h.Set("X-Hub-Signature-256", "sha256="+hmacHex([]byte(testGitHubHook), body))
	post(g.Handler(d), h, body)
	if got := waitDecision(t, d); got.Reason != "ok" {
		t.Errorf("Decide(%+v)", got)
	}
}
