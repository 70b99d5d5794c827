package mask

// The numeric detectors (ip v4, us_ssn, payment_card, phone) start at a
// word that is all digits. They share one rule for where a number may
// begin and end: not inside a longer token (a version "1.2.3.4.5", a date
// "2024-01-15", an id "4111-1111-1111-1111-1111", a word "x4111...").

// numeric tries the numeric detectors at the digit word src[i:j].
func (s *scanner) numeric(i, j int) int {
	src := s.src
	e := s.e
	for k := i; k < j; k++ {
		if !isDigit(src[k]) {
			return 0 // "3rd", "15T10", "2x": not a number
		}
	}
	pb := s.before(i - 1)
	if (pb == '.' || pb == '-' || pb == ',') && is(s.before(i-2), fAlnum) {
		return 0 // inside "1.2.3", "2024-01", "1,234"
	}
	if pb == '+' {
		if e.on[kPhone] && !is(s.before(i-2), fAlnum) {
			return s.phoneIntl(i - 1)
		}
		return 0
	}
	// A group that follows another digit group ("1234 4111 1111 ...") is
	// not the start of a card or phone number.
	afterGroup := pb == ' ' && isDigit(s.before(i-2)) && digitWordBefore(src, s.last, i-1)
	L := j - i
	if L >= 13 {
		if e.on[kCard] && L <= 19 && !afterGroup {
			return s.card(i, j)
		}
		return 0
	}
	nb := at(src, j)
	switch nb {
	case '.':
		if e.on[kIP] && L <= 3 {
			if end := s.ipv4(i); end > 0 {
				return end
			}
		}
		if e.on[kPhone] && L == 3 && !afterGroup {
			return s.nanp(i)
		}
	case '-', ' ':
		if afterGroup {
			return 0
		}
		if e.on[kSSN] && L == 3 {
			if end := s.ssn(i, nb); end > 0 {
				return end
			}
		}
		if e.on[kCard] && L == 4 {
			if end := s.card(i, j); end > 0 {
				return end
			}
		}
		if e.on[kPhone] {
			if L == 3 || (L == 1 && src[i] == '1') {
				if end := s.nanp(i); end > 0 {
					return end
				}
			}
			if src[i] == '0' && L >= 2 && L <= 5 {
				return s.national(i, j)
			}
		}
	case ')':
		if e.on[kPhone] && pb == '(' && L == 3 {
			return s.nanp(i - 1)
		}
	}
	return 0
}

// digitWordBefore reports whether the word that ends at k is a short run
// of digits (a group of a longer number), not a hex id or a word.
func digitWordBefore(src []byte, lo, k int) bool {
	w := k
	for w > lo && k-w <= 6 && is(src[w-1], fAlnum) {
		if !isDigit(src[w-1]) {
			return false
		}
		w--
	}
	return k-w <= 6
}

// numEnd reports whether a number may end at k: the next byte is not part
// of a word, not a '.' or '-' leading on to more of a token, and not the
// group separator sep followed by another digit.
func numEnd(src []byte, k int, sep byte) bool {
	c := at(src, k)
	if is(c, fWord) {
		return false
	}
	if (c == '.' || c == '-') && is(at(src, k+1), fAlnum) {
		return false
	}
	if sep != 0 && c == sep && isDigit(at(src, k+1)) {
		return false
	}
	return true
}

// digitsAt returns the end of the digit run at k if it has between lo and
// hi digits, else -1.
func digitsAt(src []byte, k, lo, hi int) int {
	e := k
	for e < len(src) && isDigit(src[e]) {
		e++
	}
	if n := e - k; n < lo || n > hi {
		return -1
	}
	return e
}

// ipv4 matches a dotted-quad IPv4 address at i. Addresses that identify
// nobody (0.0.0.0, 127/8, 255.x netmasks and broadcast, the documentation
// ranges used by fakes) and version strings ("version 1.2.3.4",
// "1.2.3.4-beta") are refused.
func (s *scanner) ipv4(i int) int {
	src := s.src
	end, a, ok := parseIPv4(src, i)
	if !ok || !numEnd(src, end, 0) || at(src, end) == '.' && isDigit(at(src, end+1)) {
		return 0
	}
	if skipIPv4(a) || versionBefore(src, s.last, i) {
		return 0
	}
	s.hit(kIP, i, end)
	return end
}

// parseIPv4 parses four decimal octets (no leading zeros) at i.
func parseIPv4(src []byte, i int) (end int, a [4]byte, ok bool) {
	k := i
	for p := 0; p < 4; p++ {
		if p > 0 {
			if at(src, k) != '.' {
				return 0, a, false
			}
			k++
		}
		e := digitsAt(src, k, 1, 3)
		if e < 0 || (e-k > 1 && src[k] == '0') {
			return 0, a, false
		}
		v := digitsVal(src, k, e)
		if v > 255 {
			return 0, a, false
		}
		a[p] = byte(v)
		k = e
	}
	return k, a, true
}

func skipIPv4(a [4]byte) bool {
	switch {
	case a == [4]byte{}, a[0] == 127, a[0] == 255:
		return true
	case a[0] == 192 && a[1] == 0 && a[2] == 2,
		a[0] == 198 && a[1] == 51 && a[2] == 100,
		a[0] == 203 && a[1] == 0 && a[2] == 113:
		return true // TEST-NET-1..3 (RFC 5737), where fakes live
	}
	return false
}

// versionBefore reports whether the word before i (across a few bytes of
// white space, quotes, ':' or '=') names a version, or i follows a product
// name and '/'.
func versionBefore(src []byte, lo, i int) bool {
	if i-2 >= lo && src[i-1] == '/' && is(src[i-2], fAlnum) {
		return true // a product token: "Chrome/120.0.1.2"
	}
	k := i
	for n := 0; n < 4 && k > lo; n++ {
		c := src[k-1]
		if c != ' ' && c != '"' && c != '\'' && c != ':' && c != '=' {
			break
		}
		k--
	}
	w := k
	for w > lo && k-w < 16 && is(src[w-1], fAlnum) {
		w--
	}
	switch word := src[w:k]; {
	case equalFold(word, "v"), equalFold(word, "ver"), equalFold(word, "version"),
		equalFold(word, "release"), equalFold(word, "build"), equalFold(word, "rev"):
		return true
	}
	return false
}

// ssn matches a US social security number "AAA-GG-SSSS" or "AAA GG SSSS"
// at i, with a valid area (not 000, 666 or 900-999), group (not 00) and
// serial (not 0000). Nine bare digits are not matched: too many ids look
// like that.
func (s *scanner) ssn(i int, sep byte) int {
	src := s.src
	k := i + 3
	if at(src, k) != sep {
		return 0
	}
	g := digitsAt(src, k+1, 2, 2)
	if g < 0 || at(src, g) != sep {
		return 0
	}
	e := digitsAt(src, g+1, 4, 4)
	if e < 0 || !numEnd(src, e, sep) {
		return 0
	}
	if !validSSN(digitsVal(src, i, i+3), digitsVal(src, k+1, g), digitsVal(src, g+1, e)) {
		return 0
	}
	s.hit(kSSN, i, e)
	return e
}

func validSSN(area, group, serial int) bool {
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
		return false
	}
	// Numbers published in advertising and never valid.
	if area == 78 && group == 5 && serial == 1120 || area == 219 && group == 9 && serial == 9999 {
		return false
	}
	return true
}

// card matches a payment card number at i: 13 to 19 digits, bare or in
// groups (a first group of 4, then groups of 3 to 6) joined by one space or
// one dash throughout, with a valid Luhn check digit and a known issuer
// prefix.
func (s *scanner) card(i, j int) int {
	src := s.src
	var d [19]byte
	n := 0
	end := j
	if j-i >= 13 {
		if !numEnd(src, j, 0) {
			return 0
		}
		n = copy(d[:], src[i:j])
	} else {
		sep := src[j]
		n = copy(d[:], src[i:j])
		k := j
		for at(src, k) == sep {
			e := digitsAt(src, k+1, 3, 6)
			if e < 0 || n+e-k-1 > 19 {
				break
			}
			n += copy(d[n:], src[k+1:e])
			k = e
		}
		end = k
		if !numEnd(src, end, sep) {
			return 0
		}
	}
	if n < 13 || !luhnValid(d[:n]) || !knownIIN(d[:n]) {
		return 0
	}
	s.hit(kCard, i, end)
	return end
}

// luhnValid reports whether the ASCII digits d pass the Luhn check.
func luhnValid(d []byte) bool {
	sum := 0
	double := false
	for k := len(d) - 1; k >= 0; k-- {
		v := int(d[k] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// knownIIN reports whether the card number d starts with an issuer prefix
// of a major network and has a length that network issues.
func knownIIN(d []byte) bool {
	n := len(d)
	p := func(k int) int { return digitsVal(d, 0, k) }
	switch d[0] {
	case '4': // Visa
		return n == 13 || n == 16 || n == 19
	case '5':
		if v := p(2); v >= 51 && v <= 55 { // Mastercard
			return n == 16
		}
		return p(2) == 50 || p(2) >= 56 // Maestro
	case '2':
		if v := p(4); v >= 2221 && v <= 2720 { // Mastercard 2-series
			return n == 16
		}
		if v := p(4); v >= 2200 && v <= 2204 { // Mir
			return n >= 16
		}
		return false
	case '3':
		switch v := p(2); {
		case v == 34 || v == 37: // American Express
			return n == 15
		case v == 36 || v == 38 || v == 39 || p(3) >= 300 && p(3) <= 305: // Diners
			return n >= 14
		case p(4) >= 3528 && p(4) <= 3589: // JCB
			return n >= 16
		}
		return false
	case '6': // Discover, UnionPay, Maestro, RuPay
		return true
	}
	return false
}
