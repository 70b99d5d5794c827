package mask

import (
	"bytes"
	"encoding/hex"
	"unicode/utf8"
)

// fakeRNG draws the characters of a fake from a ChaCha8 stream seeded with
// HMAC(key, value): deterministic for a key and value, unpredictable
// without the key.
type fakeRNG struct {
	h *hasher
}

func (r fakeRNG) n(m uint64) byte { return byte(r.h.rng.Uint64() % m) }
func (r fakeRNG) digit() byte     { return '0' + r.n(10) }
func (r fakeRNG) upper() byte     { return 'A' + r.n(26) }
func (r fakeRNG) lower() byte     { return 'a' + r.n(26) }

// withRNG runs f with a generator seeded for v.
func (e *Engine) withRNG(v []byte, f func(r fakeRNG)) {
	h := e.getHasher()
	h.rng.Seed([32]byte(h.sum(domainFake, v)))
	f(fakeRNG{h})
	e.hashers.Put(h)
}

// fake appends a replacement of the same kind as the hit v of detector k.
func (e *Engine) fake(dst []byte, k kind, v []byte) []byte {
	switch k {
	case kEmail:
		return e.fakeEmail(dst, v)
	case kCard:
		return e.fakeCard(dst, v)
	case kPhone:
		return e.fakeDigits(dst, v, 1, '0')
	case kSSN:
		return e.fakeDigits(dst, v, 0, '9')
	case kIP:
		return e.fakeIP(dst, v)
	case kIBAN:
		return e.fakeIBAN(dst, v)
	}
	return e.fakeGeneric(dst, v, tokenPrefixLen(k, v))
}

// fakeEmail appends "u<10 hex>@example.invalid" (RFC 2606 reserves
// .invalid, so the address can never deliver mail).
func (e *Engine) fakeEmail(dst, v []byte) []byte {
	sum := e.hashBytes(domainFake, v)
	dst = append(dst, 'u')
	dst = hex.AppendEncode(dst, sum[:5])
	return append(dst, "@example.invalid"...)
}

// fakeDigits appends v with its digits replaced; the first keep digits
// stay, and when first is not '0' the first digit becomes first (the 9xx
// area of an SSN, which is never issued).
func (e *Engine) fakeDigits(dst, v []byte, keep int, first byte) []byte {
	e.withRNG(v, func(r fakeRNG) {
		seen := 0
		for _, c := range v {
			if !isDigit(c) {
				dst = append(dst, c)
				continue
			}
			switch {
			case seen < keep:
				dst = append(dst, c)
			case seen == 0 && first != '0':
				dst = append(dst, first)
			default:
				dst = append(dst, r.digit())
			}
			seen++
		}
	})
	return dst
}

// fakeCard appends a card number with the same length, separators and
// first digit (the network) as v and a valid Luhn check digit.
func (e *Engine) fakeCard(dst, v []byte) []byte {
	start := len(dst)
	dst = e.fakeDigits(dst, v, 1, '0')
	out := dst[start:]
	// Recompute the check digit (the last digit).
	sum := 0
	double := true
	last := -1
	for k := len(out) - 1; k >= 0; k-- {
		if !isDigit(out[k]) {
			continue
		}
		if last < 0 {
			last = k
			continue
		}
		d := int(out[k] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	if last >= 0 {
		out[last] = byte('0' + (10-sum%10)%10)
	}
	return dst
}

// fakeIP appends an address from a documentation range: 192.0.2.0/24,
// 198.51.100.0/24 or 203.0.113.0/24 for IPv4 (RFC 5737), 2001:db8::/32
// for IPv6 (RFC 3849). The detectors skip these ranges.
func (e *Engine) fakeIP(dst, v []byte) []byte {
	sum := e.hashBytes(domainFake, v)
	if bytes.IndexByte(v, ':') < 0 {
		nets := [...]string{"192.0.2.", "198.51.100.", "203.0.113."}
		dst = append(dst, nets[sum[0]%3]...)
		return appendUint(dst, uint64(sum[1])%254+1)
	}
	dst = append(dst, "2001:db8"...)
	for k := 0; k < 6; k++ {
		dst = append(dst, ':')
		dst = hex.AppendEncode(dst, sum[2+2*k:4+2*k])
	}
	return dst
}

// fakeIBAN appends an IBAN of the same country, length and layout with a
// valid checksum.
func (e *Engine) fakeIBAN(dst, v []byte) []byte {
	start := len(dst)
	e.withRNG(v, func(r fakeRNG) {
		for k, c := range v {
			switch {
			case k < 2 || c == ' ':
				dst = append(dst, c)
			case isDigit(c):
				dst = append(dst, r.digit())
			case isUpper(c):
				dst = append(dst, r.upper())
			default:
				dst = append(dst, c)
			}
		}
	})
	out := dst[start:]
	var compact [34]byte
	n := 0
	for _, c := range out {
		if c != ' ' && n < len(compact) {
			compact[n] = c
			n++
		}
	}
	compact[2], compact[3] = '0', '0'
	check := 98 - ibanMod97(compact[:n])
	// The check digits are the 3rd and 4th characters (never spaces).
	out[2], out[3] = byte('0'+check/10), byte('0'+check%10)
	return dst
}

// fakeGeneric appends v with its first keep bytes unchanged and every
// other letter and digit replaced by a random one of the same class;
// punctuation stays, other runes become lower-case letters.
func (e *Engine) fakeGeneric(dst, v []byte, keep int) []byte {
	dst = append(dst, v[:keep]...)
	e.withRNG(v, func(r fakeRNG) {
		for k := keep; k < len(v); {
			c := v[k]
			switch {
			case isDigit(c):
				dst = append(dst, r.digit())
			case isUpper(c):
				dst = append(dst, r.upper())
			case c >= 'a' && c <= 'z':
				dst = append(dst, r.lower())
			case c < utf8.RuneSelf:
				dst = append(dst, c)
			default:
				_, size := utf8.DecodeRune(v[k:])
				dst = append(dst, r.lower())
				k += size
				continue
			}
			k++
		}
	})
	return dst
}

// tokenPrefixLen returns how much of a token's literal prefix a fake keeps
// ("ghp_", "xoxb-", "sk_live_", "AKIA"), so that it still says what it was.
func tokenPrefixLen(k kind, v []byte) int {
	idx := func(c byte, within int) int {
		if x := bytes.IndexByte(v[:min(len(v), within)], c); x >= 0 {
			return x + 1
		}
		return 0
	}
	switch k {
	case kAWSKeyID, kGoogle:
		return 4
	case kGitHub:
		if bytes.HasPrefix(v, []byte("github_pat_")) {
			return 11
		}
		return idx('_', 4)
	case kGitLab:
		if bytes.HasPrefix(v, []byte("GR1348941")) {
			return 9
		}
		return idx('-', 8)
	case kSlack:
		return idx('-', 5)
	case kStripe:
		if x := bytes.LastIndexByte(v[:min(len(v), 8)], '_'); x >= 0 {
			return x + 1
		}
	case kSluice:
		return 10
	case kPEM:
		if x := bytes.Index(v, []byte("KEY-----")); x >= 0 {
			return x + 8
		}
	}
	return 0
}

// fakeUUIDText appends a random-looking version 4 UUID derived from v in
// the canonical text form.
func (e *Engine) fakeUUIDText(dst, v []byte) []byte {
	u := e.derivedUUID(domainFake, v)
	return appendUUID(dst, u)
}

// derivedUUID derives a version 4, RFC 9562 variant UUID from v.
func (e *Engine) derivedUUID(domain, v []byte) (u [16]byte) {
	sum := e.hashBytes(domain, v)
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

func appendUUID(dst []byte, u [16]byte) []byte {
	dst = hex.AppendEncode(dst, u[0:4])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, u[4:6])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, u[6:8])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, u[8:10])
	dst = append(dst, '-')
	return hex.AppendEncode(dst, u[10:16])
}

// parseUUID parses a UUID in the forms PostgreSQL accepts that matter
// here: 36 characters with hyphens, or 32 hex digits, optionally in braces.
func parseUUID(v []byte) (u [16]byte, ok bool) {
	if len(v) >= 2 && v[0] == '{' && v[len(v)-1] == '}' {
		v = v[1 : len(v)-1]
	}
	var hx [32]byte
	n := 0
	for k, c := range v {
		if c == '-' {
			if len(v) != 36 || (k != 8 && k != 13 && k != 18 && k != 23) {
				return u, false
			}
			continue
		}
		if !is(c, fHex) || n == 32 {
			return u, false
		}
		hx[n] = c
		n++
	}
	if n != 32 || (len(v) != 32 && len(v) != 36) {
		return u, false
	}
	for k := range u {
		u[k] = hexVal(hx[2*k])<<4 | hexVal(hx[2*k+1])
	}
	return u, true
}

func isUUIDText(v []byte) bool {
	_, ok := parseUUID(v)
	return ok
}

func appendUint(dst []byte, v uint64) []byte {
	var b [20]byte
	k := len(b)
	for {
		k--
		b[k] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, b[k:]...)
}
