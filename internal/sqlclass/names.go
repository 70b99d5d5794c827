package sqlclass

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// Names in an analysis are written the way PostgreSQL would accept them and
// resolve them to the same object: the parser has already folded unquoted
// identifiers to lower case and kept quoted ones as written, so a part is
// quoted again exactly when it would otherwise fold or not scan as an
// identifier ("Orders", "my.table", "we""ird"). Keywords are not quoted:
// names are for reading and matching, not for pasting into SQL.

// needsQuotes reports whether identifier s must be double-quoted to stand for
// itself.
func needsQuotes(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b == '_', b >= 0x80:
		case (b >= '0' && b <= '9') || b == '$':
			if i == 0 {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// ident returns s, double-quoted if needed.
func ident(s string) string {
	if !needsQuotes(s) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// qualified joins name parts with ".", quoting each as needed. A single part
// that needs no quotes is returned without allocating.
func qualified(parts ...string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return ident(parts[0])
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(ident(p))
	}
	return b.String()
}

// relationName renders a RangeVar as catalog.schema.name, with the parts
// that were written.
func relationName(rv *pg.RangeVar) string {
	switch {
	case rv.Catalogname != "":
		return qualified(rv.Catalogname, rv.Schemaname, rv.Relname)
	case rv.Schemaname != "":
		return qualified(rv.Schemaname, rv.Relname)
	}
	return ident(rv.Relname)
}

// stringParts returns the String values of a name list (a function,
// operator or qualified object name) and false if it holds anything else.
func stringParts(nodes []*pg.Node, buf []string) ([]string, bool) {
	out := buf[:0]
	for _, n := range nodes {
		s, ok := n.GetNode().(*pg.Node_String_)
		if !ok {
			return nil, false
		}
		out = append(out, s.String_.Sval)
	}
	return out, true
}
