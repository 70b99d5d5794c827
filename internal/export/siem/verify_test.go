package siem

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// signedRequest returns a delivery of body signed with secret at ts.
func signedRequest(secret string, ts time.Time, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	sec := strconv.FormatInt(ts.Unix(), 10)
	r.Header.Set(HeaderTimestamp, sec)
	r.Header.Set(HeaderSignature, "sha256="+signature([]byte(secret), sec, body))
	return r
}

func TestVerifyWebhook(t *testing.T) {
	body := []byte(`{"records":[{"seq":1}]}`)
	now := time.Now()
	cases := []struct {
		name    string
		req     func() *http.Request
		body    []byte
		maxSkew time.Duration
		want    error
	}{
		{"valid", func() *http.Request { return signedRequest(testWebhookSecret, now, body) }, body, time.Minute, nil},
		{"valid, default window", func() *http.Request { return signedRequest(testWebhookSecret, now.Add(-4*time.Minute), body) }, body, 0, nil},
		{"tampered body", func() *http.Request { return signedRequest(testWebhookSecret, now, body) },
			[]byte(`{"records":[{"seq":2}]}`), time.Minute, ErrBadSignature},
		{"wrong secret", func() *http.Request { return signedRequest("some-other-secret-value", now, body) }, body, time.Minute, ErrBadSignature},
		{"old timestamp", func() *http.Request { return signedRequest(testWebhookSecret, now.Add(-2*time.Minute), body) }, body, time.Minute, ErrStaleTimestamp},
		{"old, default window", func() *http.Request { return signedRequest(testWebhookSecret, now.Add(-6*time.Minute), body) }, body, 0, ErrStaleTimestamp},
		{"future timestamp", func() *http.Request { return signedRequest(testWebhookSecret, now.Add(2*time.Minute), body) }, body, time.Minute, ErrStaleTimestamp},
		{"timestamp changed", func() *http.Request {
			r := signedRequest(testWebhookSecret, now.Add(-10*time.Minute), body)
			r.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
			return r
		}, body, time.Minute, ErrBadSignature},
		{"no signature", func() *http.Request {
			r := signedRequest(testWebhookSecret, now, body)
			r.Header.Del(HeaderSignature)
			return r
		}, body, time.Minute, ErrBadSignature},
		{"no timestamp", func() *http.Request {
			r := signedRequest(testWebhookSecret, now, body)
			r.Header.Del(HeaderTimestamp)
			return r
		}, body, time.Minute, ErrStaleTimestamp},
		{"timestamp not canonical", func() *http.Request {
			r := signedRequest(testWebhookSecret, now, body)
			r.Header.Set(HeaderTimestamp, "+"+r.Header.Get(HeaderTimestamp))
			return r
		}, body, time.Minute, ErrStaleTimestamp},
		{"signature without prefix", func() *http.Request {
			r := signedRequest(testWebhookSecret, now, body)
			r.Header.Set(HeaderSignature, r.Header.Get(HeaderSignature)[len("sha256="):])
			return r
		}, body, time.Minute, ErrBadSignature},
		{"signature not hex", func() *http.Request {
			r := signedRequest(testWebhookSecret, now, body)
			r.Header.Set(HeaderSignature, "sha256=zz")
			return r
		}, body, time.Minute, ErrBadSignature},
		{"truncated signature", func() *http.Request {
			r := signedRequest(testWebhookSecret, now, body)
			r.Header.Set(HeaderSignature, r.Header.Get(HeaderSignature)[:20])
			return r
		}, body, time.Minute, ErrBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyWebhook(testWebhookSecret, tc.req(), tc.body, tc.maxSkew)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("VerifyWebhook = %v, want %v", err, tc.want)
			}
			noSecret(t, err, testWebhookSecret)
		})
	}
	if err := VerifyWebhook("", signedRequest("", now, body), body, 0); err == nil {
		t.Fatal("an empty secret verified a delivery")
	}
}

// The signature is HMAC-SHA256 over "<timestamp>.<body>", as receivers in
// other languages compute it, and VerifyWebhook accepts it.
func TestSignatureKnownAnswer(t *testing.T) {
	body := []byte(`{"records":[]}`)
	// printf '%s' '1767312000.{"records":[]}' | openssl dgst -sha256 -hmac k
	const want = "213dc0c5f312928ad9441169d6aaed7ac041a7bae3429c6e5294c76c513b359d"
	if got := signature([]byte("k"), "1767312000", body); got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	h := http.Header{}
	h.Set(HeaderTimestamp, "1767312000")
	h.Set(HeaderSignature, "sha256="+want)
	if err := verifyWebhook("k", h, body, time.Minute, time.Unix(1767312030, 0)); err != nil {
		t.Fatal(err)
	}
	if err := verifyWebhook("k", h, body, time.Minute, time.Unix(1767312061, 0)); !errors.Is(err, ErrStaleTimestamp) {
		t.Fatalf("61s late with a 1m window: %v", err)
	}
}
