package mask

// email matches an email address around the '@' at a: a local part of up
// to 64 bytes of [A-Za-z0-9._%+-] (not starting or ending with '.', no
// "..") and a domain of at least two labels whose last is 2 to 24 letters.
//
// Refused: the userinfo of a URL ("https://user@host": the local part
// follows "://"), image and asset names like "logo@2x.png" (a file
// extension as the top-level domain), and a local part that a previous hit
// already consumed. An address inside a URL's path or query
// ("/users/ann@example.com", "?email=ann@example.com") is masked: it is
// the same personal data wherever it appears.
func (s *scanner) email(a int) int {
	src := s.src
	// Local part, backwards from '@'.
	k := a
	for k > s.last && a-k <= 64 && is(src[k-1], fLocal) {
		k--
	}
	if k == a || a-k > 64 || src[k] == '.' || src[a-1] == '.' {
		return 0
	}
	for k < a && (src[k] == '-' || src[k] == '+' || src[k] == '%') {
		k++ // "--ann@x.com" in a command line: start at the name
	}
	if k == a {
		return 0
	}
	for x := k + 1; x < a; x++ {
		if src[x] == '.' && src[x-1] == '.' {
			return 0
		}
	}
	if s.before(k-1) == '/' && s.before(k-2) == '/' && s.before(k-3) == ':' {
		return 0 // URL userinfo
	}
	// Domain: labels of [A-Za-z0-9-], not starting or ending with '-'.
	p := a + 1
	labels := 0
	end := -1 // end of the longest valid domain so far
	for {
		e := p
		alpha := true
		for e < len(src) && e-p < 63 {
			c := src[e]
			if is(c, fAlnum) || c == '-' && e > p {
				if !is(c, fUpper|fLower) {
					alpha = false
				}
				e++
				continue
			}
			break
		}
		if e == p || src[e-1] == '-' {
			break
		}
		labels++
		if labels >= 2 && alpha && e-p >= 2 && e-p <= 24 && !assetExt(src[p:e]) {
			end = e
		}
		if at(src, e) != '.' || !is(at(src, e+1), fAlnum) || e-a > 253 {
			break
		}
		p = e + 1
	}
	if end < 0 || is(at(src, end), fWord) || at(src, end) == '-' || at(src, end) == '@' {
		return 0
	}
	s.hit(kEmail, k, end)
	return end
}

// assetExt reports whether a would-be top-level domain is a file extension
// that follows '@' in asset names ("icon@2x.png").
func assetExt(tld []byte) bool {
	switch len(tld) {
	case 2:
		return equalFold(tld, "js") || equalFold(tld, "ts")
	case 3:
		for _, x := range [...]string{"png", "jpg", "gif", "svg", "ico", "css", "map", "pdf", "txt", "bmp"} {
			if equalFold(tld, x) {
				return true
			}
		}
	case 4:
		return equalFold(tld, "jpeg") || equalFold(tld, "webp") || equalFold(tld, "json") || equalFold(tld, "avif")
	}
	return false
}
