package siem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/export"
)

const testWebhookSecret = "whsec-0123456789abcdef-never-printed"

// webhookReceiver is a receiver as a customer would write it: it checks
// every delivery with VerifyWebhook and keeps the records of those that
// pass.
type webhookReceiver struct {
	srv *httptest.Server

	mu         sync.Mutex
	deliveries [][]json.RawMessage
	refused    []error
	status     []int // scripted statuses, served first
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	rc := &webhookReceiver{}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *webhookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.status) > 0 {
		st := rc.status[0]
		rc.status = rc.status[1:]
		w.WriteHeader(st)
		// A receiver that echoes what it got, secrets included.
		fmt.Fprintf(w, "cannot take it now (sig %s, secret %s)", r.Header.Get(HeaderSignature), testWebhookSecret)
		return
	}
	if err := VerifyWebhook(testWebhookSecret, r, body, time.Minute); err != nil {
		rc.refused = append(rc.refused, err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want a JSON POST", http.StatusBadRequest)
		return
	}
	var d struct {
		Records []json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.deliveries = append(rc.deliveries, d.Records)
	w.WriteHeader(http.StatusNoContent)
}

func newTestWebhook(t *testing.T, c WebhookConfig) *Webhook {
	t.Helper()
	w, err := NewWebhook(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func TestWebhookDeliversSignedBatches(t *testing.T) {
	rc := newWebhookReceiver(t)
	w := newTestWebhook(t, WebhookConfig{URL: rc.srv.URL + "/hooks/audit?tenant=7", Secret: testWebhookSecret, CAFile: caFile(t, rc.srv)})
	batches := [][]export.Item{items(1, 3), items(4, 1), items(5, 10)}
	for i, b := range batches {
		if err := w.Send(context.Background(), b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.refused) != 0 {
		t.Fatalf("receiver refused deliveries: %v", rc.refused)
	}
	if len(rc.deliveries) != len(batches) {
		t.Fatalf("%d deliveries for %d batches", len(rc.deliveries), len(batches))
	}
	for i, b := range batches {
		if len(rc.deliveries[i]) != len(b) {
			t.Fatalf("delivery %d: %d records, want %d", i, len(rc.deliveries[i]), len(b))
		}
		for j, it := range b {
			sameJSON(t, "record "+strconv.FormatUint(it.Seq, 10), rc.deliveries[i][j], it.Data)
		}
	}
}

func TestWebhookRefusalThenSuccess(t *testing.T) {
	rc := newWebhookReceiver(t)
	rc.status = []int{http.StatusServiceUnavailable, http.StatusBadRequest}
	w := newTestWebhook(t, WebhookConfig{URL: rc.srv.URL, Secret: testWebhookSecret, CAFile: caFile(t, rc.srv)})
	batch := items(1, 2)
	for _, want := range []int{503, 400} {
		err := w.Send(context.Background(), batch)
		var se *StatusError
		if !errors.As(err, &se) || se.Status != want || se.Sink != "webhook" {
			t.Fatalf("Send: %v, want HTTP %d", err, want)
		}
		if !strings.Contains(err.Error(), "cannot take it now") {
			t.Errorf("error %q lacks the receiver's text", err)
		}
		noSecret(t, err, testWebhookSecret)
	}
	if err := w.Send(context.Background(), batch); err != nil {
		t.Fatalf("resend: %v", err)
	}
	if len(rc.deliveries) != 1 {
		t.Fatalf("%d deliveries accepted", len(rc.deliveries))
	}
}

// A sender with another secret is refused by the receiver, and the
// refusal does not show either secret.
func TestWebhookWrongSecretIsRefused(t *testing.T) {
	rc := newWebhookReceiver(t)
	other := "another-secret-0123456789"
	w := newTestWebhook(t, WebhookConfig{URL: rc.srv.URL, Secret: other, CAFile: caFile(t, rc.srv)})
	err := w.Send(context.Background(), items(1, 1))
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), "invalid signature") {
		t.Fatalf("Send: %v", err)
	}
	noSecret(t, err, other, testWebhookSecret)
	if len(rc.refused) != 1 || !errors.Is(rc.refused[0], ErrBadSignature) {
		t.Fatalf("receiver: %v", rc.refused)
	}
}

// Errors do not show the URL, which may hold a token, nor the secret.
func TestWebhookErrorsHideURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook/tok3n-in-path?key=tok3n-in-query"
	srv.Close()
	w := newTestWebhook(t, WebhookConfig{URL: url, Secret: testWebhookSecret, Timeout: time.Second})
	err := w.Send(context.Background(), items(1, 1))
	if err == nil {
		t.Fatal("Send to nobody succeeded")
	}
	noSecret(t, err, "tok3n", testWebhookSecret)
	if _, err := NewWebhook(WebhookConfig{URL: "http://hooks.example/tok3n", Secret: testWebhookSecret}); err == nil {
		t.Fatal("plain http to a remote host accepted")
	} else {
		noSecret(t, err, "tok3n")
	}
}

func TestWebhookCloseAndEmptyBatch(t *testing.T) {
	rc := newWebhookReceiver(t)
	w, err := NewWebhook(WebhookConfig{URL: rc.srv.URL, Secret: testWebhookSecret, CAFile: caFile(t, rc.srv)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Send(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Send(context.Background(), items(1, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if len(rc.deliveries) != 0 {
		t.Fatalf("%d deliveries", len(rc.deliveries))
	}
}

func TestNewWebhookChecksConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  WebhookConfig
		want string
	}{
		{WebhookConfig{Secret: testWebhookSecret}, "URL is required"},
		{WebhookConfig{URL: "http://hooks.example/x", Secret: testWebhookSecret}, "must use https"},
		{WebhookConfig{URL: "https://u:p@hooks.example/x", Secret: testWebhookSecret}, "user info"},
		{WebhookConfig{URL: "https://hooks.example/x"}, "secret must be at least 16 bytes"},
		{WebhookConfig{URL: "https://hooks.example/x", Secret: "short"}, "secret must be at least 16 bytes"},
		{WebhookConfig{URL: "https://hooks.example/x", Secret: testWebhookSecret, Timeout: -1}, "timeout"},
		{WebhookConfig{URL: "https://hooks.example/x", Secret: testWebhookSecret, CAFile: "/nonexistent.pem"}, "read CA file"},
	} {
		_, err := NewWebhook(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewWebhook(%+v) = %v, want an error with %q", tc.cfg, err, tc.want)
		}
		noSecret(t, err, testWebhookSecret, "short")
	}
}

func TestWebhookBody(t *testing.T) {
	b, err := webhookBody([]export.Item{
		{Seq: 1, Data: []byte("{\n  \"a\": 1\n}")},
		{Seq: 2, Data: []byte(`{"b":"<&>"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"records":[{"a":1},{"b":"<&>"}]}`; string(b) != want {
		t.Fatalf("body %s, want %s", b, want)
	}
	for _, bad := range []string{``, `null`, `[]`, `"s"`, `{"a":}`, `{} {}`} {
		if _, err := webhookBody([]export.Item{{Seq: 9, Data: []byte(bad)}}); err == nil || !strings.Contains(err.Error(), "item seq 9") {
			t.Errorf("record %q: %v", bad, err)
		}
	}
}
