package siem

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Errors of VerifyWebhook. They say what was wrong with a delivery and
// never include the secret or the expected signature.
var (
	// ErrBadSignature is a missing, malformed or wrong signature.
	ErrBadSignature = errors.New("webhook: invalid signature")
	// ErrStaleTimestamp is a missing or malformed timestamp, or one
	// further from now than the allowed skew.
	ErrStaleTimestamp = errors.New("webhook: timestamp missing or outside the allowed window")
)

// DefaultMaxSkew is the replay window VerifyWebhook uses when given none.
const DefaultMaxSkew = 5 * time.Minute

// signature returns the hex HMAC-SHA256 of ts + "." + body.
func signature(secret []byte, ts string, body []byte) string {
	return hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks a Webhook delivery: r's HeaderSignature must be the
// HMAC-SHA256 with secret of r's HeaderTimestamp, ".", and body (the
// request body the caller has read), compared in constant time; and the
// timestamp must be within maxSkew of now (DefaultMaxSkew when maxSkew is
// not positive). It returns nil, ErrBadSignature or ErrStaleTimestamp.
//
// The window bounds how long a captured delivery can be replayed; within
// it the receiver drops replays and resends alike by the records' sequence
// numbers.
func VerifyWebhook(secret string, r *http.Request, body []byte, maxSkew time.Duration) error {
	return verifyWebhook(secret, r.Header, body, maxSkew, time.Now())
}

func verifyWebhook(secret string, h http.Header, body []byte, maxSkew time.Duration, now time.Time) error {
	if secret == "" {
		return errors.New("webhook: no secret to verify with")
	}
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ts != strconv.FormatInt(sec, 10) {
		// The canonical form only: the signature covers the header's text.
		return ErrStaleTimestamp
	}
	hexSig, ok := strings.CutPrefix(h.Get(HeaderSignature), "sha256=")
	if !ok {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || !hmac.Equal(got, mac([]byte(secret), ts, body)) {
		return ErrBadSignature
	}
	// Compared in seconds, so that no timestamp overflows a Duration.
	skew := now.Unix() - sec
	if skew < 0 {
		skew = -skew
	}
	if skew < 0 || skew > int64(maxSkew/time.Second) {
		return ErrStaleTimestamp
	}
	return nil
}
