package sqlclass

import "math"

// Markers stand for a replaced literal in a shape key. Neither byte occurs
// in a normalizable text, so a key tells which bytes were literals and of
// which kind.
const (
	shapeInt    = 0x00 // a decimal integer literal that fits in int32
	shapeString = '$'  // a simple string literal, '...'
)

// appendShapeKey appends the shape key of text to dst and returns it, or
// returns nil when text has none. The key is text with every simple
// integer literal ([0-9]+, not part of an identifier or of a longer number,
// no larger than 2147483647) replaced by shapeInt and every simple string
// literal ('...', not prefixed, without a backslash) by shapeString; every
// other byte is copied as it is. The scanner gives up on what it does not
// fully understand: a comment, a string with a backslash, an unterminated
// string or quoted identifier, a string or quoted identifier right after
// an identifier byte or '&' (E'...', B'...', X'...', N'...', U&'...',
// U&"...", typed literals such as date'...'), and a string that may
// continue an earlier one.
func appendShapeKey(dst []byte, text string) []byte {
	if !normalizable(text) {
		return nil
	}
	if cap(dst)-len(dst) < len(text) {
		// A key is never longer than its text.
		dst = append(make([]byte, 0, len(dst)+len(text)), dst...)
	}
	from := 0 // text[from:i] is yet to be copied
	for i := 0; i < len(text); {
		b := text[i]
		switch byteClass[b] {
		case classOther:
			i++
		case classIdent:
			for i++; i < len(text) && byteClass[text[i]]&classIdent != 0; i++ {
			}
		case classDigit:
			// Identifiers and numbers are consumed whole, so the byte
			// before is never an identifier byte or '.'; checked anyway.
			j := numberEnd(text, i)
			if isInt32(text[i:j]) && (i == 0 || text[i-1] != '.' && !isIdentByte(text[i-1])) {
				dst = append(append(dst, text[from:i]...), shapeInt)
				from = j
			}
			i = j
		case classDot:
			if i+1 < len(text) && isDigit(text[i+1]) {
				i = numberEnd(text, i) // .5 is a number
			} else {
				i++
			}
		case classComment:
			if i+1 < len(text) && (b == '-' && text[i+1] == '-' || b == '/' && text[i+1] == '*') {
				return nil // a comment
			}
			i++
		case classQuote:
			if i > 0 && (isIdentByte(text[i-1]) || text[i-1] == '&') {
				return nil
			}
			j := quotedEnd(text, i)
			if j < 0 {
				return nil
			}
			if b == '\'' {
				if prevNonSpace(text, i) == '\'' {
					return nil // 'a'<newline>'b' is one string
				}
				dst = append(append(dst, text[from:i]...), shapeString)
				from = j
			}
			i = j
		}
	}
	return append(dst, text[from:]...)
}

// Classes of bytes for appendShapeKey. Digits are in classIdent too, since
// they continue an identifier.
const (
	classOther   = 0
	classIdent   = 1 << 0 // letters, '_', '$', bytes >= 0x80
	classDigit   = classIdent | 1<<1
	classDot     = 1 << 2
	classComment = 1 << 3 // '-' and '/', which may start a comment
	classQuote   = 1 << 4 // ' and "
)

var byteClass = func() (t [256]byte) {
	for b := range 256 {
		switch {
		case '0' <= b && b <= '9':
			t[b] = classDigit
		case 'a' <= b|0x20 && b|0x20 <= 'z', b == '_', b == '$', b >= 0x80:
			t[b] = classIdent
		case b == '.':
			t[b] = classDot
		case b == '-', b == '/':
			t[b] = classComment
		case b == '\'', b == '"':
			t[b] = classQuote
		}
	}
	return t
}()

// quotedEnd returns the end of the string or quoted identifier that starts
// at text[i], a doubled quote standing for one, or -1 if it is not
// terminated or holds a backslash.
func quotedEnd(text string, i int) int {
	q := text[i]
	for j := i + 1; j < len(text); j++ {
		switch text[j] {
		case '\\':
			if q == '\'' {
				return -1
			}
		case q:
			if j+1 < len(text) && text[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return -1
}

// numberEnd returns the end of the number-like token that starts at
// text[i]: digits, letters, '_', '.' and non-ASCII bytes (PostgreSQL
// rejects trailing junk after a number rather than starting a new token),
// and the sign of an exponent when a digit follows it.
func numberEnd(text string, i int) int {
	j := i + 1
	for j < len(text) {
		b := text[j]
		switch {
		case isIdentByte(b) || b == '.':
		case (b == '+' || b == '-') && text[j-1]|0x20 == 'e' && j+1 < len(text) && isDigit(text[j+1]):
		default:
			return j
		}
		j++
	}
	return j
}

// isInt32 reports whether s is a decimal integer literal that PostgreSQL's
// lexer makes an integer token: digits only, at most 2147483647.
func isInt32(s string) bool {
	var v int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
		if v = v*10 + int64(s[i]-'0'); v > math.MaxInt32 {
			return false
		}
	}
	return len(s) > 0
}

// prevNonSpace returns the last byte before text[i] that is not white
// space, or 0.
func prevNonSpace(text string, i int) byte {
	for i--; i >= 0; i-- {
		if !isSpace(text[i]) {
			return text[i]
		}
	}
	return 0
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// isIdentByte reports whether b may continue an identifier: a letter, a
// digit, '_', '$' or a non-ASCII byte.
func isIdentByte(b byte) bool { return byteClass[b]&classIdent != 0 }

// shapeMatches reports whether norm, the normalized form of the text whose
// shape key is key, has a placeholder $n exactly where key has a marker and
// the same bytes everywhere else.
func shapeMatches(key []byte, norm string) bool {
	j := 0
	for _, b := range key {
		if j >= len(norm) {
			return false
		}
		if b != shapeInt && b != shapeString {
			if norm[j] != b {
				return false
			}
			j++
			continue
		}
		if norm[j] != '$' {
			return false
		}
		k := j + 1
		for j = k; j < len(norm) && isDigit(norm[j]); j++ {
		}
		if j == k {
			return false
		}
	}
	return j == len(norm)
}
