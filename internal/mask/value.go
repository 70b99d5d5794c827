package mask

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxName is PostgreSQL's NAMEDATALEN-1: the longest name in bytes.
const maxName = 63

// Value appends the masked form of one non-NULL value v of type oid in
// the given format (FormatText or FormatBinary, as in RowDescription) and
// returns the extended buffer. The masked value is valid for its type and
// format, so drivers decode it as they would the original:
//
//   - text, varchar, unknown: detectors, or the rule's replacement;
//   - bpchar: the same, then padded with spaces or cut to the original
//     length in characters;
//   - name: the same, cut to 63 bytes at a character boundary;
//   - json, jsonb (binary: version byte 1 and the text): path rules and
//     detectors inside strings (see Engine.JSON); a column rule replaces
//     the whole document by a JSON string ("[redacted]", "h:…", ...);
//   - arrays of any of these (text "{…}" and binary): element by element,
//     with quoting and lengths rebuilt;
//   - uuid: only by a column rule: redact gives the nil UUID, partial
//     keeps the last 4 hex digits and zeroes the rest, hash and fake give a
//     version 4 UUID derived from the value;
//   - inet, cidr: the ip detector or a rule: redact gives 0.0.0.0 (or ::),
//     hash and fake an address in a documentation range;
//   - other scalar types: detectors skip them; a rule gives a typed value
//     (see the package documentation: zero for redact, a derived value for
//     hash and fake) or ErrWithhold;
//   - opaque types (xml, composite, extension types): scanned; a detector
//     hit or a rule gives ErrWithhold.
//
// On any error, including a recovered panic, Value returns dst unchanged
// (bytes it may have written past len(dst) are zeroed) and an error that
// wraps ErrWithhold: the caller sends NULL instead. SQL NULL is not a
// value: the caller passes it through without calling Value.
func (m *ColumnMasker) Value(dst []byte, oid uint32, format int16, v []byte, c *Counts) (out []byte, err error) {
	n0 := len(dst)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: panic while masking: %v", ErrWithhold, r)
		}
		if err != nil {
			if len(out) > n0 {
				clear(out[n0:])
			}
			clear(dst[n0:cap(dst)])
			out = dst[:n0]
			if !errors.Is(err, ErrWithhold) {
				err = fmt.Errorf("%w: %w", ErrWithhold, err)
			}
		}
	}()
	if format != FormatText && format != FormatBinary {
		return dst, fmt.Errorf("unknown format code %d", format)
	}
	return m.value(dst, oid, format, v, c)
}

func (m *ColumnMasker) value(dst []byte, oid uint32, format int16, v []byte, c *Counts) ([]byte, error) {
	tc, elem := classOf(oid)
	switch tc {
	case tcText:
		return m.text(dst, v, c), nil
	case tcBPChar:
		n0 := len(dst)
		chars := utf8.RuneCount(v)
		dst = m.text(dst, v, c)
		return fitChars(dst, n0, chars), nil
	case tcName:
		n0 := len(dst)
		dst = m.text(dst, v, c)
		return cutBytes(dst, n0, maxName), nil
	case tcJSON:
		return m.json(dst, v, c)
	case tcJSONB:
		if format == FormatBinary {
			if len(v) == 0 || v[0] != 1 {
				return dst, errors.New("jsonb: unknown binary version")
			}
			return m.json(append(dst, 1), v[1:], c)
		}
		return m.json(dst, v, c)
	case tcUUID:
		return m.uuid(dst, format, v, c)
	case tcInet:
		return m.inet(dst, oid, format, v, c)
	case tcArray:
		if format == FormatBinary {
			return m.arrayBinary(dst, elem, v, c)
		}
		return m.arrayText(dst, elem, v, c)
	case tcOther:
		if m.rule == nil {
			return append(dst, v...), nil
		}
		dst, err := m.other(dst, oid, format, v)
		if err == nil {
			c.add(kColumnRule)
		}
		return dst, err
	}
	// Opaque.
	if m.rule != nil {
		return dst, fmt.Errorf("%w: a column rule cannot rewrite type %d", ErrWithhold, oid)
	}
	if m.e.detects() && m.e.detect(v, c) > 0 {
		return dst, fmt.Errorf("%w: detector hit in a value of type %d that cannot be rewritten", ErrWithhold, oid)
	}
	return append(dst, v...), nil
}

// text masks a text value: the rule's replacement, or the detectors.
func (m *ColumnMasker) text(dst, v []byte, c *Counts) []byte {
	if m.rule != nil {
		c.add(kColumnRule)
		return m.e.maskWhole(dst, m.rule.strategy, v)
	}
	if !m.e.detects() {
		return append(dst, v...)
	}
	dst, _ = m.e.scan(dst, v, c)
	return dst
}

// fitChars pads dst[n0:] with spaces or cuts it to exactly chars runes.
func fitChars(dst []byte, n0, chars int) []byte {
	k := n0
	for n := 0; n < chars; n++ {
		if k >= len(dst) {
			for ; n < chars; n++ {
				dst = append(dst, ' ')
			}
			return dst
		}
		_, size := utf8.DecodeRune(dst[k:])
		k += size
	}
	clear(dst[k:])
	return dst[:k]
}

// cutBytes cuts dst[n0:] to at most max bytes at a rune boundary.
func cutBytes(dst []byte, n0, limit int) []byte {
	if len(dst)-n0 <= limit {
		return dst
	}
	k := n0 + limit
	for k > n0 && !utf8.RuneStart(dst[k]) {
		k--
	}
	clear(dst[k:])
	return dst[:k]
}

// json masks a json or jsonb document (text form).
func (m *ColumnMasker) json(dst, v []byte, c *Counts) ([]byte, error) {
	if m.rule != nil {
		if !validJSON(v) {
			return dst, errors.New("json: invalid document")
		}
		c.add(kColumnRule)
		start := len(dst)
		dst = m.e.maskWhole(dst, m.rule.strategy, v)
		return quoteInPlace(dst, start), nil
	}
	return m.e.json(dst, v, c)
}

// uuid masks a uuid by the column rule; without one it passes.
func (m *ColumnMasker) uuid(dst []byte, format int16, v []byte, c *Counts) ([]byte, error) {
	var u [16]byte
	if format == FormatBinary {
		if len(v) != 16 {
			return dst, errors.New("uuid: binary value is not 16 bytes")
		}
		u = [16]byte(v)
	} else {
		var ok bool
		if u, ok = parseUUID(v); !ok {
			return dst, errors.New("uuid: invalid text")
		}
	}
	if m.rule == nil {
		return append(dst, v...), nil
	}
	var out [16]byte
	switch m.rule.strategy {
	case Redact:
	case Partial:
		out[14], out[15] = u[14], u[15]
	case Hash:
		out = m.e.derivedUUID(domainHash, u[:])
	case Fake:
		out = m.e.derivedUUID(domainFake, u[:])
	}
	c.add(kColumnRule)
	if format == FormatBinary {
		return append(dst, out[:]...), nil
	}
	return appendUUID(dst, out), nil
}

// inet masks inet and cidr values, by the column rule or, without one, as
// hits of the ip detector.
func (m *ColumnMasker) inet(dst []byte, oid uint32, format int16, v []byte, c *Counts) ([]byte, error) {
	st := m.e.strategy
	if m.rule != nil {
		st = m.rule.strategy
	} else if !m.e.on[kIP] {
		return append(dst, v...), nil
	}
	var v6 bool
	var addr [16]byte
	if format == FormatBinary {
		// family, bits, is_cidr, length, address
		if len(v) < 4 || int(v[3]) != len(v)-4 || !(v[0] == 2 && v[3] == 4 || v[0] == 3 && v[3] == 16) {
			return dst, errors.New("inet: malformed binary value")
		}
		v6 = v[0] == 3
		copy(addr[:], v[4:])
	} else {
		a := v
		for k, ch := range v {
			if ch == '/' {
				a = v[:k]
				break
			}
		}
		if end, a4, ok := parseIPv4(a, 0); ok && end == len(a) {
			copy(addr[:], a4[:])
		} else if a6, ok := parseIPv6(a); ok {
			v6, addr = true, a6
		} else {
			return dst, errors.New("inet: malformed text value")
		}
	}
	if m.rule == nil && (!v6 && skipIPv4([4]byte(addr[:4])) || v6 && skipIPv6(addr)) {
		return append(dst, v...), nil
	}
	var out [16]byte
	switch st {
	case Redact:
	case Hash, Fake:
		sum := m.e.hashBytes(domainFake, v)
		if v6 {
			out = [16]byte{0x20, 0x01, 0x0d, 0xb8}
			copy(out[4:], sum[:12])
		} else {
			nets := [...][3]byte{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}
			n := nets[sum[0]%3]
			out = [16]byte{n[0], n[1], n[2], sum[1]%254 + 1}
		}
	default:
		return dst, fmt.Errorf("%w: strategy %s does not apply to inet", ErrWithhold, st)
	}
	if m.rule != nil {
		c.add(kColumnRule)
	} else {
		c.add(kIP)
	}
	bits := byte(32)
	if v6 {
		bits = 128
	}
	if format == FormatBinary {
		fam, n := byte(2), byte(4)
		if v6 {
			fam, n = 3, 16
		}
		dst = append(dst, fam, bits, v[2], n)
		return append(dst, out[:n]...), nil
	}
	if v6 {
		dst = appendIPv6(dst, out)
	} else {
		for k := 0; k < 4; k++ {
			if k > 0 {
				dst = append(dst, '.')
			}
			dst = appendUint(dst, uint64(out[k]))
		}
	}
	if oid == OIDCIDR {
		dst = append(dst, '/')
		dst = appendUint(dst, uint64(bits))
	}
	return dst, nil
}

// appendIPv6 appends the full (uncompressed) text form of a.
func appendIPv6(dst []byte, a [16]byte) []byte {
	const hexd = "0123456789abcdef"
	for k := 0; k < 8; k++ {
		if k > 0 {
			dst = append(dst, ':')
		}
		g := binary.BigEndian.Uint16(a[2*k:])
		started := false
		for sh := 12; sh >= 0; sh -= 4 {
			d := byte(g>>sh) & 0xf
			if d != 0 || started || sh == 0 {
				dst = append(dst, hexd[d])
				started = true
			}
		}
	}
	return dst
}
