package mask

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of documents JSON accepts.
const maxJSONDepth = 512

// JSON appends the masked form of the JSON document src to dst and returns
// the extended buffer; the output is valid JSON with the layout (white
// space, member order, escapes of unmasked strings) of the input.
//
// A member or element selected by a path rule is masked as a whole with
// the rule's strategy: a string by the strategy ("[redacted]", partial,
// "h:…", a fake of the same kind); a number, true or false by a JSON
// string of the replacement (fake keeps numbers numbers); null stays null;
// an object or array becomes "[redacted]" or "h:…" with redact and hash,
// while partial and fake apply to each string, number and boolean inside.
// Everywhere else the detectors run inside strings (member names too, which
// may hold an email) and over numbers (a card number stored as a number
// becomes a string). Invalid JSON (including invalid UTF-8) is an error,
// and on error dst is returned unchanged: withhold the body.
func (e *Engine) JSON(dst, src []byte, c *Counts) (out []byte, err error) {
	n0 := len(dst)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mask: panic while masking JSON: %v", r)
		}
		if err != nil {
			if len(out) > n0 {
				clear(out[n0:])
			}
			clear(dst[n0:cap(dst)])
			out = dst[:n0]
		}
	}()
	return e.json(dst, src, c)
}

func (e *Engine) json(dst, src []byte, c *Counts) ([]byte, error) {
	w := jsonWalker{e: e, src: src, dst: dst, c: c, force: -1}
	bp, bo, bk := bufPool.Get().(*[]byte), bufPool.Get().(*[]byte), bufPool.Get().(*[]byte)
	w.raw, w.out, w.key = (*bp)[:0], (*bo)[:0], (*bk)[:0]
	defer func() {
		for _, b := range []*[]byte{bp, bo, bk} {
			clear((*b)[:cap(*b)])
			bufPool.Put(b)
		}
	}()
	var state uint64
	if e.paths != nil {
		state = e.paths.start
	}
	w.ws()
	err := w.value(state, 0)
	if err == nil {
		w.ws()
		if w.k != len(src) {
			err = w.errorf("junk after the document")
		}
	}
	*bp, *bo, *bk = w.raw[:0], w.out[:0], w.key[:0]
	if err != nil {
		return dst, fmt.Errorf("mask: json: %w", err)
	}
	return w.dst, nil
}

// jsonWalker rewrites one document. It lives on the stack of json.
type jsonWalker struct {
	e     *Engine
	src   []byte
	k     int
	dst   []byte
	c     *Counts
	force int // strategy applied to every leaf below a path rule; -1: none
	raw   []byte
	out   []byte
	key   []byte
}

func (w *jsonWalker) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", w.k, fmt.Sprintf(format, args...))
}

// ws copies white space.
func (w *jsonWalker) ws() {
	s := w.k
	for w.k < len(w.src) {
		switch w.src[w.k] {
		case ' ', '\t', '\n', '\r':
			w.k++
			continue
		}
		break
	}
	w.dst = append(w.dst, w.src[s:w.k]...)
}

func (w *jsonWalker) value(state uint64, depth int) error {
	if depth > maxJSONDepth {
		return w.errorf("nested too deeply")
	}
	if w.k >= len(w.src) {
		return w.errorf("unexpected end")
	}
	if state != 0 {
		if r, ok := w.e.paths.rule(state); ok && w.force < 0 {
			w.c.add(kPathRule)
			return w.ruleValue(r.strategy, depth)
		}
	}
	switch ch := w.src[w.k]; {
	case ch == '{':
		return w.object(state, depth)
	case ch == '[':
		return w.array(state, depth)
	case ch == '"':
		return w.stringValue(false)
	case ch == 't' || ch == 'f' || ch == 'n':
		return w.literal()
	case ch == '-' || isDigit(ch):
		return w.number()
	}
	return w.errorf("unexpected %q", w.src[w.k])
}

func (w *jsonWalker) object(state uint64, depth int) error {
	w.dst = append(w.dst, '{')
	w.k++
	w.ws()
	if w.k < len(w.src) && w.src[w.k] == '}' {
		w.dst = append(w.dst, '}')
		w.k++
		return nil
	}
	for {
		if w.k >= len(w.src) || w.src[w.k] != '"' {
			return w.errorf("want a member name")
		}
		var child uint64
		if state != 0 {
			s, e, esc, err := w.scanString()
			if err != nil {
				return err
			}
			key := w.src[s:e]
			if esc {
				w.key = unescapeJSON(w.key[:0], key)
				key = w.key
			}
			child = w.e.paths.step(state, key, -1)
		}
		if err := w.stringValue(true); err != nil {
			return err
		}
		w.ws()
		if w.k >= len(w.src) || w.src[w.k] != ':' {
			return w.errorf("want ':'")
		}
		w.dst = append(w.dst, ':')
		w.k++
		w.ws()
		if err := w.value(child, depth+1); err != nil {
			return err
		}
		w.ws()
		if w.k >= len(w.src) {
			return w.errorf("unterminated object")
		}
		switch w.src[w.k] {
		case ',':
			w.dst = append(w.dst, ',')
			w.k++
			w.ws()
		case '}':
			w.dst = append(w.dst, '}')
			w.k++
			return nil
		default:
			return w.errorf("want ',' or '}'")
		}
	}
}

func (w *jsonWalker) array(state uint64, depth int) error {
	w.dst = append(w.dst, '[')
	w.k++
	w.ws()
	if w.k < len(w.src) && w.src[w.k] == ']' {
		w.dst = append(w.dst, ']')
		w.k++
		return nil
	}
	for idx := 0; ; idx++ {
		var child uint64
		if state != 0 {
			child = w.e.paths.step(state, nil, idx)
		}
		if err := w.value(child, depth+1); err != nil {
			return err
		}
		w.ws()
		if w.k >= len(w.src) {
			return w.errorf("unterminated array")
		}
		switch w.src[w.k] {
		case ',':
			w.dst = append(w.dst, ',')
			w.k++
			w.ws()
		case ']':
			w.dst = append(w.dst, ']')
			w.k++
			return nil
		default:
			return w.errorf("want ',' or ']'")
		}
	}
}

// scanString validates the string at w.k without moving: it returns the
// bounds of its contents and whether it has escapes.
func (w *jsonWalker) scanString() (s, e int, esc bool, err error) {
	src := w.src
	k := w.k + 1
	s = k
	ascii := true
	for {
		if k >= len(src) {
			return 0, 0, false, w.errorf("unterminated string")
		}
		ch := src[k]
		switch {
		case ch == '"':
			if !ascii && !utf8.Valid(src[s:k]) {
				return 0, 0, false, w.errorf("invalid UTF-8 in string")
			}
			return s, k, esc, nil
		case ch < 0x20:
			return 0, 0, false, w.errorf("control character in string")
		case ch == '\\':
			esc = true
			k++
			if k >= len(src) {
				return 0, 0, false, w.errorf("unterminated string")
			}
			switch src[k] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for x := 1; x <= 4; x++ {
					if !is(at(src, k+x), fHex) {
						return 0, 0, false, w.errorf("bad \\u escape")
					}
				}
				k += 4
			default:
				return 0, 0, false, w.errorf("bad escape")
			}
		case ch >= utf8.RuneSelf:
			ascii = false
		}
		k++
	}
}

// stringValue copies the string at w.k with the detectors (or the forced
// strategy) applied to its contents.
func (w *jsonWalker) stringValue(isKey bool) error {
	s, e, esc, err := w.scanString()
	if err != nil {
		return err
	}
	w.k = e + 1
	raw := w.src[s:e]
	if w.force >= 0 && !isKey {
		if esc {
			w.raw = unescapeJSON(w.raw[:0], raw)
			raw = w.raw
		}
		w.out = w.e.maskWhole(w.out[:0], Strategy(w.force), raw)
		w.dst = appendJSONString(w.dst, w.out)
		return nil
	}
	if !w.e.detects() {
		w.dst = append(w.dst, w.src[s-1:e+1]...)
		return nil
	}
	if !esc {
		// The masked contents consist of bytes of raw (never '"', '\\' or
		// control characters) and of replacements made of safe ASCII, so
		// they need no escaping.
		w.dst = append(w.dst, '"')
		w.dst, _ = w.e.scan(w.dst, raw, w.c)
		w.dst = append(w.dst, '"')
		return nil
	}
	w.raw = unescapeJSON(w.raw[:0], raw)
	var hits int
	w.out, hits = w.e.scan(w.out[:0], w.raw, w.c)
	if hits == 0 {
		w.dst = append(w.dst, w.src[s-1:e+1]...)
		return nil
	}
	w.dst = appendJSONString(w.dst, w.out)
	return nil
}

func (w *jsonWalker) literal() error {
	for _, lit := range [...]string{"true", "false", "null"} {
		if hasPrefixAt(w.src, w.k, lit) {
			raw := w.src[w.k : w.k+len(lit)]
			w.k += len(lit)
			if w.force >= 0 && lit != "null" {
				return w.forcedScalar(raw)
			}
			w.dst = append(w.dst, raw...)
			return nil
		}
	}
	return w.errorf("bad literal")
}

func (w *jsonWalker) number() error {
	src := w.src
	s := w.k
	k := s
	if src[k] == '-' {
		k++
	}
	switch {
	case at(src, k) == '0':
		k++
	case isDigit(at(src, k)):
		for isDigit(at(src, k)) {
			k++
		}
	default:
		return w.errorf("bad number")
	}
	if at(src, k) == '.' {
		k++
		if !isDigit(at(src, k)) {
			return w.errorf("bad number")
		}
		for isDigit(at(src, k)) {
			k++
		}
	}
	if c := at(src, k); c == 'e' || c == 'E' {
		k++
		if c := at(src, k); c == '+' || c == '-' {
			k++
		}
		if !isDigit(at(src, k)) {
			return w.errorf("bad number")
		}
		for isDigit(at(src, k)) {
			k++
		}
	}
	w.k = k
	raw := src[s:k]
	if w.force >= 0 {
		return w.forcedScalar(raw)
	}
	if !w.e.detects() {
		w.dst = append(w.dst, raw...)
		return nil
	}
	var hits int
	w.out, hits = w.e.scanNumber(w.out[:0], raw, w.c)
	if hits == 0 {
		w.dst = append(w.dst, raw...)
		return nil
	}
	w.dst = appendJSONString(w.dst, w.out)
	return nil
}

// forcedScalar writes a number or boolean under a partial or fake path
// rule (and, through ruleValue, under any rule).
func (w *jsonWalker) forcedScalar(raw []byte) error {
	st := Strategy(w.force)
	if st == Fake {
		if raw[0] == 't' || raw[0] == 'f' {
			sum := w.e.hashBytes(domainFake, raw)
			if sum[0]&1 == 1 {
				w.dst = append(w.dst, "true"...)
			} else {
				w.dst = append(w.dst, "false"...)
			}
			return nil
		}
		start := len(w.dst)
		w.dst = w.e.fakeDigits(w.dst, raw, 0, '0')
		fixJSONNumber(w.dst[start:])
		return nil
	}
	w.out = w.e.maskWhole(w.out[:0], st, raw)
	w.dst = appendJSONString(w.dst, w.out)
	return nil
}

// fixJSONNumber makes a faked number valid again: an integer part of more
// than one digit must not start with 0.
func fixJSONNumber(n []byte) {
	k := 0
	if len(n) > 0 && n[0] == '-' {
		k++
	}
	if k+1 < len(n) && n[k] == '0' && isDigit(n[k+1]) {
		n[k] = '1'
	}
}

// ruleValue writes the value at w.k masked by a path rule.
func (w *jsonWalker) ruleValue(st Strategy, depth int) error {
	switch ch := w.src[w.k]; {
	case ch == 'n':
		return w.literal()
	case ch == '{' || ch == '[':
		if st == Partial || st == Fake {
			saved := w.force
			w.force = int(st)
			var err error
			if ch == '{' {
				err = w.object(0, depth)
			} else {
				err = w.array(0, depth)
			}
			w.force = saved
			return err
		}
		s := w.k
		if err := w.skip(depth); err != nil {
			return err
		}
		w.out = w.e.maskWhole(w.out[:0], st, w.src[s:w.k])
		w.dst = appendJSONString(w.dst, w.out)
		return nil
	}
	saved := w.force
	w.force = int(st)
	err := w.value(0, depth)
	w.force = saved
	return err
}

// skip validates the value at w.k and moves past it without output.
func (w *jsonWalker) skip(depth int) error {
	saved := len(w.dst)
	savedForce := w.force
	w.force = -1
	// Walking with no path state and the output discarded validates the
	// value; detectors are not needed, so walk as an engine without them.
	e := w.e
	w.e = noDetectors
	err := w.value(0, depth)
	w.e = e
	w.force = savedForce
	clear(w.dst[saved:])
	w.dst = w.dst[:saved]
	return err
}

// noDetectors is an engine with nothing on, used to validate JSON.
var noDetectors = &Engine{}

// validJSON reports whether v is one valid JSON document.
func validJSON(v []byte) bool {
	w := jsonWalker{e: noDetectors, src: v, force: -1}
	w.ws()
	if w.value(0, 0) != nil {
		return false
	}
	w.ws()
	return w.k == len(v)
}

// unescapeJSON appends the unescaped contents of a valid JSON string.
// Unpaired surrogates become U+FFFD.
func unescapeJSON(dst, raw []byte) []byte {
	for k := 0; k < len(raw); k++ {
		ch := raw[k]
		if ch != '\\' {
			dst = append(dst, ch)
			continue
		}
		k++
		switch raw[k] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(raw[k+1:]))
			k += 4
			if utf16.IsSurrogate(r) {
				if k+6 < len(raw) && raw[k+1] == '\\' && raw[k+2] == 'u' {
					r2 := rune(hex4(raw[k+3:]))
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						k += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, raw[k])
		}
	}
	return dst
}

func hex4(b []byte) uint16 {
	var v uint16
	for _, c := range b[:4] {
		v = v<<4 | uint16(hexVal(c))
	}
	return v
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD.
func appendJSONString(dst, s []byte) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	for k := 0; k < len(s); {
		ch := s[k]
		if ch >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[k:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\ufffd"...)
			} else {
				dst = append(dst, s[k:k+size]...)
			}
			k += size
			continue
		}
		switch {
		case ch == '"' || ch == '\\':
			dst = append(dst, '\\', ch)
		case ch == '\n':
			dst = append(dst, '\\', 'n')
		case ch == '\r':
			dst = append(dst, '\\', 'r')
		case ch == '\t':
			dst = append(dst, '\\', 't')
		case ch < 0x20 || ch == 0x7f:
			dst = append(dst, '\\', 'u', '0', '0', hexd[ch>>4], hexd[ch&15])
		default:
			dst = append(dst, ch)
		}
		k++
	}
	return append(dst, '"')
}

// quoteInPlace turns dst[start:] into a JSON string in place.
func quoteInPlace(dst []byte, start int) []byte {
	end := len(dst)
	dst = appendJSONString(dst, dst[start:end])
	n := copy(dst[start:], dst[end:])
	clear(dst[start+n:])
	return dst[:start+n]
}
