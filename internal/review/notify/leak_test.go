package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// secretsUnderTest are every secret the notifiers hold, in the forms a
// service might echo.
var secretsUnderTest = []string{
	testSlackToken, testSlackSigning, testGitHubToken, testGitHubHook, testJiraToken, testJiraHook,
	testWebhookSecret, testWebhookURLPart,
	base64.StdEncoding.EncodeToString([]byte(testJiraEmail + ":" + testJiraToken)),
}

// echoServer answers every request with status and a body, in each
// service's error format, that repeats the request's credentials and body
// back, as a misbehaving service or proxy might.
func echoServer(t *testing.T, status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		echo := fmt.Sprintf("auth=%s path=%s sig=%s body=%s", r.Header.Get("Authorization"), r.URL.Path,
			r.Header.Get(HeaderSignature), b)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"ok": false, "error": echo, "message": echo, "errorMessages": []string{echo},
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// hangServer never answers within the notifiers' attempt timeout.
func hangServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// deadURL is an address nothing listens on.
func deadURL(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

// notifiersAt builds one of each notifier pointed at base, logging to log.
func notifiersAt(t *testing.T, base string, opts HTTPOptions, log *syncBuffer) []Notifier {
	t.Helper()
	logger, _ := newTestLogger()
	if log != nil {
		logger = slogTo(log)
	}
	wh, err := NewWebhook(WebhookConfig{URL: base + "/hooks/T000/" + testWebhookURLPart, Secret: testWebhookSecret, HTTP: opts}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := NewSlack(SlackConfig{API: base + "/api", BotToken: testSlackToken, SigningSecret: testSlackSigning,
		Channel: "C1", Users: map[string]string{"U0ALICE": "alice"}, HTTP: opts, Log: logger}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sl.Close() })
	gh, err := NewGitHub(GitHubConfig{API: base, Repo: "acme/ops", Token: testGitHubToken, WebhookSecret: testGitHubHook,
		HTTP: opts, Log: logger}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ji, err := NewJira(JiraConfig{URL: base, Email: testJiraEmail, APIToken: testJiraToken, Project: "OPS",
		WebhookSecret: testJiraHook, DoneTransition: "Done", HTTP: opts, Log: logger}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return []Notifier{wh, sl, gh, ji}
}

func refFor(n Notifier) string {
	switch n.(type) {
	case *Slack:
		return "C1:1.2"
	case *GitHub:
		return "17"
	case *Jira:
		return "OPS-7"
	}
	return "d-1"
}

// assertNoSecret fails the test if text holds any secret.
func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range secretsUnderTest {
		if strings.Contains(text, s) {
			t.Errorf("%s leaks %q: %s", what, s, text)
		}
	}
}

func TestNoSecretInErrors(t *testing.T) {
	opts := HTTPOptions{Timeout: 150 * time.Millisecond, Attempts: 2, Backoff: time.Millisecond}
	targets := map[string]string{
		"401 echo":    echoServer(t, http.StatusUnauthorized).URL,
		"500 echo":    echoServer(t, http.StatusInternalServerError).URL,
		"200 not ok":  echoServer(t, http.StatusOK).URL, // Slack's ok:false; others fail to decode
		"unreachable": deadURL(t),
		"timeout":     hangServer(t).URL,
	}
	for name, base := range targets {
		for _, n := range notifiersAt(t, base, opts, nil) {
			_, err := n.Opened(context.Background(), sampleReview(), Links{})
			if err == nil && name != "200 not ok" {
				t.Errorf("%s %s: Opened succeeded", name, n.Name())
			}
			if err != nil {
				assertNoSecret(t, name+" "+n.Name()+" Opened", err.Error())
			}
			err = n.Closed(context.Background(), decided(sluice.ReviewApproved, true), refFor(n))
			if err == nil && name != "200 not ok" {
				t.Errorf("%s %s: Closed succeeded", name, n.Name())
			}
			if err != nil {
				assertNoSecret(t, name+" "+n.Name()+" Closed", err.Error())
			}
		}
	}
}

func TestNoSecretInConfigErrors(t *testing.T) {
	_, err := NewWebhook(WebhookConfig{URL: "http://example.com/hooks/" + testWebhookURLPart, Secret: testWebhookSecret}, nil)
	if err == nil {
		t.Fatal("plain http accepted")
	}
	assertNoSecret(t, "NewWebhook", err.Error())
	_, err = NewWebhook(WebhookConfig{URL: "https://example.com/%zz" + testWebhookURLPart, Secret: testWebhookSecret}, nil)
	if err == nil {
		t.Fatal("bad URL accepted")
	}
	assertNoSecret(t, "NewWebhook", err.Error())
}

func TestNoSecretInInboundLogs(t *testing.T) {
	var logs syncBuffer
	base := echoServer(t, http.StatusForbidden).URL
	opts := HTTPOptions{Timeout: time.Second, Attempts: 1}
	ns := notifiersAt(t, base, opts, &logs)
	d := newDecider()

	// Slack: a click by an unmapped user, answered with chat.postEphemeral,
	// which fails with an echo of the token; and a forged click.
	sl := ns[1].(*Slack)
	click := slackClick(t, "U0MALLORY", SlackApproveAction, "rv_42", "")
	post(sl.Handler(d), slackSigned(testSlackSigning, time.Now(), click), click)
	post(sl.Handler(d), slackSigned("forged", time.Now(), click), click)
	sl.Close()

	// GitHub: an unmapped user's /approve, whose reply comment fails.
	gh := ns[2].(*GitHub)
	h, body := githubDelivery(t, testGitHubHook, "issue_comment", commentEvent("mallory", "/approve", sluiceIssueBody))
	post(gh.Handler(d), h, body)
	h, body = githubDelivery(t, "forged", "issue_comment", commentEvent("mallory", "/approve", sluiceIssueBody))
	post(gh.Handler(d), h, body)

	// Jira: the same.
	ji := ns[3].(*Jira)
	h, body = jiraDelivery(t, testJiraHook, jiraComment("557058:mallory", "/approve"))
	post(ji.Handler(d), h, body)
	h, body = jiraDelivery(t, "forged", jiraComment("557058:mallory", "/approve"))
	post(ji.Handler(d), h, body)

	out := logs.String()
	for _, want := range []string{"slack reply to user failed", "github comment failed", "jira comment failed",
		"slack callback refused", "github delivery refused", "jira delivery refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, redacted) {
		t.Errorf("expected the echoed token to be redacted in the log:\n%s", out)
	}
	assertNoSecret(t, "inbound log", out)
	noDecision(t, d)
}
