package notify

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestEveryNotifierRetriesRateLimits checks that Slack, GitHub and Jira
// calls share the retry policy: a 429 with Retry-After is retried, a 403 is
// not.
func TestEveryNotifierRetriesRateLimits(t *testing.T) {
	cases := []struct {
		name  string
		route string
		ok    any
		fake  func(t *testing.T) *fake
		make  func(t *testing.T, base string) Notifier
	}{
		{"slack", "POST /api/chat.postMessage", map[string]any{"ok": true, "channel": "C", "ts": "1.2"}, slackAPI,
			func(t *testing.T, base string) Notifier { return newTestSlack(t, base) }},
		{"github", "POST /repos/acme/ops/issues", map[string]any{"number": 3}, githubAPI,
			func(t *testing.T, base string) Notifier { return newTestGitHub(t, base) }},
		{"jira", "POST /rest/api/3/issue", map[string]any{"key": "OPS-3"}, jiraAPI,
			func(t *testing.T, base string) Notifier { return newTestJira(t, base) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.fake(t)
			var n atomic.Int32
			f.on(c.route, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				jsonAnswer(200, c.ok)(w, r)
			})
			if _, err := c.make(t, f.url()).Opened(context.Background(), sampleReview(), Links{}); err != nil {
				t.Fatalf("after one 429: %v", err)
			}
			if n.Load() != 2 {
				t.Errorf("attempts = %d, want 2", n.Load())
			}

			f2 := c.fake(t)
			f2.on(c.route, jsonAnswer(http.StatusForbidden, map[string]any{"message": "no"}))
			_, err := c.make(t, f2.url()).Opened(context.Background(), sampleReview(), Links{})
			var se *StatusError
			if !errors.As(err, &se) || se.Status != http.StatusForbidden || len(f2.requests()) != 1 {
				t.Errorf("403: err %v after %d attempts", err, len(f2.requests()))
			}
		})
	}
}

// TestOpenedRejectsNilReview checks the guard every notifier has.
func TestOpenedRejectsNilReview(t *testing.T) {
	for _, n := range notifiersAt(t, "http://127.0.0.1:9", fastHTTP, nil) {
		if _, err := n.Opened(context.Background(), nil, Links{}); err == nil {
			t.Errorf("%s: nil review accepted", n.Name())
		}
		if err := n.Closed(context.Background(), &sluice.Review{ID: "x"}, refFor(n)); !errors.Is(err, errStillPending) {
			t.Errorf("%s: Closed on an undecided review: %v", n.Name(), err)
		}
	}
}
