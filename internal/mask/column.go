package mask

import (
	"errors"
	"strings"
)

// columnRule is a compiled ColumnRule: lower-case glob parts.
type columnRule struct {
	pattern  string
	schema   string // "" when the pattern has no schema part
	table    string // "" when the pattern has no table part
	column   string
	strategy Strategy
}

func compileColumnRule(c ColumnRule) (columnRule, error) {
	st, err := ParseStrategy(c.Strategy)
	if err != nil {
		return columnRule{}, err
	}
	parts := strings.Split(strings.ToLower(strings.TrimSpace(c.Pattern)), ".")
	for _, p := range parts {
		if p == "" {
			return columnRule{}, errors.New(`pattern must be "column", "table.column" or "schema.table.column" with non-empty parts`)
		}
	}
	r := columnRule{pattern: c.Pattern, strategy: st}
	switch len(parts) {
	case 1:
		r.column = parts[0]
	case 2:
		r.table, r.column = parts[0], parts[1]
	case 3:
		r.schema, r.table, r.column = parts[0], parts[1], parts[2]
	default:
		return columnRule{}, errors.New(`pattern must be "column", "table.column" or "schema.table.column"`)
	}
	return r, nil
}

// matches reports whether the rule covers a column. schema, table and
// column are lower case; schema or table may be "" when unknown.
func (r *columnRule) matches(schema, table, column string) bool {
	if !glob(r.column, column) {
		return false
	}
	if r.table != "" && r.table != "*" && (table == "" || !glob(r.table, table)) {
		return false
	}
	if r.schema != "" && r.schema != "*" && schema != "" && !glob(r.schema, schema) {
		return false
	}
	return true
}

// glob reports whether s matches pattern p, where '*' matches any run of
// bytes and every other byte matches itself.
func glob(p, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(p) && p[px] == '*':
			starP, starS = px, sx
			px++
		case px < len(p) && p[px] == s[sx]:
			px++
			sx++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(p) && p[px] == '*' {
		px++
	}
	return px == len(p)
}

// ColumnMasker masks the values of one result column. It is immutable and
// safe for concurrent use; get one per column of a RowDescription with
// Engine.Column and reuse it for every row.
type ColumnMasker struct {
	e    *Engine
	rule *columnRule // nil: detectors only
}

// Column returns the masker for a column, or nil when nothing applies to
// it: no column rule matches and the engine has no detectors and no JSON
// path rules. table is "schema.table", "table", or "" when the column is
// not a plain table column (an expression); names compare
// case-insensitively.
func (e *Engine) Column(table, column string) *ColumnMasker {
	schema := ""
	if dot := strings.IndexByte(table, '.'); dot >= 0 {
		schema, table = table[:dot], table[dot+1:]
	}
	schema, table, column = strings.ToLower(schema), strings.ToLower(table), strings.ToLower(column)
	for i := range e.columns {
		if e.columns[i].matches(schema, table, column) {
			return &ColumnMasker{e: e, rule: &e.columns[i]}
		}
	}
	if e.detects() || e.paths != nil {
		return &ColumnMasker{e: e}
	}
	return nil
}

// ColumnOfUnknownTable returns the masker for a column of a table that
// could not be named (the catalog lookup failed): it fails closed, taking
// the first column rule whose column pattern matches as if its table and
// schema parts matched too, so that a rule for one table is never skipped
// because sluice could not tell which table a column came from.
func (e *Engine) ColumnOfUnknownTable(column string) *ColumnMasker {
	column = strings.ToLower(column)
	for i := range e.columns {
		if glob(e.columns[i].column, column) {
			return &ColumnMasker{e: e, rule: &e.columns[i]}
		}
	}
	return e.Column("", column)
}

// HasColumnRules reports whether any column rule is configured: output
// whose columns are unknown (COPY data) cannot honour them.
func (e *Engine) HasColumnRules() bool { return len(e.columns) > 0 }

// Rule returns the pattern of the column rule that applies, or "" when
// only detectors do.
func (m *ColumnMasker) Rule() string {
	if m.rule == nil {
		return ""
	}
	return m.rule.pattern
}

// Strategy returns the strategy of the column rule, or the engine's
// default strategy for detector hits when no rule applies.
func (m *ColumnMasker) Strategy() Strategy {
	if m.rule == nil {
		return m.e.strategy
	}
	return m.rule.strategy
}
