package siem

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/internal/export"
)

// Headers of a webhook delivery.
const (
	// HeaderTimestamp is the delivery's Unix time in seconds.
	HeaderTimestamp = "X-Sluice-Timestamp"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with the
	// shared secret, of the timestamp, ".", and the body.
	HeaderSignature = "X-Sluice-Signature"
)

// minSecret is the shortest webhook secret accepted, in bytes.
const minSecret = 16

// WebhookConfig configures a Webhook sink. URL and Secret are required; the
// zero value of every other field is useful.
type WebhookConfig struct {
	// URL receives the POSTs. https is required unless the host is
	// loopback. It is never printed: it may embed a token.
	URL string
	// Secret keys the deliveries' signatures: at least 16 bytes, best 32
	// random ones. The receiver checks them with VerifyWebhook.
	Secret string
	// Timeout bounds one Send, from connecting to reading the answer.
	// Default 10s.
	Timeout time.Duration
	// CAFile is a PEM file of certificates trusted, besides the system's
	// roots, to sign the receiver's certificate.
	CAFile string
}

// Webhook POSTs each batch as {"records":[...]}, the records as JSON
// objects in order, signed with HeaderTimestamp and HeaderSignature. Any 2xx
// answer accepts the batch. The records carry their own sequence numbers,
// by which the receiver drops the duplicates a resent batch brings. It is
// safe for concurrent use.
type Webhook struct {
	client *poster
	secret []byte
	now    func() time.Time // time.Now but in tests
}

var _ export.EventSink = (*Webhook)(nil)

// NewWebhook checks c and returns a sink. It reads c.CAFile; it opens no
// connection.
func NewWebhook(c WebhookConfig) (*Webhook, error) {
	u, err := checkHTTPURL("webhook URL", c.URL)
	if err != nil {
		return nil, err
	}
	if len(c.Secret) < minSecret {
		return nil, fmt.Errorf("webhook secret must be at least %d bytes", minSecret)
	}
	timeout, err := timeoutOrDefault(c.Timeout)
	if err != nil {
		return nil, fmt.Errorf("webhook %w", err)
	}
	// The URL is scrubbed too: a receiver may echo its own address.
	p, err := newPoster("webhook", u, c.CAFile, timeout, c.Secret, c.URL)
	if err != nil {
		return nil, err
	}
	return &Webhook{client: p, secret: []byte(c.Secret), now: time.Now}, nil
}

// Send posts the batch in one signed request; it succeeds on any 2xx
// answer. Any other answer is a *StatusError with the start of the
// receiver's text.
func (w *Webhook) Send(ctx context.Context, items []export.Item) error {
	if len(items) == 0 {
		return nil
	}
	body, err := webhookBody(items)
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	ans, err := w.client.post(ctx, body, http.Header{
		"Content-Type":  {"application/json"},
		HeaderTimestamp: {ts},
		HeaderSignature: {"sha256=" + signature(w.secret, ts, body)},
	})
	if err != nil {
		return err
	}
	if ans.status >= 200 && ans.status < 300 {
		return nil
	}
	return w.client.statusError(ans.status, string(ans.body))
}

// webhookBody renders {"records":[r1,r2,...]}, each record compacted.
func webhookBody(items []export.Item) ([]byte, error) {
	if _, err := readBatch(items); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(`{"records":[`)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := json.Compact(&b, it.Data); err != nil {
			return nil, fmt.Errorf("webhook: item seq %d: %w", it.Seq, errNotObject)
		}
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}

// Close closes idle connections; a Send after it fails with ErrClosed. It
// is idempotent.
func (w *Webhook) Close() error {
	w.client.close()
	return nil
}
