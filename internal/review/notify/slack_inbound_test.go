package notify

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// slackClick builds the form body of a block_actions interaction.
func slackClick(t *testing.T, user, action, value, responseURL string) []byte {
	t.Helper()
	p := map[string]any{
		"type":         "block_actions",
		"team":         map[string]any{"id": "T0TEAM"},
		"user":         map[string]any{"id": user, "username": "alice.smith", "name": "alice.smith"},
		"channel":      map[string]any{"id": "C0REVIEWS"},
		"container":    map[string]any{"type": "message", "channel_id": "C0REVIEWS", "message_ts": "1700000000.000100"},
		"message":      map[string]any{"ts": "1700000000.000100"},
		"response_url": responseURL,
		"actions":      []any{map[string]any{"action_id": action, "value": value, "type": "button"}},
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(url.Values{"payload": {string(b)}}.Encode())
}

// slackSigned returns the headers Slack would send with body at time ts.
func slackSigned(secret string, ts time.Time, body []byte) http.Header {
	h := http.Header{}
	s := strconv.FormatInt(ts.Unix(), 10)
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("X-Slack-Request-Timestamp", s)
	h.Set("X-Slack-Signature", "v0="+hmacHex([]byte(secret), []byte("v0:"+s+":"), body))
	return h
}

// responseURL is a fake of Slack's response_url endpoint; it checks that
// replies are ephemeral JSON and carry no token.
func responseURL(t *testing.T) *fake {
	f := newFake(t, func(t *testing.T, s seen) {
		if s.Method != http.MethodPost || s.Path != "/respond/abc" {
			t.Errorf("response_url: %s %s", s.Method, s.Path)
		}
		wantContentTypeJSON(t, s)
		if s.Header.Get("Authorization") != "" {
			t.Error("response_url call carries an Authorization header")
		}
		m := s.JSON(t)
		if m["response_type"] != "ephemeral" || m["replace_original"] != false {
			t.Errorf("reply is not ephemeral: %s", s.Body)
		}
	})
	f.on("POST /respond/abc", func(w http.ResponseWriter, r *http.Request) {})
	return f
}

// replyText waits for the ephemeral reply and returns its text.
func replyText(t *testing.T, f *fake) string {
	t.Helper()
	text, _ := f.next(t).JSON(t)["text"].(string)
	return text
}

func TestSlackClickApproves(t *testing.T) {
	resp := responseURL(t)
	s := newTestSlack(t, "http://127.0.0.1:9")
	d := newDecider()
	d.status = sluice.ReviewPending // 2-of-N: still pending after this vote
	body := slackClick(t, "U0ALICE", SlackApproveAction, "rv_42", resp.url()+"/respond/abc")
	start := time.Now()
	rec := post(s.Handler(d), slackSigned(testSlackSigning, time.Now(), body), body)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if time.Since(start) > time.Second {
		t.Error("handler did not answer at once")
	}
	got := waitDecision(t, d)
	want := decideCall{"rv_42", "alice", true, "approved in Slack by alice.smith", "slack"}
	if got != want {
		t.Errorf("Decide(%+v), want %+v", got, want)
	}
	if text := replyText(t, resp); !strings.Contains(text, "approval is recorded") || !strings.Contains(text, "has 1 of 1 approvals") {
		t.Errorf("reply = %q", text)
	}
}

func TestSlackClickDenies(t *testing.T) {
	resp := responseURL(t)
	s := newTestSlack(t, "http://127.0.0.1:9")
	d := newDecider()
	d.status = sluice.ReviewDenied
	body := slackClick(t, "U0ALICE", SlackDenyAction, "rv_42", resp.url()+"/respond/abc")
	if rec := post(s.Handler(d), slackSigned(testSlackSigning, time.Now(), body), body); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	got := waitDecision(t, d)
	if got.Approve || got.Reason != "denied in Slack by alice.smith" || got.Via != "slack" {
		t.Errorf("Decide(%+v)", got)
	}
	if text := replyText(t, resp); !strings.Contains(text, "denial is recorded") || !strings.Contains(text, "now denied") {
		t.Errorf("reply = %q", text)
	}
}

func TestSlackClickRefusesBadRequests(t *testing.T) {
	body := slackClick(t, "U0ALICE", SlackApproveAction, "rv_42", "http://127.0.0.1:9/respond/abc")
	old := time.Now().Add(-6 * time.Minute)
	noSig := slackSigned(testSlackSigning, time.Now(), body)
	noSig.Del("X-Slack-Signature")
	tests := []struct {
		name string
		h    http.Header
		body []byte
		want int
	}{
		{"wrong secret", slackSigned("not-the-secret", time.Now(), body), body, http.StatusUnauthorized},
		{"tampered body", slackSigned(testSlackSigning, time.Now(), body), append([]byte("x"), body...), http.StatusUnauthorized},
		{"stale timestamp", slackSigned(testSlackSigning, old, body), body, http.StatusUnauthorized},
		{"future timestamp", slackSigned(testSlackSigning, time.Now().Add(6*time.Minute), body), body, http.StatusUnauthorized},
		{"no signature", noSig, body, http.StatusUnauthorized},
		{"not a form", slackSigned(testSlackSigning, time.Now(), []byte("{}")), []byte("{}"), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSlack(t, "http://127.0.0.1:9")
			d := newDecider()
			if rec := post(s.Handler(d), tt.h, tt.body); rec.Code != tt.want {
				t.Errorf("status %d, want %d", rec.Code, tt.want)
			}
			s.Close()
			noDecision(t, d)
		})
	}
}

func TestSlackClickByUnmappedUser(t *testing.T) {
	resp := responseURL(t)
	s := newTestSlack(t, "http://127.0.0.1:9")
	d := newDecider()
	body := slackClick(t, "U0MALLORY", SlackApproveAction, "rv_42", resp.url()+"/respond/abc")
	if rec := post(s.Handler(d), slackSigned(testSlackSigning, time.Now(), body), body); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	text := replyText(t, resp)
	if !strings.Contains(text, "not mapped") || !strings.Contains(text, "U0MALLORY") {
		t.Errorf("reply = %q", text)
	}
	s.Close()
	noDecision(t, d)
}

func TestSlackClickReportsRefusal(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		want    string
		notWant string
	}{
		{"self approval", sluice.Errorf(sluice.EForbidden, "you cannot approve your own request"), "you cannot approve your own request", ""},
		{"internal", errors.New("store: dial 10.0.0.5: password=hunter2"), "could not record it", "hunter2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := responseURL(t)
			log, logs := newTestLogger()
			s := newTestSlack(t, "http://127.0.0.1:9", func(c *SlackConfig) { c.Log = log })
			d := newDecider()
			d.err = tt.err
			body := slackClick(t, "U0ALICE", SlackApproveAction, "rv_42", resp.url()+"/respond/abc")
			post(s.Handler(d), slackSigned(testSlackSigning, time.Now(), body), body)
			waitDecision(t, d)
			text := replyText(t, resp)
			if !strings.Contains(text, "was not recorded") || !strings.Contains(text, tt.want) {
				t.Errorf("reply = %q, want it to say %q", text, tt.want)
			}
			if tt.notWant != "" && strings.Contains(text, tt.notWant) {
				t.Errorf("reply shows the internal cause: %q", text)
			}
			s.Close()
			if !strings.Contains(logs.String(), "slack decision refused") {
				t.Errorf("refusal not logged: %s", logs)
			}
		})
	}
}

func TestSlackClickOnAnotherMessageIsRefused(t *testing.T) {
	resp := responseURL(t)
	s := newTestSlack(t, "http://127.0.0.1:9")
	d := &lookupDecider{fakeDecider: newDecider(), tickets: map[string]string{"slack": "C0REVIEWS:1699999999.000001"}}
	body := slackClick(t, "U0ALICE", SlackApproveAction, "rv_42", resp.url()+"/respond/abc")
	post(s.Handler(d), slackSigned(testSlackSigning, time.Now(), body), body)
	if text := replyText(t, resp); !strings.Contains(text, "not where the review was announced") {
		t.Errorf("reply = %q", text)
	}
	s.Close()
	noDecision(t, d.fakeDecider)

	// The recorded message decides.
	d.tickets["slack"] = "C0REVIEWS:1700000000.000100"
	s2 := newTestSlack(t, "http://127.0.0.1:9")
	post(s2.Handler(d), slackSigned(testSlackSigning, time.Now(), body), body)
	waitDecision(t, d.fakeDecider)
}

func TestSlackIgnoresOtherInteractions(t *testing.T) {
	for name, body := range map[string][]byte{
		"other action": slackClick(t, "U0ALICE", "open_console", "rv_42", ""),
		"bad id":       slackClick(t, "U0ALICE", SlackApproveAction, "rv 42; drop", ""),
		"shortcut":     []byte(url.Values{"payload": {`{"type":"shortcut","user":{"id":"U0ALICE"}}`}}.Encode()),
	} {
		t.Run(name, func(t *testing.T) {
			s := newTestSlack(t, "http://127.0.0.1:9")
			d := newDecider()
			if rec := post(s.Handler(d), slackSigned(testSlackSigning, time.Now(), body), body); rec.Code != http.StatusOK {
				t.Errorf("status %d", rec.Code)
			}
			s.Close()
			noDecision(t, d)
		})
	}
	// A click from another workspace.
	s := newTestSlack(t, "http://127.0.0.1:9", func(c *SlackConfig) { c.TeamID = "T0OTHER" })
	d := newDecider()
	body := slackClick(t, "U0ALICE", SlackApproveAction, "rv_42", "")
	post(s.Handler(d), slackSigned(testSlackSigning, time.Now(), body), body)
	s.Close()
	noDecision(t, d)
}

func TestSlackRepliesWithPostEphemeralWithoutResponseURL(t *testing.T) {
	f := slackAPI(t)
	f.on("POST /api/chat.postEphemeral", jsonAnswer(200, map[string]any{"ok": true}))
	s := newTestSlack(t, f.url())
	d := newDecider()
	body := slackClick(t, "U0ALICE", SlackApproveAction, "rv_42", "")
	post(s.Handler(d), slackSigned(testSlackSigning, time.Now(), body), body)
	waitDecision(t, d)
	got := f.next(t)
	m := got.JSON(t)
	if got.Path != "/api/chat.postEphemeral" || m["channel"] != "C0REVIEWS" || m["user"] != "U0ALICE" ||
		!strings.Contains(m["text"].(string), "recorded") {
		t.Errorf("postEphemeral %s: %s", got.Path, got.Body)
	}
}

func TestSlackAfterCloseRefusesClicks(t *testing.T) {
	s := newTestSlack(t, "http://127.0.0.1:9")
	s.Close()
	s.Close() // idempotent
	d := newDecider()
	body := slackClick(t, "U0ALICE", SlackApproveAction, "rv_42", "")
	if rec := post(s.Handler(d), slackSigned(testSlackSigning, time.Now(), body), body); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
	noDecision(t, d)
}

func TestSlackHandlerRefusesGet(t *testing.T) {
	s := newTestSlack(t, "http://127.0.0.1:9")
	rec := httptest.NewRecorder()
	s.Handler(newDecider()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/hooks/slack", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET answered %d", rec.Code)
	}
}
