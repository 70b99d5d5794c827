package notify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// slackAPI is a fake Slack Web API that checks every call: POST, the bot
// token, JSON.
func slackAPI(t *testing.T) *fake {
	return newFake(t, func(t *testing.T, s seen) {
		if s.Method != http.MethodPost || !strings.HasPrefix(s.Path, "/api/") {
			t.Errorf("slack: %s %s", s.Method, s.Path)
		}
		wantHeader(t, s, "Authorization", "Bearer "+testSlackToken)
		wantContentTypeJSON(t, s)
	})
}

func newTestSlack(t *testing.T, api string, mutate ...func(*SlackConfig)) *Slack {
	t.Helper()
	cfg := SlackConfig{
		API: api + "/api", BotToken: testSlackToken, SigningSecret: testSlackSigning, Channel: "C0REVIEWS",
		Users: map[string]string{"U0ALICE": "alice"}, HTTP: fastHTTP,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := NewSlack(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// blocksOfType returns the blocks of a message with the given type.
func blocksOfType(m map[string]any, typ string) []map[string]any {
	var out []map[string]any
	blocks, _ := m["blocks"].([]any)
	for _, b := range blocks {
		if bm, ok := b.(map[string]any); ok && bm["type"] == typ {
			out = append(out, bm)
		}
	}
	return out
}

// allText concatenates every "text" string in v.
func allText(v any) string {
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if s, ok := v["text"].(string); ok {
				b.WriteString(s)
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
	return b.String()
}

func TestSlackOpenedPostsMessageWithButtons(t *testing.T) {
	f := slackAPI(t)
	f.on("POST /api/chat.postMessage", jsonAnswer(200, map[string]any{"ok": true, "channel": "C0REVIEWS", "ts": "1700000000.000100"}))
	s := newTestSlack(t, f.url())
	r := sampleReview()
	r.Request.Text = "DELETE FROM orders -- <!channel> & `x`"
	ref, err := s.Opened(context.Background(), r, Links{Review: "https://sluice.example/reviews/rv_42", CLI: "sluice reviews approve rv_42 --reason ..."})
	if err != nil {
		t.Fatal(err)
	}
	if ref != "C0REVIEWS:1700000000.000100" {
		t.Errorf("ref = %q", ref)
	}
	m := f.next(t).JSON(t)
	if m["channel"] != "C0REVIEWS" {
		t.Errorf("channel = %v", m["channel"])
	}
	if text, _ := m["text"].(string); !strings.Contains(text, "rv_42") || strings.ContainsAny(text, "<>") {
		t.Errorf("fallback text = %q", text)
	}
	actions := blocksOfType(m, "actions")
	if len(actions) != 1 {
		t.Fatalf("actions blocks = %d, want 1", len(actions))
	}
	buttons, _ := actions[0]["elements"].([]any)
	want := map[string]string{SlackApproveAction: "primary", SlackDenyAction: "danger"}
	for _, b := range buttons {
		id, _ := path(b, "action_id").(string)
		if path(b, "value") != "rv_42" || path(b, "type") != "button" || path(b, "style") != want[id] {
			t.Errorf("button %v", b)
		}
		delete(want, id)
	}
	if len(want) != 0 {
		t.Errorf("missing buttons %v", want)
	}
	if path(buttons[0], "confirm", "title", "text") == nil {
		t.Error("approve button has no confirmation")
	}
	var statement string
	for _, b := range blocksOfType(m, "rich_text") {
		if path(b, "elements", 0, "type") == "rich_text_preformatted" {
			statement, _ = path(b, "elements", 0, "elements", 0, "text").(string)
		}
	}
	if statement != r.Request.Text {
		t.Errorf("statement block = %q, want %q", statement, r.Request.Text)
	}
	all := allText(m["blocks"])
	for _, w := range []string{"agent-7", "orders", "write, destructive", "1200", "rv_42", "DELETE without WHERE", "sluice reviews approve rv_42"} {
		if !strings.Contains(all, w) {
			t.Errorf("message lacks %q", w)
		}
	}
	if !strings.Contains(string(f.requests()[0].Body), `"url":"https://sluice.example/reviews/rv_42"`) {
		t.Error("message lacks the console link")
	}
	if len(blocksOfType(m, "section")) != 0 {
		t.Error("dynamic text must not go into mrkdwn sections")
	}
}

func TestSlackOpenedTruncatesLongStatements(t *testing.T) {
	f := slackAPI(t)
	f.on("POST /api/chat.postMessage", jsonAnswer(200, map[string]any{"ok": true, "channel": "C", "ts": "1.2"}))
	s := newTestSlack(t, f.url())
	r := sampleReview()
	r.Request.Text = "SELECT '" + strings.Repeat("é", 5000) + "'"
	if _, err := s.Opened(context.Background(), r, Links{}); err != nil {
		t.Fatal(err)
	}
	var stmt string
	for _, b := range blocksOfType(f.next(t).JSON(t), "rich_text") {
		if path(b, "elements", 0, "type") == "rich_text_preformatted" {
			stmt, _ = path(b, "elements", 0, "elements", 0, "text").(string)
		}
	}
	if len(stmt) > slackStatementMax || !strings.Contains(stmt, "truncated") || strings.ContainsRune(stmt, '\uFFFD') {
		t.Errorf("truncated statement: %d bytes, %q...", len(stmt), stmt[len(stmt)-60:])
	}
}

func TestSlackOpenedReportsSlackError(t *testing.T) {
	f := slackAPI(t)
	f.on("POST /api/chat.postMessage", jsonAnswer(200, map[string]any{"ok": false, "error": "channel_not_found"}))
	s := newTestSlack(t, f.url())
	_, err := s.Opened(context.Background(), sampleReview(), Links{})
	var se *StatusError
	if !errors.As(err, &se) || se.Detail != "channel_not_found" || se.Op != "chat.postMessage" {
		t.Fatalf("err = %v", err)
	}
	if len(f.requests()) != 1 {
		t.Error("an ok:false answer was retried")
	}
}

func TestSlackClosedReplacesButtonsWithOutcome(t *testing.T) {
	for _, tt := range []struct {
		r    *sluice.Review
		want string
	}{
		{decided(sluice.ReviewApproved, true), "Approved"},
		{decided(sluice.ReviewDenied, false), "Denied"},
		{decided(sluice.ReviewExpired, false), "Expired"},
	} {
		t.Run(string(tt.r.Status), func(t *testing.T) {
			f := slackAPI(t)
			f.on("POST /api/chat.update", jsonAnswer(200, map[string]any{"ok": true}))
			s := newTestSlack(t, f.url())
			if err := s.Closed(context.Background(), tt.r, "C0REVIEWS:1700000000.000100"); err != nil {
				t.Fatal(err)
			}
			m := f.next(t).JSON(t)
			if m["channel"] != "C0REVIEWS" || m["ts"] != "1700000000.000100" {
				t.Errorf("update target %v %v", m["channel"], m["ts"])
			}
			if len(blocksOfType(m, "actions")) != 0 {
				t.Error("closed message still has buttons")
			}
			all := allText(m["blocks"])
			if !strings.Contains(all, tt.want) || !strings.Contains(all, "by alice via slack") || !strings.Contains(all, "looks fine") {
				t.Errorf("outcome missing from %q", all)
			}
		})
	}
}

func TestSlackClosedRejectsBadInput(t *testing.T) {
	s := newTestSlack(t, "http://127.0.0.1:9")
	if err := s.Closed(context.Background(), decided(sluice.ReviewApproved, true), "no-colon"); err == nil {
		t.Error("malformed ref accepted")
	}
	if err := s.Closed(context.Background(), sampleReview(), "C:1"); err == nil {
		t.Error("pending review accepted")
	}
}

func TestNewSlackValidates(t *testing.T) {
	base := SlackConfig{BotToken: "t", SigningSecret: "s", Channel: "C"}
	if _, err := NewSlack(base, nil); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	for name, m := range map[string]func(*SlackConfig){
		"no token":    func(c *SlackConfig) { c.BotToken = "" },
		"no secret":   func(c *SlackConfig) { c.SigningSecret = "" },
		"no channel":  func(c *SlackConfig) { c.Channel = "" },
		"http api":    func(c *SlackConfig) { c.API = "http://slack.com/api" },
		"empty user":  func(c *SlackConfig) { c.Users = map[string]string{"U1": ""} },
		"neg timeout": func(c *SlackConfig) { c.DecideTimeout = -1 },
	} {
		cfg := base
		m(&cfg)
		if _, err := NewSlack(cfg, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
