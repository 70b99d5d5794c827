package console

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// sseEvent is one server-sent event.
type sseEvent struct{ name, data string }

// readEvents sends the stream's events on a channel until it ends.
func readEvents(body *bufio.Reader) <-chan sseEvent {
	ch := make(chan sseEvent, 16)
	go func() {
		defer close(ch)
		var ev sseEvent
		for {
			line, err := body.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if ev.name != "" || ev.data != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return ch
}

// events opens the live update stream, which ends with the test.
func (b *browser) events() <-chan sseEvent {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", b.abs("/console/events"), nil)
	resp, err := b.client.Do(req)
	must(b.t, err)
	b.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b.t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return readEvents(bufio.NewReader(resp.Body))
}

func next(t *testing.T, ch <-chan sseEvent, within time.Duration) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %s", within)
	}
	return sseEvent{}
}

func TestLiveUpdates(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.devLogin("alice", "dba")
	inbox := b.get("/console/reviews")
	contains(t, inbox, `data-live="/console/events"`, `data-fragment="/console/fragments/inbox"`, `data-testid="inbox-empty"`)

	events := b.events()
	first := next(t, events, time.Second)
	if first.name != "reviews" || first.data == "" || !strings.Contains(inbox.Body, `data-version="`+first.data+`"`) {
		t.Fatalf("first event %+v; the page's version should match", first)
	}

	opened := time.Now()
	rv := f.openReview("bot", "update orders set status = 'x'", "group:dba")
	ev := next(t, events, time.Second)
	if ev.name != "reviews" || ev.data == first.data {
		t.Fatalf("after a review opened: %+v", ev)
	}
	t.Logf("event %s after %s", ev.data, time.Since(opened))
	frag := b.get("/console/fragments/inbox")
	contains(t, frag, `data-review-id="`+rv.ID+`"`, `data-version="`+ev.data+`"`, `data-testid="approve-button"`)
	lacks(t, frag, "<html")

	// A decision elsewhere (the CLI) changes the version again.
	_, err := f.reviews.Decide(context.Background(), rv.ID, &sluice.Identity{Subject: "carol", Groups: []string{"dba"}}, true, "", "cli")
	must(t, err)
	if ev2 := next(t, events, time.Second); ev2.data == ev.data {
		t.Fatalf("after a decision: %+v", ev2)
	}

	// Closing the console ends the stream.
	f.console.Close()
	for range events {
	}
}

func TestLiveNeedsSession(t *testing.T) {
	f := newFixture(t)
	if p := f.browser().get("/console/events"); p.StatusCode != 401 {
		t.Fatalf("events without a session: %d", p.StatusCode)
	}
}

// TestLiveEndsWhenIdle checks that the live stream, which is not use,
// ends when the session would end idle.
func TestLiveEndsWhenIdle(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.devLogin("alice", "dba")
	f.clock.off = DefaultIdleTimeout - 3*time.Second
	events := b.events()
	if ev := next(t, events, time.Second); ev.name != "reviews" {
		t.Fatalf("first event %+v", ev)
	}
	if ev := next(t, events, 5*time.Second); ev.name != "expired" {
		t.Fatalf("event %+v, want expired at the idle deadline", ev)
	}
}
