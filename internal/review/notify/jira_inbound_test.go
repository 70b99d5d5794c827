package notify

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

const aliceAccount = "5b10ac8d82e05b22cc7d4ef5"

// jiraDelivery builds a signed Jira webhook delivery.
func jiraDelivery(t *testing.T, secret string, payload map[string]any) (http.Header, []byte) {
	t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Hub-Signature", "sha256="+hmacHex([]byte(secret), body))
	return h, body
}

func jiraIssue(key, summary string) map[string]any {
	return map[string]any{"id": "10001", "key": key, "fields": map[string]any{"summary": summary}}
}

func jiraComment(account string, body any) map[string]any {
	return map[string]any{
		"webhookEvent": "comment_created",
		"issue":        jiraIssue("OPS-7", "[sluice rv_42] write, destructive statement on orders by agent-7"),
		"comment":      map[string]any{"body": body, "author": map[string]any{"accountId": account, "displayName": "Alice Smith"}},
	}
}

func jiraStatusChange(account, to string) map[string]any {
	return map[string]any{
		"webhookEvent": "jira:issue_updated",
		"user":         map[string]any{"accountId": account, "displayName": "Alice Smith"},
		"issue":        jiraIssue("OPS-7", "[sluice rv_42] write, destructive statement on orders by agent-7"),
		"changelog": map[string]any{"items": []any{
			map[string]any{"field": "assignee", "toString": "Alice"},
			map[string]any{"field": "status", "fieldId": "status", "fromString": "To Do", "toString": to},
		}},
	}
}

// adfComment is a comment body in Atlassian Document Format.
func adfComment(lines ...string) map[string]any {
	var paras []any
	for _, l := range lines {
		paras = append(paras, map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": l}}})
	}
	return map[string]any{"type": "doc", "version": 1, "content": paras}
}

// jiraComments is a fake API that accepts comments on OPS-7.
func jiraComments(t *testing.T) *fake {
	f := jiraAPI(t)
	f.on("POST /rest/api/3/issue/OPS-7/comment", jsonAnswer(201, map[string]any{"id": "1"}))
	return f
}

func TestJiraCommentDecides(t *testing.T) {
	tests := []struct {
		name string
		body any
		want decideCall
	}{
		{"adf approve", adfComment("/approve ok to run", "thanks"), decideCall{"rv_42", "alice", true, "ok to run", "jira"}},
		{"plain deny", "/deny not during business hours\nsecond line", decideCall{"rv_42", "alice", false, "not during business hours", "jira"}},
		{"adf no reason", adfComment("/approve"), decideCall{"rv_42", "alice", true, "approved in Jira by Alice Smith", "jira"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newTestJira(t, jiraComments(t).url())
			d := newDecider()
			h, body := jiraDelivery(t, testJiraHook, jiraComment(aliceAccount, tt.body))
			if rec := post(j.Handler(d), h, body); rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if got := waitDecision(t, d); got != tt.want {
				t.Errorf("Decide(%+v), want %+v", got, tt.want)
			}
		})
	}
}

func TestJiraTransitionDecides(t *testing.T) {
	for _, tt := range []struct {
		to      string
		approve bool
	}{{"Approved", true}, {"rejected", false}} {
		t.Run(tt.to, func(t *testing.T) {
			j := newTestJira(t, jiraComments(t).url())
			d := newDecider()
			h, body := jiraDelivery(t, testJiraHook, jiraStatusChange(aliceAccount, tt.to))
			post(j.Handler(d), h, body)
			got := waitDecision(t, d)
			if got.ReviewID != "rv_42" || got.Subject != "alice" || got.Approve != tt.approve || got.Via != "jira" ||
				!strings.Contains(got.Reason, "moved to "+tt.to) {
				t.Errorf("Decide(%+v)", got)
			}
		})
	}
}

func TestJiraRefusesBadSignature(t *testing.T) {
	j := newTestJira(t, "http://127.0.0.1:9")
	d := newDecider()
	h, body := jiraDelivery(t, "wrong", jiraComment(aliceAccount, "/approve"))
	if rec := post(j.Handler(d), h, body); rec.Code != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d", rec.Code)
	}
	h, body = jiraDelivery(t, testJiraHook, jiraComment(aliceAccount, "/approve"))
	h.Del("X-Hub-Signature")
	if rec := post(j.Handler(d), h, body); rec.Code != http.StatusUnauthorized {
		t.Errorf("no signature: %d", rec.Code)
	}
	noDecision(t, d)
}

func TestJiraIgnoresWhatIsNotADecision(t *testing.T) {
	otherProject := jiraComment(aliceAccount, "/approve")
	otherProject["issue"] = jiraIssue("DEV-7", "[sluice rv_42] x")
	notSluice := jiraComment(aliceAccount, "/approve")
	notSluice["issue"] = jiraIssue("OPS-8", "please approve rv_42")
	tests := map[string]map[string]any{
		"other event":          {"webhookEvent": "jira:issue_created", "issue": jiraIssue("OPS-7", "[sluice rv_42] x")},
		"other project":        otherProject,
		"issue sluice did not": notSluice,
		"not a command":        jiraComment(aliceAccount, adfComment("LGTM, /approve")),
		"other status":         jiraStatusChange(aliceAccount, "In Progress"),
	}
	for name, payload := range tests {
		t.Run(name, func(t *testing.T) {
			f := jiraAPI(t)
			j := newTestJira(t, f.url())
			d := newDecider()
			h, body := jiraDelivery(t, testJiraHook, payload)
			if rec := post(j.Handler(d), h, body); rec.Code != http.StatusNoContent {
				t.Errorf("status %d, want 204", rec.Code)
			}
			noDecision(t, d)
			if n := len(f.requests()); n != 0 {
				t.Errorf("%d API calls", n)
			}
		})
	}
}

func TestJiraUnmappedUserGetsExplanation(t *testing.T) {
	f := jiraComments(t)
	j := newTestJira(t, f.url())
	d := newDecider()
	h, body := jiraDelivery(t, testJiraHook, jiraStatusChange("557058:mallory", "Approved"))
	if rec := post(j.Handler(d), h, body); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	noDecision(t, d)
	s := f.next(t)
	body2 := s.JSON(t)["body"]
	if len(adfNodes(body2, "mention")) != 1 || path(adfNodes(body2, "mention")[0], "attrs", "id") != "557058:mallory" ||
		!strings.Contains(allText(body2), "not mapped") {
		t.Errorf("explanation: %s", s.Body)
	}
}

func TestJiraRefusalAndProgressAreCommented(t *testing.T) {
	f := jiraComments(t)
	j := newTestJira(t, f.url())
	d := newDecider()
	d.err = sluice.Errorf(sluice.EForbidden, "alice is not an approver of this review")
	h, body := jiraDelivery(t, testJiraHook, jiraComment(aliceAccount, "/approve"))
	post(j.Handler(d), h, body)
	if text := allText(f.next(t).JSON(t)["body"]); !strings.Contains(text, "not an approver") {
		t.Errorf("refusal comment = %q", text)
	}
	d.mu.Lock()
	d.err, d.status = nil, sluice.ReviewPending
	d.mu.Unlock()
	post(j.Handler(d), h, body)
	if text := allText(f.next(t).JSON(t)["body"]); !strings.Contains(text, "approval is recorded") {
		t.Errorf("progress comment = %q", text)
	}
}

func TestJiraChecksTicketWithLookup(t *testing.T) {
	f := jiraComments(t)
	j := newTestJira(t, f.url())
	d := &lookupDecider{fakeDecider: newDecider(), tickets: map[string]string{"jira": "OPS-1"}}
	h, body := jiraDelivery(t, testJiraHook, jiraComment(aliceAccount, "/approve"))
	post(j.Handler(d), h, body)
	noDecision(t, d.fakeDecider)
	if text := allText(f.next(t).JSON(t)["body"]); !strings.Contains(text, "not where the review was announced") {
		t.Errorf("comment = %q", text)
	}
}
