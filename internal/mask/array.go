package mask

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// maxArrayDims is PostgreSQL's MAXDIM.
const maxArrayDims = 6

// bufPool holds scratch buffers for array elements and JSON strings.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// arrayText masks a text-format array "{a,"b c",NULL,{…}}", with an
// optional dimension decoration "[0:1]={…}", element by element.
func (m *ColumnMasker) arrayText(dst []byte, elem uint32, v []byte, c *Counts) ([]byte, error) {
	p := arrayParser{m: m, elem: elem, v: v, c: c}
	bp, bo := bufPool.Get().(*[]byte), bufPool.Get().(*[]byte)
	defer func() {
		clear((*bp)[:cap(*bp)])
		clear((*bo)[:cap(*bo)])
		bufPool.Put(bp)
		bufPool.Put(bo)
	}()
	p.raw, p.out = (*bp)[:0], (*bo)[:0]
	if len(v) > 0 && v[0] == '[' {
		eq := -1
		for k, ch := range v {
			if ch == '=' {
				eq = k
				break
			}
			if !(isDigit(ch) || ch == '[' || ch == ']' || ch == ':' || ch == '-') {
				break
			}
		}
		if eq < 0 {
			return dst, errors.New("array: malformed dimension decoration")
		}
		dst = append(dst, v[:eq+1]...)
		p.k = eq + 1
	}
	dst, err := p.array(dst, 0)
	*bp, *bo = p.raw[:0], p.out[:0]
	if err != nil {
		return dst, err
	}
	if p.k != len(v) {
		return dst, errors.New("array: junk after the array")
	}
	return dst, nil
}

type arrayParser struct {
	m    *ColumnMasker
	elem uint32
	v    []byte
	k    int
	c    *Counts
	raw  []byte // unquoted element, reused
	out  []byte // masked element, reused
}

func (p *arrayParser) ws() {
	for p.k < len(p.v) && is(p.v[p.k], fSpace) {
		p.k++
	}
}

// array parses "{…}" at p.k and appends its masked form.
func (p *arrayParser) array(dst []byte, depth int) ([]byte, error) {
	if depth >= maxArrayDims {
		return dst, errors.New("array: too many dimensions")
	}
	p.ws()
	if p.k >= len(p.v) || p.v[p.k] != '{' {
		return dst, errors.New("array: missing '{'")
	}
	p.k++
	dst = append(dst, '{')
	p.ws()
	if p.k < len(p.v) && p.v[p.k] == '}' {
		p.k++
		return append(dst, '}'), nil
	}
	for {
		p.ws()
		if p.k >= len(p.v) {
			return dst, errors.New("array: unterminated")
		}
		var err error
		if p.v[p.k] == '{' {
			if dst, err = p.array(dst, depth+1); err != nil {
				return dst, err
			}
		} else if dst, err = p.element(dst); err != nil {
			return dst, err
		}
		p.ws()
		if p.k >= len(p.v) {
			return dst, errors.New("array: unterminated")
		}
		switch p.v[p.k] {
		case ',':
			p.k++
			dst = append(dst, ',')
		case '}':
			p.k++
			return append(dst, '}'), nil
		default:
			return dst, fmt.Errorf("array: unexpected %q", p.v[p.k])
		}
	}
}

// element parses one element at p.k and appends it masked and quoted.
func (p *arrayParser) element(dst []byte) ([]byte, error) {
	v := p.v
	p.raw = p.raw[:0]
	quoted := v[p.k] == '"'
	if quoted {
		p.k++
		for {
			if p.k >= len(v) {
				return dst, errors.New("array: unterminated quoted element")
			}
			ch := v[p.k]
			if ch == '"' {
				p.k++
				break
			}
			if ch == '\\' {
				p.k++
				if p.k >= len(v) {
					return dst, errors.New("array: dangling backslash")
				}
				ch = v[p.k]
			}
			p.raw = append(p.raw, ch)
			p.k++
		}
	} else {
		lastNonSpace := 0
		for p.k < len(v) {
			ch := v[p.k]
			if ch == ',' || ch == '}' {
				break
			}
			if ch == '{' || ch == '"' {
				return dst, fmt.Errorf("array: unexpected %q in element", ch)
			}
			if ch == '\\' {
				p.k++
				if p.k >= len(v) {
					return dst, errors.New("array: dangling backslash")
				}
				p.raw = append(p.raw, v[p.k])
				p.k++
				lastNonSpace = len(p.raw)
				continue
			}
			p.raw = append(p.raw, ch)
			if !is(ch, fSpace) {
				lastNonSpace = len(p.raw)
			}
			p.k++
		}
		p.raw = p.raw[:lastNonSpace]
		if len(p.raw) == 0 {
			return dst, errors.New("array: empty unquoted element")
		}
		if equalFold(p.raw, "null") {
			return append(dst, "NULL"...), nil
		}
	}
	var err error
	p.out, err = p.m.value(p.out[:0], p.elem, FormatText, p.raw, p.c)
	if err != nil {
		return dst, err
	}
	return appendArrayElem(dst, p.out), nil
}

// appendArrayElem appends a text-format array element, quoted when
// PostgreSQL would quote it.
func appendArrayElem(dst, e []byte) []byte {
	need := len(e) == 0 || equalFold(e, "null")
	for _, ch := range e {
		if ch == '{' || ch == '}' || ch == ',' || ch == '"' || ch == '\\' || is(ch, fSpace) {
			need = true
			break
		}
	}
	if !need {
		return append(dst, e...)
	}
	dst = append(dst, '"')
	for _, ch := range e {
		if ch == '"' || ch == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, ch)
	}
	return append(dst, '"')
}

// arrayBinary masks a binary-format array: ndim, has-nulls flag, element
// type, (size, lower bound) per dimension, then each element as a length
// (-1 for NULL) and its bytes. Element lengths are rebuilt.
func (m *ColumnMasker) arrayBinary(dst []byte, elem uint32, v []byte, c *Counts) ([]byte, error) {
	if len(v) < 12 {
		return dst, errors.New("array: short binary header")
	}
	ndim := int32(binary.BigEndian.Uint32(v))
	flags := binary.BigEndian.Uint32(v[4:])
	et := binary.BigEndian.Uint32(v[8:])
	if ndim < 0 || ndim > maxArrayDims || flags > 1 {
		return dst, errors.New("array: bad binary header")
	}
	if elem != 0 && et != elem {
		return dst, fmt.Errorf("array: element type %d, want %d", et, elem)
	}
	if tc, _ := classOf(et); tc == tcArray {
		return dst, errors.New("array: element type is an array type")
	}
	hdr := 12 + 8*int(ndim)
	if len(v) < hdr {
		return dst, errors.New("array: short binary header")
	}
	total := 1
	if ndim == 0 {
		total = 0
	}
	for d := 0; d < int(ndim); d++ {
		n := int32(binary.BigEndian.Uint32(v[12+8*d:]))
		if n < 0 || n > int32(len(v)) {
			return dst, errors.New("array: bad dimension")
		}
		total *= int(n)
		if total > len(v)/4 {
			return dst, errors.New("array: more elements than bytes")
		}
	}
	dst = append(dst, v[:hdr]...)
	k := hdr
	bp := bufPool.Get().(*[]byte)
	defer func() { clear((*bp)[:cap(*bp)]); bufPool.Put(bp) }()
	for n := 0; n < total; n++ {
		if len(v)-k < 4 {
			return dst, errors.New("array: truncated element")
		}
		l := int32(binary.BigEndian.Uint32(v[k:]))
		k += 4
		if l == -1 {
			dst = binary.BigEndian.AppendUint32(dst, 0xffffffff)
			continue
		}
		if l < 0 || int(l) > len(v)-k {
			return dst, errors.New("array: bad element length")
		}
		out, err := m.value((*bp)[:0], et, FormatBinary, v[k:k+int(l)], c)
		*bp = out[:0]
		if err != nil {
			return dst, err
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(out)))
		dst = append(dst, out...)
		k += int(l)
	}
	if k != len(v) {
		return dst, errors.New("array: junk after the elements")
	}
	return dst, nil
}
