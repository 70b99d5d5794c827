package sqlclass

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluicehq/sluice"
)

func (c *classifier) columnRef(cr *pg.ColumnRef) {
	c.count(cr)
	c.colRefs++
	// t.f can call f(t) ("attribute notation"); catch the names we know.
	for i := 1; i < len(cr.Fields); i++ {
		if s := cr.Fields[i].GetString_(); s != nil {
			c.attribute(s.Sval)
		}
	}
}

// indirection classifies (expr).field, expr[i] and expr.*; (expr).f calls
// f(expr) when expr has no field f, whatever expr's type.
func (c *classifier) indirection(ai *pg.A_Indirection) {
	c.count(ai)
	c.node(ai.Arg)
	for _, n := range ai.Indirection {
		if s := n.GetString_(); s != nil {
			c.attribute(s.Sval)
			continue
		}
		c.node(n)
	}
}

// attribute treats a field name that is a known function as a call of it:
// ('/etc/passwd'::text).pg_read_file runs pg_read_file. Unknown names are
// taken to be fields or columns; a user-defined function called this way
// is not seen.
func (c *classifier) attribute(name string) {
	d, ok := dangerFor(name)
	if !ok {
		return
	}
	c.addFunction(ident(name))
	c.add(d.class, "calls "+ident(name)+" through attribute notation ("+d.why+")")
}

func (c *classifier) aExpr(e *pg.A_Expr) {
	c.count(e)
	c.operator(e.Name)
	c.node(e.Lexpr)
	c.node(e.Rexpr)
}

// operator checks an operator name: OPERATOR(schema.op) outside pg_catalog
// calls a user-defined function. Unqualified operators are taken to be
// built in (see docs/classes.md, "Limits").
func (c *classifier) operator(name []*pg.Node) {
	if len(name) < 2 {
		return
	}
	parts, ok := stringParts(name, c.buf[:])
	if ok && len(parts) == 2 && parts[0] == "pg_catalog" {
		return
	}
	c.add(sluice.ClassUnknown, "uses an operator outside pg_catalog, which sluice cannot prove safe")
}

func (c *classifier) subLink(s *pg.SubLink) {
	c.count(s)
	c.node(s.Testexpr)
	c.operator(s.OperName)
	c.node(s.Subselect)
}

func (c *classifier) typeName(t *pg.TypeName) {
	if t == nil {
		return
	}
	c.count(t)
	c.nodes(t.Typmods)
}

func (c *classifier) windowDef(w *pg.WindowDef) {
	if w == nil {
		return
	}
	c.count(w)
	c.nodes(w.PartitionClause)
	c.nodes(w.OrderClause)
	c.node(w.StartOffset)
	c.node(w.EndOffset)
}

// defElem walks an option. The pg_query normalizer replaces option values
// written as string constants (arg_location set), so a statement with one is
// cached by exact text only.
func (c *classifier) defElem(d *pg.DefElem) {
	c.count(d)
	if d.ArgLocation >= 0 {
		c.constDep = true
	}
	c.node(d.Arg)
}

// tableSample checks the sampling method, which is a function.
func (c *classifier) tableSample(ts *pg.RangeTableSample) {
	c.count(ts)
	c.node(ts.Relation)
	parts, ok := stringParts(ts.Method, c.buf[:])
	if !ok || len(parts) != 1 || (parts[0] != "system" && parts[0] != "bernoulli") {
		c.add(sluice.ClassUnknown, "uses a TABLESAMPLE method sluice cannot prove safe")
	}
	c.nodes(ts.Args)
	c.node(ts.Repeatable)
}

func (c *classifier) funcCall(f *pg.FuncCall) {
	c.count(f)
	name := c.call(f.Funcname, f.Funcformat == pg.CoercionForm_COERCE_SQL_SYNTAX)
	if name == "set_config" && len(f.Args) > 0 {
		// Record the setting; the class never depends on it, the
		// setting list does.
		c.constDep = true
		if s := constString(f.Args[0]); s != "" {
			c.addSetting(gucName(s))
		}
	}
	c.nodes(f.Args)
	c.nodes(f.AggOrder)
	c.node(f.AggFilter)
	c.windowDef(f.Over)
}

// call records and classifies a call of the function named by names and
// returns its unqualified name. sqlSyntax marks calls written in SQL syntax
// (EXTRACT(...), x AT TIME ZONE y), which the parser qualifies with
// pg_catalog itself.
func (c *classifier) call(names []*pg.Node, sqlSyntax bool) string {
	parts, ok := stringParts(names, c.buf[:])
	if !ok || len(parts) == 0 {
		c.add(sluice.ClassUnknown, "calls a function sluice cannot name")
		return ""
	}
	name := parts[len(parts)-1]
	schema := ""
	if len(parts) > 1 {
		schema = parts[len(parts)-2]
	}
	var shown string
	if sqlSyntax && schema == "pg_catalog" && len(parts) == 2 {
		shown = ident(name)
	} else {
		shown = qualified(parts...)
	}
	c.addFunction(shown)
	if len(parts) > 2 {
		c.add(sluice.ClassUnknown, "calls "+shown+", which sluice cannot prove safe")
		return name
	}
	if d, ok := dangerFor(name); ok {
		c.add(d.class, "calls "+shown+" ("+d.why+")")
		if schema != "" && schema != "pg_catalog" {
			c.add(sluice.ClassUnknown, "calls "+shown+", which sluice cannot prove safe")
		}
		return name
	}
	if !isSafeFunction(schema, name) {
		c.add(sluice.ClassUnknown, "calls "+shown+", which sluice cannot prove safe")
	}
	return name
}

// constString returns the value of a string constant, "" if n is not one.
func constString(n *pg.Node) string {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.Arg
	}
	if ac := n.GetAConst(); ac != nil {
		if s := ac.GetSval(); s != nil {
			return s.Sval
		}
	}
	return ""
}
