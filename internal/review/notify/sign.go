package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// Errors of signature checks. They say what was wrong with a request and
// never include the secret or the expected signature.
var (
	// ErrInvalidSignature is a missing, malformed or wrong signature.
	ErrInvalidSignature = errors.New("invalid signature")
	// ErrStaleTimestamp is a signed timestamp too far from now.
	ErrStaleTimestamp = errors.New("timestamp outside the allowed window")
)

// hmacHex returns the hex HMAC-SHA256 of the concatenated parts.
func hmacHex(secret []byte, parts ...[]byte) string {
	m := hmac.New(sha256.New, secret)
	for _, p := range parts {
		m.Write(p)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// checkHMAC checks a header of the form prefix + hex(HMAC-SHA256(secret,
// parts...)) in constant time.
func checkHMAC(secret []byte, header, prefix string, parts ...[]byte) error {
	if len(secret) == 0 {
		return errors.New("no signing secret configured")
	}
	given, ok := strings.CutPrefix(header, prefix)
	if !ok {
		return ErrInvalidSignature
	}
	got, err := hex.DecodeString(given)
	if err != nil {
		return ErrInvalidSignature
	}
	m := hmac.New(sha256.New, secret)
	for _, p := range parts {
		m.Write(p)
	}
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrInvalidSignature
	}
	return nil
}
