package mask

// Phone numbers come in three shapes:
//
//   - international: '+', a country code and 8 to 15 digits in all, bare
//     or in groups joined by one space, dash or dot, with at most one
//     parenthesised group ("+1 415 555 2671", "+44 (0)20 7946 0958",
//     "+14155552671");
//   - North American: "415-555-2671", "415.555.2671", "415 555 2671",
//     "(415) 555-2671", "1-800-555-0199", with area code and exchange
//     starting 2-9;
//   - national with a trunk 0: "020 7946 0958", "01 23 45 67 89",
//     "030-1234567": groups joined by one space or dash throughout, 10 or
//     11 digits.
//
// Bare runs of digits without '+' are never phone numbers (they are ids,
// amounts, timestamps), nor are dates, versions and IP addresses, whose
// shapes differ.

// phoneIntl matches an international number at the '+' at p.
func (s *scanner) phoneIntl(p int) int {
	src := s.src
	k := p + 1
	if at(src, k) == '0' {
		return 0 // "+0100": a time zone offset
	}
	digits, groups, parens := 0, 0, 0
	for {
		if at(src, k) == '(' {
			if parens > 0 {
				break
			}
			e := digitsAt(src, k+1, 1, 4)
			if e < 0 || at(src, e) != ')' {
				break
			}
			parens++
			digits += e - k - 1
			k = e + 1
			if at(src, k) == ' ' && (isDigit(at(src, k+1))) {
				k++
			}
			continue
		}
		e := digitsAt(src, k, 1, 15)
		if e < 0 {
			break
		}
		digits += e - k
		groups++
		k = e
		c := at(src, k)
		if (c == ' ' || c == '-' || c == '.') && (isDigit(at(src, k+1)) || at(src, k+1) == '(' && parens == 0) && groups < 7 {
			k++
			continue
		}
		if c == '(' && parens == 0 {
			continue
		}
		break
	}
	if digits < 8 || digits > 15 || !numEnd(src, k, 0) {
		return 0
	}
	s.hit(kPhone, p, k)
	return k
}

// nanp matches a North American number starting at i (a digit, or the
// '(' of the area code).
func (s *scanner) nanp(i int) int {
	src := s.src
	k := i
	var sep byte
	if src[k] == '1' && !isDigit(at(src, k+1)) {
		sep = at(src, k+1)
		if sep != '-' && sep != ' ' && sep != '.' {
			return 0
		}
		k += 2
	}
	if at(src, k) == '(' {
		e := digitsAt(src, k+1, 3, 3)
		if e < 0 || at(src, e) != ')' || src[k+1] < '2' {
			return 0
		}
		k = e + 1
		if at(src, k) == ' ' {
			k++
		}
		sep = 0
	} else {
		e := digitsAt(src, k, 3, 3)
		if e < 0 || src[k] < '2' {
			return 0
		}
		c := at(src, e)
		if sep == 0 {
			sep = c
		}
		if c != sep || (c != '-' && c != ' ' && c != '.') {
			return 0
		}
		k = e + 1
	}
	e := digitsAt(src, k, 3, 3)
	if e < 0 || src[k] < '2' {
		return 0
	}
	c := at(src, e)
	if sep == 0 {
		sep = c
	}
	if c != sep || (c != '-' && c != ' ' && c != '.') {
		return 0
	}
	k = e + 1
	e = digitsAt(src, k, 4, 4)
	if e < 0 || !numEnd(src, e, sep) {
		return 0
	}
	if at(src, e) == '.' && isDigit(at(src, e+1)) {
		return 0
	}
	s.hit(kPhone, i, e)
	return e
}

// national matches a national number with a trunk 0 at i; src[i:j] is the
// first group.
func (s *scanner) national(i, j int) int {
	src := s.src
	sep := src[j]
	if sep != ' ' && sep != '-' {
		return 0
	}
	digits := j - i
	k := j
	groups := 1
	for at(src, k) == sep {
		e := digitsAt(src, k+1, 2, 6)
		if e < 0 || digits+e-k-1 > 11 {
			break
		}
		digits += e - k - 1
		groups++
		k = e
	}
	if groups < 2 || digits < 10 || !numEnd(src, k, sep) {
		return 0
	}
	s.hit(kPhone, i, k)
	return k
}
