package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"math/rand/v2"
	"unicode/utf8"
)

// maskHit appends the replacement of a built-in detector's hit v.
func (e *Engine) maskHit(dst []byte, k kind, v []byte) []byte {
	switch e.strategy {
	case Redact:
		return append(dst, placeholders[k]...)
	case Partial:
		return partial(dst, v)
	case Hash:
		return e.hash(dst, v)
	}
	return e.fake(dst, k, v)
}

// maskCustom appends the replacement of a custom detector's hit v.
func (e *Engine) maskCustom(dst []byte, d *customDetector, v []byte) []byte {
	switch d.strategy {
	case Redact:
		return append(dst, d.placeholder...)
	case Partial:
		return partial(dst, v)
	case Hash:
		return e.hash(dst, v)
	}
	return e.fakeGeneric(dst, v, 0)
}

// maskWhole appends the replacement of a whole value matched by a column
// or path rule. Fake keeps the kind of value when a detector recognises
// all of v (an email, a card, a UUID, ...).
func (e *Engine) maskWhole(dst []byte, st Strategy, v []byte) []byte {
	switch st {
	case Redact:
		return append(dst, plainPlaceholder...)
	case Partial:
		return partial(dst, v)
	case Hash:
		return e.hash(dst, v)
	}
	if k, ok := sniff(v); ok {
		return e.fake(dst, k, v)
	}
	if isUUIDText(v) {
		return e.fakeUUIDText(dst, v)
	}
	return e.fakeGeneric(dst, v, 0)
}

// partialChar reports whether partial masks (or keeps) the rune r, rather
// than copying it as a separator.
func partialChar(r rune) bool {
	return r >= utf8.RuneSelf || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z'
}

// partial appends v with all but its last 4 letters and digits replaced by
// '*'; separators (ASCII punctuation and space) stay. At least 4
// characters are masked: of a value with n < 8 of them, n-4 are kept.
func partial(dst, v []byte) []byte {
	n := 0
	for k := 0; k < len(v); {
		r, size := utf8.DecodeRune(v[k:])
		if partialChar(r) {
			n++
		}
		k += size
	}
	keep := min(4, max(0, n-4))
	idx := 0
	for k := 0; k < len(v); {
		r, size := utf8.DecodeRune(v[k:])
		switch {
		case !partialChar(r):
			dst = append(dst, v[k:k+size]...)
		case idx >= n-keep:
			idx++
			dst = append(dst, v[k:k+size]...)
		default:
			idx++
			dst = append(dst, '*')
		}
		k += size
	}
	return dst
}

// Domains separate the uses of the key.
var (
	domainHash = []byte("sluice/mask/hash\x00")
	domainFake = []byte("sluice/mask/fake\x00")
)

// hasher is a pooled HMAC state with its output buffer and a generator
// for fakes, so that hashing allocates nothing.
type hasher struct {
	mac hash.Hash
	buf [sha256.Size]byte
	rng rand.ChaCha8
}

func (e *Engine) getHasher() *hasher {
	if h, ok := e.hashers.Get().(*hasher); ok {
		return h
	}
	return &hasher{mac: hmac.New(sha256.New, e.key)}
}

// sum returns HMAC-SHA256(key, domain || v) in h.buf.
func (h *hasher) sum(domain, v []byte) []byte {
	h.mac.Reset()
	h.mac.Write(domain)
	h.mac.Write(v)
	return h.mac.Sum(h.buf[:0])
}

// hash appends "h:" and 12 hex digits of the keyed hash of v.
func (e *Engine) hash(dst, v []byte) []byte {
	h := e.getHasher()
	sum := h.sum(domainHash, v)
	dst = append(dst, 'h', ':')
	dst = hex.AppendEncode(dst, sum[:6])
	e.hashers.Put(h)
	return dst
}

// hashBytes returns the keyed hash of v (for typed replacements).
func (e *Engine) hashBytes(domain, v []byte) (out [sha256.Size]byte) {
	h := e.getHasher()
	copy(out[:], h.sum(domain, v))
	e.hashers.Put(h)
	return out
}
