package mask

// SafeCut returns the length of the longest prefix of src, at most limit
// bytes long, that ends just after a space or tab lying outside every value
// the detectors find in src; 0 when there is none, or when a detector
// panics. A caller that masks a stream in pieces cuts a long line there, so
// that no value found in what it has read is split between two pieces and
// missed by the detectors in both. A value that has not ended by the end of
// src cannot be found yet: the caller keeps limit short of the end by more
// than such a value is long. A nil Engine finds nothing.
func (e *Engine) SafeCut(src []byte, limit int) (n int) {
	limit = min(limit, len(src))
	var spans [][2]int // the hits, in order, not overlapping
	if e != nil && e.detects() && limit > 0 {
		defer func() {
			if recover() != nil {
				n = 0
			}
		}()
		s := scanner{e: e, src: src, detectOnly: true,
			onHit: func(start, end int) { spans = append(spans, [2]int{start, end}) }}
		if len(e.custom) > 0 {
			s.custom = e.findCustom(src)
		}
		if e.anyBuiltin {
			s.run()
		}
		s.finish()
	}
	k := len(spans) - 1 // the last span that starts at or before i
	for i := limit - 1; i >= 0; i-- {
		if src[i] != ' ' && src[i] != '\t' {
			continue
		}
		for k >= 0 && spans[k][0] > i {
			k--
		}
		if k >= 0 && i+1 < spans[k][1] {
			continue // cutting after i would split the hit
		}
		return i + 1
	}
	return 0
}
