package mask

// CopyRow appends one row of COPY TO STDOUT in text format (fields joined
// by delim, usually '\t', and ending in '\n') with the detectors applied to
// each field on its own, and returns the extended buffer. A hit never spans
// a delimiter, so the row keeps its fields; "\N" (NULL) fields and the
// escapes of the format stay valid because replacements contain no tab,
// newline or backslash. Column rules do not apply here (COPY rows carry no
// column names); the caller that knows the columns can call Value per field
// instead. CSV format needs a CSV-aware caller.
func (e *Engine) CopyRow(dst, row []byte, delim byte, c *Counts) []byte {
	if !e.detects() {
		return append(dst, row...)
	}
	start := 0
	for k := 0; k <= len(row); k++ {
		if k < len(row) && row[k] != delim && row[k] != '\n' {
			continue
		}
		field := row[start:k]
		if len(field) == 2 && field[0] == '\\' && field[1] == 'N' {
			dst = append(dst, field...)
		} else {
			dst = e.Text(dst, field, c)
		}
		if k < len(row) {
			dst = append(dst, row[k])
		}
		start = k + 1
	}
	return dst
}
