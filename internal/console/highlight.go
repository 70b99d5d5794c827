package console

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is one piece of a highlighted statement: its text, exactly as in
// the statement, and the CSS class it is shown with ("" for plain text).
// Templates escape Text like any other value.
type token struct {
	Class string
	Text  string
}

// The CSS classes of highlighted SQL.
const (
	clsKeyword = "sql-kw"
	clsString  = "sql-str"
	clsNumber  = "sql-num"
	clsComment = "sql-com"
	clsIdent   = "sql-id" // a quoted identifier
	clsParam   = "sql-param"
)

// highlight splits a SQL statement into tokens for display: keywords,
// string literals (standard, with E'...' escapes, and dollar quoted),
// comments, quoted identifiers and $n parameters. It never fails: what it
// does not recognize is plain text, and the tokens' texts joined give back
// sql exactly. It is for display only; statements are classified from
// PostgreSQL's parse tree, never from this.
func highlight(sql string) []token {
	var out []token
	plain := 0 // start of the pending plain text
	emit := func(start, end int, class string) {
		if plain < start {
			out = append(out, token{Text: sql[plain:start]})
		}
		out = append(out, token{Class: class, Text: sql[start:end]})
		plain = end
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			end := strings.IndexByte(sql[i:], '\n')
			if end < 0 {
				end = len(sql) - i
			}
			emit(i, i+end, clsComment)
			i += end
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			end := blockCommentEnd(sql, i)
			emit(i, end, clsComment)
			i = end
		case c == '\'':
			end := quotedEnd(sql, i+1, '\'', false)
			emit(i, end, clsString)
			i = end
		case (c == 'E' || c == 'e') && i+1 < len(sql) && sql[i+1] == '\'' && !identByteBefore(sql, i):
			end := quotedEnd(sql, i+2, '\'', true)
			emit(i, end, clsString)
			i = end
		case c == '"':
			end := quotedEnd(sql, i+1, '"', false)
			emit(i, end, clsIdent)
			i = end
		case c == '$':
			if end, ok := dollarQuoteEnd(sql, i); ok {
				emit(i, end, clsString)
				i = end
				continue
			}
			j := i + 1
			for j < len(sql) && isDigit(sql[j]) {
				j++
			}
			if j > i+1 && !identByteBefore(sql, i) {
				emit(i, j, clsParam)
				i = j
				continue
			}
			i++
		case isDigit(c) || c == '.' && i+1 < len(sql) && isDigit(sql[i+1]):
			if identByteBefore(sql, i) {
				i++
				continue
			}
			end := numberEnd(sql, i)
			emit(i, end, clsNumber)
			i = end
		case isIdentStart(c):
			j := i
			for j < len(sql) && isIdentByte(sql[j]) {
				j++
			}
			if keywords[strings.ToLower(sql[i:j])] {
				emit(i, j, clsKeyword)
			}
			i = j
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(sql[i:])
			if unicode.IsLetter(r) {
				// A non-ASCII identifier: never a keyword.
				j := i + n
				for j < len(sql) && (isIdentByte(sql[j]) || sql[j] >= utf8.RuneSelf) {
					j++
				}
				i = j
				continue
			}
			i += n
		default:
			i++
		}
	}
	if plain < len(sql) {
		out = append(out, token{Text: sql[plain:]})
	}
	return out
}

// quotedEnd returns the end of a quoted literal or identifier whose body
// starts at i: after the closing quote (a doubled quote is part of the
// body; with backslash, \x escapes the next byte), or len(sql) when it is
// not closed.
func quotedEnd(sql string, i int, quote byte, backslash bool) int {
	for i < len(sql) {
		switch c := sql[i]; {
		case backslash && c == '\\':
			i += 2
		case c == quote:
			if i+1 < len(sql) && sql[i+1] == quote {
				i += 2
				continue
			}
			return i + 1
		default:
			i++
		}
	}
	return len(sql)
}

// blockCommentEnd returns the end of the comment starting at i; PostgreSQL
// block comments nest.
func blockCommentEnd(sql string, i int) int {
	depth := 0
	for i < len(sql) {
		switch {
		case strings.HasPrefix(sql[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(sql[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return len(sql)
}

// dollarQuoteEnd returns the end of a dollar-quoted string starting at i
// ($$...$$ or $tag$...$tag$), and false when there is none at i.
func dollarQuoteEnd(sql string, i int) (int, bool) {
	j := i + 1
	for j < len(sql) && sql[j] != '$' {
		if !isIdentByte(sql[j]) || (j == i+1 && isDigit(sql[j])) {
			return 0, false
		}
		j++
	}
	if j >= len(sql) || identByteBefore(sql, i) {
		return 0, false
	}
	tag := sql[i : j+1]
	k := strings.Index(sql[j+1:], tag)
	if k < 0 {
		return len(sql), true
	}
	return j + 1 + k + len(tag), true
}

// numberEnd returns the end of a numeric literal starting at i.
func numberEnd(sql string, i int) int {
	for i < len(sql) && (isDigit(sql[i]) || sql[i] == '_') {
		i++
	}
	if i < len(sql) && sql[i] == '.' {
		i++
		for i < len(sql) && isDigit(sql[i]) {
			i++
		}
	}
	if i < len(sql) && (sql[i] == 'e' || sql[i] == 'E') {
		j := i + 1
		if j < len(sql) && (sql[j] == '+' || sql[j] == '-') {
			j++
		}
		if j < len(sql) && isDigit(sql[j]) {
			for j < len(sql) && isDigit(sql[j]) {
				j++
			}
			i = j
		}
	}
	return i
}

func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isIdentStart(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }
func isIdentByte(c byte) bool  { return isIdentStart(c) || isDigit(c) || c == '$' }

// identByteBefore reports whether the byte before i continues an
// identifier (so that t1, x$2 or abc.e'x' are not split oddly).
func identByteBefore(sql string, i int) bool {
	return i > 0 && (isIdentByte(sql[i-1]) || sql[i-1] >= utf8.RuneSelf)
}

// keywords are the words highlighted as SQL keywords.
var keywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`
		select from where and or not in is null like ilike between exists any all some
		insert into values update set delete truncate merge using returning on conflict do nothing
		create alter drop table index view sequence schema database function procedure trigger
		extension type domain role user grant revoke to with recursive as distinct order by group
		having limit offset fetch first next rows only union intersect except join inner left right
		full outer cross natural lateral case when then else end cast begin commit rollback
		savepoint release transaction start isolation level read write deferrable analyze explain
		vacuum copy listen notify unlisten prepare execute deallocate declare cursor close move
		primary key foreign references unique check default constraint cascade restrict if
		replace temporary temp unlogged add column rename owner true false asc desc nulls
		window over partition filter lock share exclusive mode nowait skip locked for of comment
		reset show call`) {
		keywords[k] = true
	}
}
