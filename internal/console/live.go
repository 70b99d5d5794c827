package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

// Live updates. While someone has the inbox open, one goroutine looks at
// the store every Poll for the pending reviews (so that it also sees those
// that other replicas opened or decided) and, when they changed, tells
// every open stream. A stream carries only a version: the page's script
// then fetches the inbox fragment, which is rendered for its viewer as the
// page is, so that the stream itself reveals nothing.

// maxStreams bounds the live update streams open at once.
const maxStreams = 1000

// hub fans the pending reviews' version out to the open streams. It is
// safe for concurrent use.
type hub struct {
	s *Server

	mu      sync.Mutex
	subs    map[chan struct{}]bool
	version string // of the pending reviews, "" until known
	running bool   // the watcher runs
}

// pendingFilter selects what the inbox shows and the watcher watches.
var pendingFilter = store.ReviewFilter{Statuses: []sluice.ReviewStatus{sluice.ReviewPending}, Limit: 1000}

// reviewsVersion names the state of a list of reviews: it changes when
// one is added or removed, changes status or gets a vote.
func reviewsVersion(rs []*sluice.Review) string {
	h := sha256.New()
	for _, r := range rs {
		fmt.Fprintf(h, "%s:%s:%d;", r.ID, r.Status, len(r.Decisions))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (h *hub) current(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rs, err := h.s.Reviews.List(ctx, pendingFilter)
	if err != nil {
		return "", err
	}
	return reviewsVersion(rs), nil
}

// subscribe registers a stream and returns its channel, which receives
// when the version changes, and the version now. ok is false when too many
// streams are open.
func (h *hub) subscribe(ctx context.Context) (ch chan struct{}, version string, ok bool) {
	h.mu.Lock()
	if len(h.subs) >= maxStreams {
		h.mu.Unlock()
		return nil, "", false
	}
	if h.subs == nil {
		h.subs = map[chan struct{}]bool{}
	}
	ch = make(chan struct{}, 1)
	h.subs[ch] = true
	start := !h.running
	h.running = true
	h.mu.Unlock()
	if start {
		v, err := h.current(ctx)
		if err != nil {
			h.s.log().Warn("console: watch reviews", "err", err)
		}
		h.mu.Lock()
		h.version = v
		h.mu.Unlock()
		go h.watch()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return ch, h.version, true
}

func (h *hub) unsubscribe(ch chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, ch)
}

// watch polls the store while streams are open.
func (h *hub) watch() {
	t := time.NewTicker(h.s.poll())
	defer t.Stop()
	failing := false
	for {
		select {
		case <-h.s.done:
			h.stop()
			return
		case <-t.C:
		}
		h.mu.Lock()
		if len(h.subs) == 0 {
			h.running, h.version = false, ""
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		v, err := h.current(context.Background())
		if err != nil {
			if !failing {
				h.s.log().Warn("console: watch reviews", "err", err)
			}
			failing = true
			continue
		}
		failing = false
		h.mu.Lock()
		if v != h.version {
			h.version = v
			for ch := range h.subs {
				select {
				case ch <- struct{}{}:
				default: // a change is already queued
				}
			}
		}
		h.mu.Unlock()
	}
}

func (h *hub) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running = false
}

func (h *hub) latest() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.version
}

// heartbeat keeps idle streams open through proxies.
const heartbeat = 20 * time.Second

// events is the live update stream (server-sent events) the inbox
// subscribes to: an event "reviews" whose data is the pending reviews'
// version, at once and whenever it changes. The stream ends when the
// session expires or would end idle, or the console closes.
func (s *Server) events(w http.ResponseWriter, r *http.Request, v *viewer) {
	ch, version, ok := s.live.subscribe(r.Context())
	if !ok {
		http.Error(w, "too many live update streams", http.StatusServiceUnavailable)
		return
	}
	defer s.live.unsubscribe(ch)
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(format string, args ...any) bool {
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: 2000\n\nevent: reviews\ndata: %s\n\n", version) {
		return
	}
	// The stream is not use: it ends when the session would end idle,
	// unless a page renewed it meanwhile (the page then reconnects).
	expires := time.NewTimer(v.sess.deadline(s.idleTimeout()).Sub(s.now()))
	defer expires.Stop()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for n := 1; ; n++ {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-expires.C:
			send("event: expired\ndata: %s\n\n", strconv.Itoa(n))
			return
		case <-beat.C:
			if s.logouts.has(v.sess.ID) || !send(": keep-alive\n\n") {
				return
			}
		case <-ch:
			if s.logouts.has(v.sess.ID) || !send("event: reviews\ndata: %s\n\n", s.live.latest()) {
				return
			}
		}
	}
}
