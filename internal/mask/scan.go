package mask

// Scanning classes of a byte, per Engine (see Engine.cls).
const (
	cSkip  uint8 = iota // not a trigger
	cWord               // starts a word: [A-Za-z0-9_]
	cAt                 // '@': email
	cColon              // ':': "://" (url_password) and "::" (IPv6)
)

// Actions on the first byte of a word (Engine.wordAct).
const (
	aNum    uint8 = 1 << iota // digit: IPv4, SSN, card, phone
	aV6                       // hex digit: IPv6
	aIBAN                     // upper-case letter: IBAN
	aPrefix                   // first byte of a known token prefix
)

// scanner is one pass of the detectors over src. It lives on the stack of
// the call that masks src and is never shared.
type scanner struct {
	e    *Engine
	src  []byte
	dst  []byte
	c    *Counts
	last int // src[:last] has been written to dst (or consumed by a hit)
	hits int
	// detectOnly records hits without writing dst.
	detectOnly bool
	// numbersOnly limits the scan to the numeric detectors (JSON numbers).
	numbersOnly bool
	custom      []span // custom detector matches, sorted, not yet written
	ci          int
	// pemAt is the position of the next "-----END " found, or -1 when
	// none starts before pemClear (see pemEndLine).
	pemAt, pemClear int
	// first is the first built-in hit, for sniff.
	first          kind
	firstS, firstE int
	// onHit, if set, hears of each hit's span of src (see SafeCut).
	onHit func(start, end int)
}

// span is a custom detector's match.
type span struct {
	start, end int
	d          *customDetector
}

// run scans s.src from the start.
func (s *scanner) run() {
	src := s.src
	n := len(src)
	cls := &s.e.cls
	for i := 0; i < n; {
		switch cls[src[i]] {
		case cSkip:
			i++
		case cWord:
			j := i + 1
			for j < n && ctab[src[j]]&fWord != 0 {
				j++
			}
			if e := s.word(i, j); e > i {
				i = e
			} else {
				i = j
			}
		case cAt:
			if e := s.email(i); e > i {
				i = e
			} else {
				i++
			}
		case cColon:
			if e := s.colon(i); e > i {
				i = e
			} else {
				i++
			}
		}
	}
}

// word looks at the word src[i:j] and returns the end of a hit, or 0.
func (s *scanner) word(i, j int) int {
	e := s.e
	src := s.src
	c := src[i]
	act := e.wordAct[c]
	if s.numbersOnly {
		if act&aNum != 0 {
			return s.numeric(i, j)
		}
		return 0
	}
	if act != 0 {
		if act&aNum != 0 {
			if end := s.numeric(i, j); end > 0 {
				return end
			}
		}
		if act&aV6 != 0 && j-i <= 4 && at(src, j) == ':' {
			if end := s.ipv6(i); end > 0 {
				return end
			}
		}
		if act&aIBAN != 0 && j-i >= 4 {
			if end := s.iban(i, j); end > 0 {
				return end
			}
		}
		if act&aPrefix != 0 {
			if end := s.prefixed(i, j); end > 0 {
				return end
			}
		}
	}
	if e.kv && j < len(src) {
		switch src[j] {
		case '=', ':', '"', '\'', '\\':
			return s.keyValue(i, j)
		case ' ', '\t':
			// "Password = x": look past a little white space.
			k := j + 1
			for k < len(src) && k < j+4 && (src[k] == ' ' || src[k] == '\t') {
				k++
			}
			if k < len(src) && (src[k] == '=' || src[k] == ':') {
				return s.keyValue(i, j)
			}
			if k < len(src) && src[k] == '\'' && j-i == 8 && e.on[kConnPassword] && equalFold(src[i:j], "password") {
				return s.sqlPassword(k)
			}
		}
	}
	return 0
}

// before returns src[k], or 0 when k is before the start of src or inside
// a previous hit: detectors that look back see a hit as the non-word
// bytes its replacement will be, so that masking twice changes nothing.
func (s *scanner) before(k int) byte {
	if k < s.last || k < 0 {
		return 0
	}
	return s.src[k]
}

// colon handles ':' at i: "://" and IPv6 starting with "::".
func (s *scanner) colon(i int) int {
	src := s.src
	if at(src, i+1) == '/' && at(src, i+2) == '/' {
		if s.e.on[kURLPassword] {
			return s.urlPassword(i)
		}
		return 0
	}
	if s.e.on[kIP] && at(src, i+1) == ':' && !is(s.before(i-1), fWord) && s.before(i-1) != ':' {
		return s.ipv6(i)
	}
	return 0
}

// hit records a match of a built-in detector on src[start:end] and writes
// its replacement. Custom matches that overlap it are merged with it: the
// one that starts first masks the union.
func (s *scanner) hit(k kind, start, end int) {
	for s.ci < len(s.custom) {
		m := &s.custom[s.ci]
		switch {
		case m.end <= start:
			s.writeCustom(m, m.end)
			s.ci++
			continue
		case m.start <= start:
			m.end = max(m.end, end)
			s.writeCustom(m, m.end)
			s.ci++
			return
		case m.start < end:
			end = max(end, m.end)
			s.ci++
			continue
		}
		break
	}
	if start < s.last {
		start = s.last
	}
	if end <= start {
		return
	}
	if s.hits == 0 {
		s.first, s.firstS, s.firstE = k, start, end
	}
	s.hits++
	s.c.add(k)
	if s.onHit != nil {
		s.onHit(start, end)
	}
	if !s.detectOnly {
		s.dst = append(s.dst, s.src[s.last:start]...)
		s.dst = s.e.maskHit(s.dst, k, s.src[start:end])
	}
	s.last = end
}

// writeCustom writes the replacement of m up to end.
func (s *scanner) writeCustom(m *span, end int) {
	start := max(m.start, s.last)
	if end <= start {
		return
	}
	s.hits++
	s.c.addNamed(m.d.name)
	if s.onHit != nil {
		s.onHit(start, end)
	}
	if !s.detectOnly {
		s.dst = append(s.dst, s.src[s.last:start]...)
		s.dst = s.e.maskCustom(s.dst, m.d, s.src[start:end])
	}
	s.last = end
}

// finish writes the remaining custom matches and the tail of src.
func (s *scanner) finish() {
	for ; s.ci < len(s.custom); s.ci++ {
		m := &s.custom[s.ci]
		s.writeCustom(m, m.end)
	}
	if !s.detectOnly {
		s.dst = append(s.dst, s.src[s.last:]...)
	}
}

// pass runs every detector over s.src: the custom ones' matches are found
// first, then the built-in scan merges them with its own hits.
func (s *scanner) pass() {
	if len(s.e.custom) > 0 {
		s.custom = s.e.findCustom(s.src)
	}
	if s.e.anyBuiltin {
		s.run()
	}
	s.finish()
}

// scan masks src into dst with the detectors and reports the number of hits.
func (e *Engine) scan(dst, src []byte, c *Counts) ([]byte, int) {
	s := scanner{e: e, src: src, dst: dst, c: c}
	s.pass()
	return s.dst, s.hits
}

// detect reports the number of detector hits in src without masking.
func (e *Engine) detect(src []byte, c *Counts) int {
	s := scanner{e: e, src: src, c: c, detectOnly: true}
	s.pass()
	return s.hits
}

// scanNumber masks a JSON number with the numeric detectors.
func (e *Engine) scanNumber(dst, src []byte, c *Counts) ([]byte, int) {
	s := scanner{e: e, src: src, dst: dst, c: c, numbersOnly: true}
	if len(e.custom) > 0 {
		s.custom = e.findCustom(src)
	}
	if e.wordAct['0']&aNum != 0 {
		s.run()
	}
	s.finish()
	return s.dst, s.hits
}

// sniffEngine has every built-in detector on; sniff uses it.
var sniffEngine = func() *Engine {
	e, err := New(Config{Sets: []string{"pii", "secrets"}})
	if err != nil {
		panic(err)
	}
	return e
}()

// sniff reports which detector, if any, matches all of v.
func sniff(v []byte) (kind, bool) {
	s := scanner{e: sniffEngine, src: v, detectOnly: true}
	s.run()
	if s.hits > 0 && s.firstS == 0 && s.firstE == len(v) {
		return s.first, true
	}
	return 0, false
}
