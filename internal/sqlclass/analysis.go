package sqlclass

import (
	"errors"
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"

	"github.com/sluicehq/sluice"
)

// Analysis is the classification of one query string, which may hold
// several statements. An Analysis is immutable once returned and may be
// shared: Cache hands the same *Analysis to every caller with the same text.
// Callers must not modify it or the slices it holds.
type Analysis struct {
	// Text is the query string that was classified.
	Text string
	// Class is the union of the classes of the statements. A string that
	// does not parse is ClassUnknown; an empty string (no statements) is
	// ClassRead.
	Class sluice.Class
	// Statements are the statements in the order PostgreSQL runs them.
	Statements []Statement
	// Tables, Functions and Settings are the unions of the statements'
	// lists, without duplicates, in order of first appearance.
	Tables    []string
	Functions []string
	Settings  []string
	// WhereMissing is set when any statement has an UPDATE or DELETE
	// without a real WHERE (see Statement.WhereMissing).
	WhereMissing bool
	// Fingerprint is pg_query's fingerprint of the whole text: equal for
	// texts that differ only in constants, whitespace, comments and alias
	// names. Zero when the text does not parse.
	Fingerprint uint64
	// Err is a *ParseError when the text does not parse.
	Err error

	// constDependent is set when the result depends on the value of a
	// constant or on text the pg_query normalizer replaces; such analyses
	// are cached by exact text only.
	constDependent bool
	// hasExecute is set when a statement executes a SQL-level prepared
	// statement, so the result depends on the session.
	hasExecute bool
}

// Statement is the classification of one statement of an Analysis.
type Statement struct {
	// Kind names what the statement is: "select", "insert", "update",
	// "delete", "merge", "copy_from", "copy_to", "create_table",
	// "drop_table", "truncate", "grant", "set", "begin", "commit",
	// "explain", "explain_analyze", "prepare", "execute", "do", "call", ...
	// A SELECT whose CTE deletes is still "select"; its Class says more.
	Kind string
	// Class is the union of the classes of everything the statement does,
	// including nested queries, CTEs and function calls.
	Class sluice.Class
	// Text is the statement's own text, Text == Analysis.Text[Start:End],
	// with surrounding white space and the terminating semicolon left out.
	Text       string
	Start, End int
	// Tables are the relations named (tables, views, sequences, indexes),
	// as written: catalog.schema.name with the parts given, unquoted
	// identifiers folded to lower case, quoted ones kept and re-quoted when
	// needed. CTE names are left out. Unqualified names are not resolved
	// against search_path.
	Tables []string
	// Functions are the functions called, qualified when written qualified
	// (SQL-syntax calls such as EXTRACT are shown unqualified).
	Functions []string
	// Settings are the run-time settings (GUCs) the statement changes, in
	// lower case: through SET, SET LOCAL, RESET, set_config, SET
	// TRANSACTION, ALTER ROLE/DATABASE/SYSTEM/FUNCTION ... SET. "all" stands
	// for RESET ALL and DISCARD ALL.
	Settings []string
	// WhereMissing is set when an UPDATE or DELETE anywhere in the
	// statement has no WHERE, or a WHERE that refers to no column (made only
	// of constants, parameters, functions of those, or subqueries), and for
	// a MERGE that updates or deletes on a join condition of that kind.
	// Such a statement affects every row whatever the values are.
	WhereMissing bool
	// Reasons explain, in words, every class other than read.
	Reasons []string
	// Prepared is the prepared statement name for PREPARE, EXECUTE and
	// DEALLOCATE.
	Prepared string

	// For Session: what the statement does to session state.
	body       *Statement // PREPARE: the body's classification
	txReadOnly int8       // BEGIN, START, SET TRANSACTION: roOn, roOff or roNone
	defaultRO  int8       // change to default_transaction_read_only: roNone if none
	chain      bool       // COMMIT/ROLLBACK AND CHAIN
}

// Read-only modes carried by Statement.txReadOnly and defaultRO.
const (
	roNone    int8 = iota // not given / not changed
	roOn                  // read only
	roOff                 // read write
	roUnknown             // changed to a value sluice cannot tell
	roReset               // reset to the connection's default
)

// ReadOnly reports whether the analysis is a pure read: ClassRead and no
// other class. A policy that allows reads should test this, not whether the
// read bit is set: a CTE that reads and deletes has the read bit too.
func (a *Analysis) ReadOnly() bool { return a.Class == sluice.ClassRead }

// FingerprintHex returns the fingerprint as 16 hex digits, the form pg_query
// and pg_stat_statements tooling print.
func (a *Analysis) FingerprintHex() string { return fmt.Sprintf("%016x", a.Fingerprint) }

// ParseError is the error of a text that does not parse.
type ParseError struct {
	Message string
	// Position is the 1-based byte offset the parser reported, 0 if none.
	Position int
}

func (e *ParseError) Error() string {
	if e.Position > 0 {
		return fmt.Sprintf("parse SQL: %s at position %d", e.Message, e.Position)
	}
	return "parse SQL: " + e.Message
}

// Classify classifies the statements of text without any session state: an
// EXECUTE is classified only when the same text PREPAREs the name first. It
// is safe for concurrent use.
func Classify(text string) *Analysis { return classify(text, nil, nil) }

// preparedLookup returns the classification of a prepared statement's body,
// or nil if the name is not known.
type preparedLookup func(name string) *Statement

// classify parses text and classifies each statement. lookup resolves
// EXECUTE of names not prepared in text; trace, for tests, counts visits.
func classify(text string, lookup preparedLookup, trace visitCounts) *Analysis {
	if strings.IndexByte(text, 0) >= 0 {
		// The protocol cannot carry it and the C parser would stop there:
		// what the server sees could differ from what is classified.
		return invalid(text, &ParseError{Message: "statement text holds a NUL byte"})
	}
	tree, err := pg.Parse(text)
	if err != nil {
		return invalid(text, parseError(err))
	}
	fp, err := pg.FingerprintToUInt64(text)
	if err != nil {
		return invalid(text, parseError(err))
	}
	c := classifier{lookup: lookup, trace: trace}
	var a *Analysis
	if len(tree.Stmts) == 1 {
		// One allocation for the common case.
		one := new(struct {
			a  Analysis
			st [1]Statement
		})
		a = &one.a
		a.Statements = one.st[:]
	} else {
		a = &Analysis{Statements: make([]Statement, len(tree.Stmts))}
	}
	a.Text, a.Fingerprint = text, fp
	for i, raw := range tree.Stmts {
		st := &a.Statements[i]
		st.Start, st.End = span(text, raw)
		st.Text = text[st.Start:st.End]
		c.statement(st, raw.Stmt)
	}
	a.constDependent, a.hasExecute = c.constDep, c.hasExecute
	a.union()
	return a
}

// invalid returns the analysis of a text that does not parse: one
// statement of kind "invalid" covering the text, ClassUnknown.
func invalid(text string, err *ParseError) *Analysis {
	a := &Analysis{Text: text, Class: sluice.ClassUnknown, Err: err}
	a.Statements = []Statement{{
		Kind:    "invalid",
		Class:   sluice.ClassUnknown,
		Text:    text,
		End:     len(text),
		Reasons: []string{"does not parse: " + err.Message},
	}}
	a.constDependent = true
	return a
}

func parseError(err error) *ParseError {
	var pe *parser.Error
	if errors.As(err, &pe) {
		return &ParseError{Message: pe.Message, Position: pe.Cursorpos}
	}
	return &ParseError{Message: err.Error()}
}

// span returns the byte range of a statement in text, trimmed of white
// space. A zero length means "to the end of the text".
func span(text string, raw *pg.RawStmt) (start, end int) {
	start, end = int(raw.StmtLocation), len(text)
	if raw.StmtLen > 0 {
		end = start + int(raw.StmtLen)
	}
	if start < 0 || start > len(text) || end > len(text) || end < start {
		return 0, len(text)
	}
	for start < end && isSpace(text[start]) {
		start++
	}
	for end > start && (isSpace(text[end-1]) || text[end-1] == ';') {
		end--
	}
	return start, end
}

// isSpace reports whether b is white space to PostgreSQL's scanner.
func isSpace(b byte) bool {
	switch b {
	case ' ', '\t', '\n', '\r', '\f', '\v':
		return true
	}
	return false
}

// union fills the analysis-wide fields from the statements.
func (a *Analysis) union() {
	if len(a.Statements) == 0 {
		a.Class = sluice.ClassRead
		return
	}
	if len(a.Statements) == 1 {
		st := &a.Statements[0]
		a.Class, a.Tables, a.Functions, a.Settings, a.WhereMissing =
			st.Class, st.Tables, st.Functions, st.Settings, st.WhereMissing
		return
	}
	for i := range a.Statements {
		st := &a.Statements[i]
		a.Class |= st.Class
		a.WhereMissing = a.WhereMissing || st.WhereMissing
		a.Tables = appendNew(a.Tables, st.Tables...)
		a.Functions = appendNew(a.Functions, st.Functions...)
		a.Settings = appendNew(a.Settings, st.Settings...)
	}
}

// appendNew appends each of vs not yet in list.
func appendNew(list []string, vs ...string) []string {
outer:
	for _, v := range vs {
		for _, have := range list {
			if have == v {
				continue outer
			}
		}
		list = append(list, v)
	}
	return list
}
