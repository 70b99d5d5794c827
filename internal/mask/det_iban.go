package mask

// ibanLen holds the IBAN length of each country (SWIFT IBAN registry),
// indexed by the two upper-case letters of the country code.
var ibanLen = func() (t [26 * 26]uint8) {
	for _, e := range []struct {
		cc string
		n  uint8
	}{
		{"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
		{"BG", 22}, {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22},
		{"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20},
		{"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22},
		{"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
		{"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30},
		{"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21},
		{"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
		{"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
		{"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33},
		{"SA", 24}, {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
		{"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
		{"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
	} {
		t[int(e.cc[0]-'A')*26+int(e.cc[1]-'A')] = e.n
	}
	return t
}()

// iban matches an IBAN at the word src[i:j]: a known country code, two
// check digits, upper-case letters and digits to the country's length,
// either compact ("DE89370400440532013000") or printed in groups of four
// joined by single spaces ("DE89 3704 0044 0532 0130 00"), with a valid
// ISO 7064 mod-97 checksum.
func (s *scanner) iban(i, j int) int {
	src := s.src
	if !isUpper(src[i+1]) || !isDigit(src[i+2]) || !isDigit(src[i+3]) {
		return 0
	}
	want := int(ibanLen[int(src[i]-'A')*26+int(src[i+1]-'A')])
	if want == 0 {
		return 0
	}
	var buf [34]byte
	n := 0
	end := j
	if j-i == want {
		n = copy(buf[:], src[i:j])
	} else if j-i == 4 {
		// Printed form: groups of 4, the last 1 to 4.
		n = copy(buf[:], src[i:j])
		k := j
		for n < want && at(src, k) == ' ' {
			e := run(src, k+1, fUpper|fDigit)
			g := e - k - 1
			if g < 1 || g > 4 || (g < 4 && n+g != want) {
				return 0
			}
			if n+g > want {
				return 0
			}
			n += copy(buf[n:], src[k+1:e])
			k = e
		}
		end = k
	} else {
		return 0
	}
	if n != want || is(at(src, end), fWord) {
		return 0
	}
	for _, c := range buf[4:n] {
		if !isUpper(c) && !isDigit(c) {
			return 0
		}
	}
	if ibanMod97(buf[:n]) != 1 {
		return 0
	}
	s.hit(kIBAN, i, end)
	return end
}

// ibanMod97 computes the ISO 7064 MOD 97-10 remainder of an IBAN: the
// first four characters moved to the end, letters as 10..35.
func ibanMod97(b []byte) int {
	r := 0
	add := func(c byte) {
		if isDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	for _, c := range b[4:] {
		add(c)
	}
	for _, c := range b[:4] {
		add(c)
	}
	return r
}
