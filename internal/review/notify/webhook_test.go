package notify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// webhookReceiver is a fake receiver that checks every delivery: POST to
// the configured path, JSON, the sluice headers, and a signature that
// VerifyWebhook accepts.
func webhookReceiver(t *testing.T) *fake {
	return newFake(t, func(t *testing.T, s seen) {
		if s.Method != http.MethodPost || s.Path != "/in/"+testWebhookURLPart {
			t.Errorf("delivery: %s %s", s.Method, s.Path)
		}
		wantContentTypeJSON(t, s)
		if err := VerifyWebhook(testWebhookSecret, s.Header, s.Body, time.Now(), time.Minute); err != nil {
			t.Errorf("delivery does not verify: %v", err)
		}
		for _, h := range []string{HeaderEvent, HeaderDelivery, HeaderTimestamp, HeaderSignature} {
			if s.Header.Get(h) == "" {
				t.Errorf("delivery lacks %s", h)
			}
		}
	})
}

func newTestWebhook(t *testing.T, f *fake) *Webhook {
	t.Helper()
	w, err := NewWebhook(WebhookConfig{URL: f.url() + "/in/" + testWebhookURLPart, Secret: testWebhookSecret, HTTP: fastHTTP}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhookOpenedDeliversSignedEvent(t *testing.T) {
	f := webhookReceiver(t)
	f.on("POST /in/"+testWebhookURLPart, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	wh := newTestWebhook(t, f)
	links := Links{Review: "https://sluice.example/reviews/rv_42", CLI: "sluice reviews approve rv_42 --reason ..."}
	ref, err := wh.Opened(context.Background(), sampleReview(), links)
	if err != nil {
		t.Fatal(err)
	}
	s := f.next(t)
	var ev WebhookEvent
	if err := json.Unmarshal(s.Body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Event != EventReviewOpened || ev.Ref != ref || ref == "" || s.Header.Get(HeaderDelivery) != ref ||
		s.Header.Get(HeaderEvent) != EventReviewOpened {
		t.Errorf("event %q ref %q (returned %q, header %q)", ev.Event, ev.Ref, ref, s.Header.Get(HeaderDelivery))
	}
	if ev.Review == nil || ev.Review.ID != "rv_42" || ev.Review.Request.Text != "DELETE FROM orders" || ev.Review.Request.Subject != "agent-7" {
		t.Errorf("review = %+v", ev.Review)
	}
	if ev.Links == nil || *ev.Links != links {
		t.Errorf("links = %+v", ev.Links)
	}
	if m := s.JSON(t); path(m, "links", "cli") != links.CLI || path(m, "review", "status") != "pending" {
		t.Errorf("raw body fields: %s", s.Body)
	}
}

func TestWebhookClosedCarriesRef(t *testing.T) {
	f := webhookReceiver(t)
	f.on("POST /in/"+testWebhookURLPart, func(w http.ResponseWriter, r *http.Request) {})
	wh := newTestWebhook(t, f)
	if err := wh.Closed(context.Background(), decided(sluice.ReviewDenied, false), "d-123"); err != nil {
		t.Fatal(err)
	}
	s := f.next(t)
	m := s.JSON(t)
	if m["event"] != EventReviewClosed || m["ref"] != "d-123" || path(m, "review", "status") != "denied" || m["links"] != nil {
		t.Errorf("closed body: %s", s.Body)
	}
	if err := wh.Closed(context.Background(), sampleReview(), "d-123"); err == nil {
		t.Error("Closed accepted a pending review")
	}
}

func TestVerifyWebhook(t *testing.T) {
	body := []byte(`{"event":"review.opened"}`)
	now := time.Unix(1_800_000_000, 0)
	sign := func(secret string, ts time.Time, b []byte) http.Header {
		h := http.Header{}
		s := strconv.FormatInt(ts.Unix(), 10)
		h.Set(HeaderTimestamp, s)
		h.Set(HeaderSignature, "sha256="+hmacHex([]byte(secret), []byte(s), []byte("."), b))
		return h
	}
	good := sign(testWebhookSecret, now, body)
	if err := VerifyWebhook(testWebhookSecret, good, body, now.Add(time.Minute), 0); err != nil {
		t.Fatalf("good delivery: %v", err)
	}
	noSig := good.Clone()
	noSig.Del(HeaderSignature)
	badPrefix := good.Clone()
	badPrefix.Set(HeaderSignature, strings.Replace(good.Get(HeaderSignature), "sha256=", "sha1=", 1))
	noTS := good.Clone()
	noTS.Del(HeaderTimestamp)
	shifted := good.Clone()
	shifted.Set(HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10)) // signature was for the original timestamp
	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"tampered body", testWebhookSecret, good, []byte(`{"event":"review.closed"}`), now, ErrInvalidSignature},
		{"wrong secret", "other", good, body, now, ErrInvalidSignature},
		{"stale", testWebhookSecret, good, body, now.Add(6 * time.Minute), ErrStaleTimestamp},
		{"from the future", testWebhookSecret, good, body, now.Add(-6 * time.Minute), ErrStaleTimestamp},
		{"no signature", testWebhookSecret, noSig, body, now, ErrInvalidSignature},
		{"other algorithm", testWebhookSecret, badPrefix, body, now, ErrInvalidSignature},
		{"no timestamp", testWebhookSecret, noTS, body, now, ErrInvalidSignature},
		{"timestamp changed", testWebhookSecret, shifted, body, now, ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyWebhook(tt.secret, tt.h, tt.body, tt.now, 5*time.Minute)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if err := VerifyWebhook("", good, body, now, 0); err == nil {
		t.Error("empty secret accepted")
	}
}

func TestWebhookRetriesOn503(t *testing.T) {
	f := webhookReceiver(t)
	var n atomic.Int32
	f.on("POST /in/"+testWebhookURLPart, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	})
	wh := newTestWebhook(t, f)
	if _, err := wh.Opened(context.Background(), sampleReview(), Links{}); err != nil {
		t.Fatalf("Opened after two 503s: %v", err)
	}
	reqs := f.requests()
	if len(reqs) != 3 {
		t.Fatalf("attempts = %d, want 3", len(reqs))
	}
	for _, s := range reqs {
		if s.Header.Get(HeaderDelivery) != reqs[0].Header.Get(HeaderDelivery) || string(s.Body) != string(reqs[0].Body) {
			t.Error("a retry changed the delivery id or body")
		}
	}
}

func TestWebhookGivesUpAfterAttempts(t *testing.T) {
	f := webhookReceiver(t)
	f.on("POST /in/"+testWebhookURLPart, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	})
	wh := newTestWebhook(t, f)
	_, err := wh.Opened(context.Background(), sampleReview(), Links{})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusBadGateway {
		t.Fatalf("err = %v, want a 502 StatusError", err)
	}
	if n := len(f.requests()); n != fastHTTP.Attempts {
		t.Errorf("attempts = %d, want %d", n, fastHTTP.Attempts)
	}
}

func TestWebhookNoRetryOn400(t *testing.T) {
	f := webhookReceiver(t)
	f.on("POST /in/"+testWebhookURLPart, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad", http.StatusBadRequest)
	})
	wh := newTestWebhook(t, f)
	_, err := wh.Opened(context.Background(), sampleReview(), Links{})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest || se.Temporary() {
		t.Fatalf("err = %v, want a 400 StatusError", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("attempts = %d, want 1", n)
	}
}

func TestWebhookHonoursRetryAfter(t *testing.T) {
	f := webhookReceiver(t)
	var first atomic.Int64
	f.on("POST /in/"+testWebhookURLPart, func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(0, time.Now().UnixNano()) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if d := time.Since(time.Unix(0, first.Load())); d < 900*time.Millisecond {
			t.Errorf("retried after %v, before Retry-After", d)
		}
	})
	wh := newTestWebhook(t, f)
	if _, err := wh.Opened(context.Background(), sampleReview(), Links{}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("attempts = %d, want 2", n)
	}
}

func TestWebhookRetryAfterBeyondDeadline(t *testing.T) {
	f := webhookReceiver(t)
	f.on("POST /in/"+testWebhookURLPart, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	wh := newTestWebhook(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := wh.Opened(ctx, sampleReview(), Links{})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusTooManyRequests {
		t.Fatalf("err = %v, want the 429", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("waited %v for a retry that could not fit the deadline", d)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("attempts = %d, want 1", n)
	}
}

func TestWebhookContextCancelStopsRetries(t *testing.T) {
	f := webhookReceiver(t)
	f.on("POST /in/"+testWebhookURLPart, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	wh, err := NewWebhook(WebhookConfig{URL: f.url() + "/in/" + testWebhookURLPart, Secret: testWebhookSecret,
		HTTP: HTTPOptions{Attempts: 5, Backoff: 10 * time.Second}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-f.got; cancel() }()
	_, err = wh.Opened(ctx, sampleReview(), Links{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestWebhookRetriesNetworkErrors(t *testing.T) {
	f := webhookReceiver(t)
	var n atomic.Int32
	f.on("POST /in/"+testWebhookURLPart, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close() // no answer at all
			}
		}
	})
	wh := newTestWebhook(t, f)
	if _, err := wh.Opened(context.Background(), sampleReview(), Links{}); err != nil {
		t.Fatalf("Opened after a dropped connection: %v", err)
	}
	if n.Load() != 2 {
		t.Errorf("attempts = %d, want 2", n.Load())
	}
}

func TestNewWebhookValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  WebhookConfig
	}{
		{"no url", WebhookConfig{Secret: "s"}},
		{"no secret", WebhookConfig{URL: "https://example.com/x"}},
		{"plain http", WebhookConfig{URL: "http://example.com/x", Secret: "s"}},
		{"relative", WebhookConfig{URL: "/x", Secret: "s"}},
		{"user info", WebhookConfig{URL: "https://u:p@example.com/x", Secret: "s"}},
		{"bad name", WebhookConfig{Name: "Web Hook", URL: "https://example.com/x", Secret: "s"}},
		{"negative attempts", WebhookConfig{URL: "https://example.com/x", Secret: "s", HTTP: HTTPOptions{Attempts: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewWebhook(tt.cfg, nil); err == nil {
				t.Error("accepted")
			} else if strings.Contains(err.Error(), "u:p") {
				t.Errorf("error shows the URL: %v", err)
			}
		})
	}
	w, err := NewWebhook(WebhookConfig{URL: "http://127.0.0.1:9/x", Secret: "s"}, nil)
	if err != nil || w.Name() != "webhook" {
		t.Errorf("loopback http: %v, name %q", err, w.Name())
	}
}
