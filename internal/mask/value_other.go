package mask

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// other replaces a value of a scalar type that cannot hold free text, as a
// column rule says:
//
//	type                   redact               hash, fake             partial
//	int2, int4, int8, oid  0                    derived, >= 0          last 4 digits
//	float4, float8         0                    derived integer        withheld
//	numeric                0                    derived integer        withheld
//	bool                   false                derived                withheld
//	date                   1970-01-01           derived, 1970..2069    withheld
//	timestamp(tz)          1970-01-01 00:00:00  derived, 1970..2069    withheld
//	time                   00:00:00             derived                withheld
//	bytea                  empty                8 derived bytes        withheld
//	anything else          withheld             withheld               withheld
//
// Integers, floats and booleans are hashed in a canonical form, so text and
// binary results line up; other types are hashed as sent. Text output
// follows PostgreSQL's defaults (DateStyle ISO, bytea_output hex).
func (m *ColumnMasker) other(dst []byte, oid uint32, format int16, v []byte) ([]byte, error) {
	st := m.rule.strategy
	bin := format == FormatBinary
	domain := domainHash
	if st == Fake {
		domain = domainFake
	}
	derive := func(canon []byte) uint64 {
		sum := m.e.hashBytes(domain, canon)
		return binary.BigEndian.Uint64(sum[:8])
	}
	switch oid {
	case OIDInt2, OIDInt4, OIDInt8, OIDOID:
		width, maxv := 8, uint64(math.MaxInt64)
		switch oid {
		case OIDInt2:
			width, maxv = 2, math.MaxInt16
		case OIDInt4:
			width, maxv = 4, math.MaxInt32
		case OIDOID:
			width, maxv = 4, math.MaxUint32
		}
		var n int64
		if bin {
			if len(v) != width {
				return dst, errors.New("integer: wrong binary length")
			}
			switch width {
			case 2:
				n = int64(int16(binary.BigEndian.Uint16(v)))
			case 4:
				n = int64(int32(binary.BigEndian.Uint32(v)))
				if oid == OIDOID {
					n = int64(binary.BigEndian.Uint32(v))
				}
			default:
				n = int64(binary.BigEndian.Uint64(v))
			}
		} else {
			var err error
			if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
				return dst, errors.New("integer: malformed text")
			}
		}
		var out int64
		switch st {
		case Redact:
		case Partial:
			out = n % 10000
		default:
			var canon [20]byte
			out = int64(derive(strconv.AppendInt(canon[:0], n, 10)) % (maxv + 1))
		}
		if !bin {
			return strconv.AppendInt(dst, out, 10), nil
		}
		switch width {
		case 2:
			return binary.BigEndian.AppendUint16(dst, uint16(out)), nil
		case 4:
			return binary.BigEndian.AppendUint32(dst, uint32(out)), nil
		}
		return binary.BigEndian.AppendUint64(dst, uint64(out)), nil

	case OIDFloat4, OIDFloat8:
		if st == Partial {
			break
		}
		var f float64
		switch {
		case bin && oid == OIDFloat4 && len(v) == 4:
			f = float64(math.Float32frombits(binary.BigEndian.Uint32(v)))
		case bin && oid == OIDFloat8 && len(v) == 8:
			f = math.Float64frombits(binary.BigEndian.Uint64(v))
		case bin:
			return dst, errors.New("float: wrong binary length")
		default:
			var err error
			if f, err = strconv.ParseFloat(string(v), 64); err != nil {
				return dst, errors.New("float: malformed text")
			}
		}
		var out float64
		if st != Redact {
			var canon [32]byte
			out = float64(derive(strconv.AppendFloat(canon[:0], f, 'g', -1, 64)) % (1 << 24))
		}
		switch {
		case !bin:
			return strconv.AppendFloat(dst, out, 'f', -1, 64), nil
		case oid == OIDFloat4:
			return binary.BigEndian.AppendUint32(dst, math.Float32bits(float32(out))), nil
		}
		return binary.BigEndian.AppendUint64(dst, math.Float64bits(out)), nil

	case OIDNumeric:
		if st == Partial {
			break
		}
		var out uint64
		if st != Redact {
			out = derive(v) % 1e12
		}
		if !bin {
			return strconv.AppendUint(dst, out, 10), nil
		}
		return appendNumericBinary(dst, out), nil

	case OIDBool:
		if st == Partial {
			break
		}
		if bin && len(v) != 1 || !bin && len(v) == 0 {
			return dst, errors.New("bool: malformed value")
		}
		b := false
		if st != Redact {
			t := v[0] == 1 || v[0] == 't'
			canon := []byte("f")
			if t {
				canon = []byte("t")
			}
			b = derive(canon)&1 == 1
		}
		switch {
		case bin && b:
			return append(dst, 1), nil
		case bin:
			return append(dst, 0), nil
		case b:
			return append(dst, 't'), nil
		}
		return append(dst, 'f'), nil

	case OIDDate, OIDTimestamp, OIDTimestampTZ, OIDTime:
		if st == Partial {
			break
		}
		var secs int64 // since 1970-01-01 (for time: since midnight)
		if st != Redact {
			d := derive(v)
			switch oid {
			case OIDDate:
				secs = int64(d%36500) * 86400
			case OIDTime:
				secs = int64(d % 86400)
			default:
				secs = int64(d % (36500 * 86400))
			}
		}
		const pgEpoch = 946684800 // 2000-01-01 in Unix seconds
		if bin {
			switch oid {
			case OIDDate:
				return binary.BigEndian.AppendUint32(dst, uint32(int32((secs-pgEpoch)/86400))), nil
			case OIDTime:
				return binary.BigEndian.AppendUint64(dst, uint64(secs*1e6)), nil
			}
			return binary.BigEndian.AppendUint64(dst, uint64((secs-pgEpoch)*1e6)), nil
		}
		t := time.Unix(secs, 0).UTC()
		switch oid {
		case OIDDate:
			return t.AppendFormat(dst, "2006-01-02"), nil
		case OIDTime:
			return t.AppendFormat(dst, "15:04:05"), nil
		case OIDTimestamp:
			return t.AppendFormat(dst, "2006-01-02 15:04:05"), nil
		}
		return t.AppendFormat(dst, "2006-01-02 15:04:05+00"), nil

	case OIDBytea:
		if st == Partial {
			break
		}
		var out []byte
		if st != Redact {
			sum := m.e.hashBytes(domain, v)
			out = sum[:8]
		}
		if bin {
			return append(dst, out...), nil
		}
		dst = append(dst, '\\', 'x')
		const hexd = "0123456789abcdef"
		for _, b := range out {
			dst = append(dst, hexd[b>>4], hexd[b&15])
		}
		return dst, nil
	}
	return dst, fmt.Errorf("%w: strategy %s has no valid replacement for type %d", ErrWithhold, st, oid)
}

// appendNumericBinary appends a non-negative integer in the binary form of
// numeric: ndigits, weight, sign, dscale, then base-10000 digits.
func appendNumericBinary(dst []byte, v uint64) []byte {
	var digits [5]uint16
	n := 0
	for x := v; x > 0; x /= 10000 {
		n++
	}
	for k, x := n-1, v; k >= 0; k, x = k-1, x/10000 {
		digits[k] = uint16(x % 10000)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	weight := n - 1
	if n == 0 {
		weight = 0
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(weight)))
	dst = binary.BigEndian.AppendUint16(dst, 0) // positive
	dst = binary.BigEndian.AppendUint16(dst, 0) // dscale
	for _, d := range digits[:n] {
		dst = binary.BigEndian.AppendUint16(dst, d)
	}
	return dst
}
