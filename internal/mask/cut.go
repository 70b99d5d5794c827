package mask

import "bytes"

// cutTries is how many blanks SafeCut tries, from the last one back.
const cutTries = 16

// CutMargin is how far before the end of the text seen so far a caller of
// SafeCut keeps its limit. It is longer than anything with blanks in it
// that a built-in detector must see whole: a card number or an IBAN written
// in groups, and a key with the quotes, blanks and '=' between it and the
// start of its value (at most maxAssignBlanks on either side of the '=').
// Such a value that has not ended by the end of the text then lies wholly
// after the cut. A custom detector's pattern may match more than this.
const CutMargin = 256

// SafeCut returns the length of the longest prefix of src, at most limit
// bytes long, that ends just after a space or tab where cutting src changes
// nothing: the prefix and the rest, masked apart, read as src masked
// whole. Such a cut splits no value the detectors find, nor a value from
// the key that makes it one ("password = hunter2"). It returns 0 when none
// of the last cutTries blanks outside a value will do, or when a detector
// panics. A caller that masks a stream in pieces cuts a long line there.
// A value that has not ended by the end of src cannot be found yet: the
// caller keeps limit CutMargin short of the end.
// A nil Engine finds nothing, and cuts at the last blank.
func (e *Engine) SafeCut(src []byte, limit int) (n int) {
	limit = min(limit, len(src))
	if limit <= 0 {
		return 0
	}
	if e == nil || !e.detects() || bytes.IndexAny(src[:limit], " \t") < 0 {
		// Nothing to find, or no blank to try: the detectors need not run.
		return bytes.LastIndexAny(src[:limit], " \t") + 1
	}
	defer func() {
		if recover() != nil {
			n = 0
		}
	}()
	var spans [][2]int // the hits, in order, not overlapping
	s := scanner{e: e, src: src, onHit: func(start, end int) { spans = append(spans, [2]int{start, end}) }}
	s.pass()
	whole := s.dst
	var pieces []byte
	k := len(spans) - 1 // the last span that starts at or before i
	for i, tries := limit-1, 0; i >= 0 && tries < cutTries; i-- {
		if src[i] != ' ' && src[i] != '\t' {
			continue
		}
		for k >= 0 && spans[k][0] > i {
			k--
		}
		if k >= 0 && i+1 < spans[k][1] {
			continue // cutting after i would split the hit
		}
		tries++
		pieces, _ = e.scan(pieces[:0], src[:i+1], nil)
		pieces, _ = e.scan(pieces, src[i+1:], nil)
		if bytes.Equal(pieces, whole) {
			return i + 1
		}
	}
	return 0
}
