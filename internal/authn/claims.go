package authn

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// registered holds the registered JWT claims sluice checks itself.
type registered struct {
	Issuer    string       `json:"iss"`
	Audience  audience     `json:"aud"`
	Expiry    *numericDate `json:"exp"`
	NotBefore *numericDate `json:"nbf"`
	IssuedAt  *numericDate `json:"iat"`
	ID        string       `json:"jti"`
}

// audience is the aud claim, which may be a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = list
	return nil
}

// numericDate is a JWT NumericDate: seconds since the epoch, possibly with a
// fraction. Values outside years 1970..9999 are rejected.
type numericDate struct{ time.Time }

// maxNumericDate is 9999-12-31T23:59:59Z.
const maxNumericDate = 253402300799

func (d *numericDate) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return errors.New("time claim is not a number")
	}
	if math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return errors.New("time claim is out of range")
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

// checkTimes applies exp (required) and nbf (optional) with leeway. It
// returns nil or a caller-facing EUnauthenticated error.
func checkTimes(c *registered, now time.Time, leeway time.Duration) error {
	if c.Expiry == nil {
		return deny(msgInvalid, errors.New("token has no exp claim"))
	}
	if !now.Before(c.Expiry.Add(leeway)) {
		return deny(msgExpired, fmt.Errorf("expired at %s, now %s, leeway %s",
			c.Expiry.Format(time.RFC3339), now.UTC().Format(time.RFC3339), leeway))
	}
	if c.NotBefore != nil && now.Add(leeway).Before(c.NotBefore.Time) {
		return deny(msgNotYetValid, fmt.Errorf("not valid before %s, now %s, leeway %s",
			c.NotBefore.Format(time.RFC3339), now.UTC().Format(time.RFC3339), leeway))
	}
	return nil
}

// claims is a token's payload by claim name, for the configurable claims.
type claims map[string]json.RawMessage

// str returns the named claim if it is a non-empty string.
func (c claims) str(name string) (string, bool) {
	raw, ok := c[name]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || s == "" {
		return "", false
	}
	return s, true
}

// first returns the first of the named claims that is a non-empty string.
func (c claims) first(names []string) string {
	for _, n := range names {
		if s, ok := c.str(n); ok {
			return s
		}
	}
	return ""
}

// strs returns the named claim as a list: a string is a list of one, an
// array contributes its non-empty string elements, and anything else (a
// missing claim, a number, an object) contributes nothing.
func (c claims) strs(name string) []string {
	raw, ok := c[name]
	if !ok {
		return nil
	}
	if s, ok := c.str(name); ok {
		return []string{s}
	}
	var list []any
	if json.Unmarshal(raw, &list) != nil {
		return nil
	}
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// union merges the named claims' values in order, without duplicates.
func (c claims) union(names []string) []string {
	var out []string
	for _, n := range names {
		for _, s := range c.strs(n) {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// tokenRef names a token without revealing it: jti when the token has one,
// otherwise a short prefix of the token's SHA-256 hash.
func tokenRef(jti, token string) string {
	if jti != "" {
		return jti
	}
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:8])
}
