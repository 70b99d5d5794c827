package mask

// ipv6 matches an IPv6 address starting at i (a hex digit, or the first
// ':' of "::"). The candidate is the run of hex digits, ':' and '.' there;
// it must parse as an address (so times "10:30:45" and MAC addresses do
// not), and ::, ::1 and the documentation prefix 2001:db8::/32, where
// fakes live, are refused.
func (s *scanner) ipv6(i int) int {
	src := s.src
	if pb := s.before(i - 1); is(pb, fWord) || pb == ':' || pb == '.' {
		return 0
	}
	e := i
	for e < len(src) && e-i < 45 {
		c := src[e]
		if is(c, fHex) || c == ':' || c == '.' && e > i && isDigit(src[e-1]) && isDigit(at(src, e+1)) {
			e++
			continue
		}
		break
	}
	// Trailing punctuation of the sentence, or a ':' before a port.
	for e > i && src[e-1] == '.' {
		e--
	}
	if e > i+1 && src[e-1] == ':' && src[e-2] != ':' {
		e--
	}
	if is(at(src, e), fWord) {
		return 0
	}
	a, ok := parseIPv6(src[i:e])
	if !ok || skipIPv6(a) || !hexGroup3(src[i:e]) {
		return 0
	}
	s.hit(kIP, i, e)
	return e
}

// parseIPv6 parses an IPv6 address in text form (no zone), with at most one
// "::" and an optional dotted IPv4 tail.
func parseIPv6(b []byte) (a [16]byte, ok bool) {
	if len(b) < 2 {
		return a, false
	}
	ellipsis := -1
	n := 0 // bytes of a filled
	k := 0
	if b[0] == ':' {
		if b[1] != ':' {
			return a, false
		}
		ellipsis = 0
		k = 2
		if k == len(b) {
			return a, true // "::"
		}
	}
	for k < len(b) {
		// IPv4 tail?
		e := k
		for e < len(b) && is(b[e], fHex) {
			e++
		}
		if e < len(b) && b[e] == '.' {
			if n > 12 {
				return a, false
			}
			end, v4, ok := parseIPv4(b, k)
			if !ok || end != len(b) {
				return a, false
			}
			copy(a[n:], v4[:])
			n += 4
			k = end
			break
		}
		if e == k || e-k > 4 || n >= 16 {
			return a, false
		}
		var v uint16
		for _, c := range b[k:e] {
			v = v<<4 | uint16(hexVal(c))
		}
		a[n], a[n+1] = byte(v>>8), byte(v)
		n += 2
		k = e
		if k == len(b) {
			break
		}
		if b[k] != ':' {
			return a, false
		}
		k++
		if k < len(b) && b[k] == ':' {
			if ellipsis >= 0 {
				return a, false
			}
			ellipsis = n
			k++
			if k == len(b) {
				break
			}
		} else if k == len(b) {
			return a, false
		}
	}
	switch {
	case ellipsis < 0 && n != 16:
		return a, false
	case ellipsis >= 0:
		if n == 16 {
			return a, false
		}
		// Move the part after the ellipsis to the end.
		tail := n - ellipsis
		copy(a[16-tail:], a[ellipsis:n])
		for x := ellipsis; x < 16-tail; x++ {
			a[x] = 0
		}
	}
	return a, true
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

func skipIPv6(a [16]byte) bool {
	var zero [15]byte
	if [15]byte(a[:15]) == zero && (a[15] == 0 || a[15] == 1) {
		return true // :: and ::1
	}
	return a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8
}

// hexGroup3 reports whether an address has a group of three or more hex
// digits or a dotted IPv4 tail: "a::b" in code is not an address worth
// masking, "fe80::1" is.
func hexGroup3(b []byte) bool {
	n := 0
	for _, c := range b {
		switch {
		case c == '.':
			return true
		case c == ':':
			n = 0
		default:
			if n++; n >= 3 {
				return true
			}
		}
	}
	return false
}
