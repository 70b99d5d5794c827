package mask

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
)

// jwtEnd returns the end of a compact JWS (three base64url parts, the last
// possibly empty, as with "alg":"none") or JWE (five parts) at i, or 0.
// With checkHeader, the first part must decode to a JSON object that has
// an "alg" member, which tells a JWT from any dotted base64 ("eyJ" is just
// the encoding of `{"`).
func jwtEnd(src []byte, i int, checkHeader bool) int {
	h := run(src, i, fB64URL)
	if h-i < 16 || at(src, h) != '.' {
		return 0
	}
	p := run(src, h+1, fB64URL)
	if at(src, p) != '.' {
		return 0
	}
	end := run(src, p+1, fB64URL) // the signature may be empty
	if at(src, end) == '.' && is(at(src, end+1), fB64URL) {
		// JWE: header.key.iv.ciphertext.tag; the key is empty with "dir".
		c := run(src, end+1, fB64URL)
		if at(src, c) != '.' {
			return 0
		}
		end = run(src, c+1, fB64URL)
		if at(src, end) == '.' && is(at(src, end+1), fB64URL) {
			return 0
		}
	} else if p-h-1 < 2 {
		return 0
	}
	if c := at(src, end); c == '=' || c == '.' && is(at(src, end+1), fAlnum) {
		return 0
	}
	if checkHeader && !jwtHeader(src[i:h]) {
		return 0
	}
	return end
}

// jwtHeader reports whether b is base64url of a JSON object with "alg".
func jwtHeader(b []byte) bool {
	if len(b) > 1024 {
		return false
	}
	var buf [768]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], b)
	if err != nil {
		return false
	}
	h := bytes.TrimSpace(buf[:n])
	if len(h) < 2 || h[0] != '{' || !bytes.Contains(h, []byte(`"alg"`)) {
		return false
	}
	return json.Valid(h)
}

// pemEnd returns the end of a PEM private key block whose "-----BEGIN"
// ended at j: the header's label must end in "PRIVATE KEY" (RSA, EC, DSA,
// OPENSSH, ENCRYPTED, PGP ... BLOCK, or none). The block runs to the end
// of its "-----END ...-----" line; when that is missing (a truncated log
// line) it runs to the end of the base64 body, so that no key material is
// left behind.
func (s *scanner) pemEnd(j int) int {
	src := s.src
	if at(src, j) != ' ' {
		return 0
	}
	k := j + 1
	for k < len(src) && k-j < 48 && (is(src[k], fUpper|fDigit) || src[k] == ' ') {
		k++
	}
	label := src[j+1 : k]
	if !hasPrefixAt(src, k, "-----") ||
		!(bytes.HasSuffix(label, []byte("PRIVATE KEY")) || bytes.HasSuffix(label, []byte("PRIVATE KEY BLOCK"))) {
		return 0
	}
	body := k + 5
	limit := min(len(src), body+64<<10)
	if x := s.pemEndLine(body, limit); x >= 0 {
		e := x + 9
		for e < limit && (is(src[e], fUpper|fDigit) || src[e] == ' ') {
			e++
		}
		if hasPrefixAt(src, e, "-----") {
			return e + 5
		}
		return e
	}
	e := body
	for e < limit && (is(src[e], fB64|fSpace) || src[e] == '=' || src[e] == '\\' || src[e] == ':' ||
		src[e] == ',' || src[e] == '-' || src[e] == '.') {
		e++
	}
	return e
}

// pemEndLine returns the position of the next "-----END " in
// src[from:limit], or -1. It remembers how far it has searched, so that
// many BEGIN lines without an END do not search the same bytes again.
func (s *scanner) pemEndLine(from, limit int) int {
	const end = "-----END "
	if s.pemAt >= from && s.pemAt+len(end) <= limit {
		return s.pemAt
	}
	if s.pemAt < 0 && from < s.pemClear {
		from = max(from, s.pemClear-len(end)+1)
	}
	if from >= limit {
		return -1
	}
	if x := bytes.Index(s.src[from:limit], []byte(end)); x >= 0 {
		s.pemAt = from + x
		return s.pemAt
	}
	s.pemAt, s.pemClear = -1, limit
	return -1
}

// OpenSecret reports whether b ends inside a value that e detects only
// whole and that goes on past b: a PEM private key whose BEGIN line is in
// b and whose END line is not. A caller that masks a stream in pieces
// (lines) holds such a piece back and masks it with what follows.
func (e *Engine) OpenSecret(b []byte) bool {
	if e == nil || !e.on[kPEM] {
		return false
	}
	begin := bytes.LastIndex(b, []byte("-----BEGIN "))
	return begin >= 0 && bytes.Contains(b[begin:], []byte("PRIVATE KEY")) && !bytes.Contains(b[begin:], []byte("-----END "))
}
