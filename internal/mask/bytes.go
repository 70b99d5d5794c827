package mask

// Byte classes shared by the detectors.
const (
	fDigit  uint16 = 1 << iota // 0-9
	fUpper                     // A-Z
	fLower                     // a-z
	fWord                      // A-Za-z0-9_
	fHex                       // 0-9A-Fa-f
	fB64                       // A-Za-z0-9+/
	fB64URL                    // A-Za-z0-9-_
	fLocal                     // email local part: A-Za-z0-9._%+-
	fDomain                    // email domain: A-Za-z0-9.-
	fSpace                     // ' ' \t \n \r \v \f
	fToken                     // bearer token (RFC 6750 b64token): A-Za-z0-9-._~+/
	fAlnum                     // A-Za-z0-9
)

var ctab = func() (t [256]uint16) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		var f uint16
		switch {
		case b >= '0' && b <= '9':
			f |= fDigit | fWord | fHex | fB64 | fB64URL | fLocal | fDomain | fToken | fAlnum
		case b >= 'A' && b <= 'Z':
			f |= fUpper | fWord | fB64 | fB64URL | fLocal | fDomain | fToken | fAlnum
			if b <= 'F' {
				f |= fHex
			}
		case b >= 'a' && b <= 'z':
			f |= fLower | fWord | fB64 | fB64URL | fLocal | fDomain | fToken | fAlnum
			if b <= 'f' {
				f |= fHex
			}
		}
		switch b {
		case '_':
			f |= fWord | fB64URL | fToken
		case '+':
			f |= fB64 | fLocal | fToken
		case '/':
			f |= fB64 | fToken
		case '-':
			f |= fB64URL | fLocal | fDomain | fToken
		case '.':
			f |= fLocal | fDomain | fToken
		case '%':
			f |= fLocal
		case '~':
			f |= fToken
		case ' ', '\t', '\n', '\r', '\v', '\f':
			f |= fSpace
		}
		t[c] = f
	}
	return t
}()

func is(c byte, f uint16) bool { return ctab[c]&f != 0 }

func isDigit(c byte) bool { return c-'0' < 10 }

func isUpper(c byte) bool { return c-'A' < 26 }

func lower(c byte) byte {
	if c-'A' < 26 {
		return c + 'a' - 'A'
	}
	return c
}

// at returns src[i], or 0 when i is out of range.
func at(src []byte, i int) byte {
	if uint(i) < uint(len(src)) {
		return src[i]
	}
	return 0
}

// run returns the end of the run of bytes of class f starting at i.
func run(src []byte, i int, f uint16) int {
	for i < len(src) && ctab[src[i]]&f != 0 {
		i++
	}
	return i
}

// hasPrefixAt reports whether src[i:] starts with p.
func hasPrefixAt(src []byte, i int, p string) bool {
	return len(src)-i >= len(p) && string(src[i:i+len(p)]) == p
}

// equalFold reports whether b equals the lower-case ASCII string s,
// ignoring ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// digitsVal returns the value of the decimal digits src[i:j].
func digitsVal(src []byte, i, j int) int {
	v := 0
	for ; i < j; i++ {
		v = v*10 + int(src[i]-'0')
	}
	return v
}
