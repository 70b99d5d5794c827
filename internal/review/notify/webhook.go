package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sluicehq/sluice"
)

// The events a webhook delivers.
const (
	EventReviewOpened = "review.opened"
	EventReviewClosed = "review.closed"
)

// The headers of a webhook delivery.
const (
	HeaderEvent     = "X-Sluice-Event"
	HeaderDelivery  = "X-Sluice-Delivery"
	HeaderTimestamp = "X-Sluice-Timestamp"
	HeaderSignature = "X-Sluice-Signature"
)

// WebhookEvent is the JSON body of a webhook delivery.
type WebhookEvent struct {
	// Event is EventReviewOpened or EventReviewClosed.
	Event string `json:"event"`
	// Ref identifies the announcement: the delivery id of review.opened,
	// repeated in review.closed.
	Ref    string         `json:"ref,omitempty"`
	Review *sluice.Review `json:"review"`
	// Links are sent with review.opened only.
	Links *Links `json:"links,omitempty"`
}

// WebhookConfig configures the generic webhook notifier.
type WebhookConfig struct {
	// Name is the notifier's name, the key of its reference in
	// Review.Tickets. Default "webhook".
	Name string
	// URL receives the deliveries. It must be https unless it points at a
	// loopback address. It is treated as a secret (such URLs often embed a
	// token): errors and logs never show it. Required.
	URL string
	// Secret keys the HMAC-SHA256 signature of every delivery. Required.
	Secret string
	// HTTP tunes delivery: timeout per attempt, attempts and backoff.
	HTTP HTTPOptions
}

// Webhook POSTs signed JSON events about reviews to a URL. It only
// announces; decisions cannot come back through it. It is safe for
// concurrent use.
type Webhook struct {
	name   string
	url    string
	secret []byte
	call   *caller
	now    func() time.Time
}

var _ Notifier = (*Webhook)(nil)

// NewWebhook validates cfg and returns a webhook notifier that sends with
// client (http.DefaultClient's settings when nil). It does no I/O.
func NewWebhook(cfg WebhookConfig, client *http.Client) (*Webhook, error) {
	cfg.Name = orDefault(cfg.Name, "webhook")
	if err := checkName(cfg.Name); err != nil {
		return nil, fmt.Errorf("webhook notifier: %w", err)
	}
	if err := checkEndpoint("url", cfg.URL); err != nil {
		return nil, fmt.Errorf("webhook notifier %s: %w", cfg.Name, err)
	}
	if cfg.Secret == "" {
		return nil, fmt.Errorf("webhook notifier %s: secret is required", cfg.Name)
	}
	if err := cfg.HTTP.validate(); err != nil {
		return nil, fmt.Errorf("webhook notifier %s: %w", cfg.Name, err)
	}
	return &Webhook{
		name:   cfg.Name,
		url:    cfg.URL,
		secret: []byte(cfg.Secret),
		call: &caller{
			service: "webhook",
			client:  clientOrDefault(client),
			opts:    cfg.HTTP.withDefaults(),
			scrub:   newScrubber(cfg.Secret, cfg.URL),
		},
		now: time.Now,
	}, nil
}

// Name returns the notifier's name.
func (w *Webhook) Name() string { return w.name }

// Opened delivers a review.opened event and returns its delivery id.
func (w *Webhook) Opened(ctx context.Context, r *sluice.Review, links Links) (string, error) {
	if r == nil {
		return "", errors.New("webhook: no review")
	}
	ref, err := newDeliveryID()
	if err != nil {
		return "", fmt.Errorf("webhook: %w", err)
	}
	l := links
	if err := w.deliver(ctx, WebhookEvent{Event: EventReviewOpened, Ref: ref, Review: r, Links: &l}); err != nil {
		return "", err
	}
	return ref, nil
}

// Closed delivers a review.closed event carrying the ref of the opening
// delivery.
func (w *Webhook) Closed(ctx context.Context, r *sluice.Review, ref string) error {
	if err := checkClosable(r); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return w.deliver(ctx, WebhookEvent{Event: EventReviewClosed, Ref: ref, Review: r})
}

// deliver POSTs ev, signing each attempt with a fresh timestamp.
func (w *Webhook) deliver(ctx context.Context, ev WebhookEvent) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("webhook: encode %s: %w", ev.Event, err)
	}
	delivery := ev.Ref
	if delivery == "" {
		if delivery, err = newDeliveryID(); err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "sluice-notify")
	h.Set(HeaderEvent, ev.Event)
	h.Set(HeaderDelivery, delivery)
	_, err = w.call.do(ctx, call{
		op:     "deliver " + ev.Event,
		method: http.MethodPost,
		url:    w.url,
		header: h,
		body:   body,
		sign: func(h http.Header, body []byte) {
			ts := strconv.FormatInt(w.now().Unix(), 10)
			h.Set(HeaderTimestamp, ts)
			h.Set(HeaderSignature, "sha256="+hmacHex(w.secret, []byte(ts), []byte("."), body))
		},
	})
	return err
}

func newDeliveryID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make delivery id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// DefaultWebhookSkew is the timestamp window VerifyWebhook uses when given
// none.
const DefaultWebhookSkew = 5 * time.Minute

// VerifyWebhook checks a webhook delivery as a receiver should: header
// carries X-Sluice-Timestamp (unix seconds) no further than maxSkew from now
// (DefaultWebhookSkew when maxSkew <= 0) and X-Sluice-Signature equal to
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)), compared in
// constant time. body must be the raw bytes received. The error wraps
// ErrInvalidSignature or ErrStaleTimestamp.
func VerifyWebhook(secret string, header http.Header, body []byte, now time.Time, maxSkew time.Duration) error {
	if secret == "" {
		return errors.New("verify webhook: empty secret")
	}
	if maxSkew <= 0 {
		maxSkew = DefaultWebhookSkew
	}
	ts := header.Get(HeaderTimestamp)
	if err := checkTimestamp(ts, now, maxSkew); err != nil {
		return fmt.Errorf("verify webhook: %w", err)
	}
	if err := checkHMAC([]byte(secret), header.Get(HeaderSignature), "sha256=", []byte(ts), []byte("."), body); err != nil {
		return fmt.Errorf("verify webhook: %w", err)
	}
	return nil
}

// checkTimestamp checks that ts, unix seconds, is within skew of now.
func checkTimestamp(ts string, now time.Time, skew time.Duration) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: missing or malformed timestamp", ErrInvalidSignature)
	}
	d := now.Sub(time.Unix(sec, 0))
	if d < -skew || d > skew {
		return ErrStaleTimestamp
	}
	return nil
}
