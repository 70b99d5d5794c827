package sqlclass

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluicehq/sluice"
)

// This file classifies the statements that wrap another statement or a
// body of code: EXPLAIN, PREPARE, EXECUTE, COPY, CREATE TABLE AS, DO,
// CREATE/ALTER FUNCTION.

// explain classifies EXPLAIN. Without ANALYZE the statement is only
// planned: EXPLAIN is read, and unknown if the plan calls a function sluice
// cannot prove safe (the planner may run immutable functions on constants).
// With ANALYZE — whatever value the option is given, so that the class does
// not depend on a constant — the statement runs and brings its classes.
func (c *classifier) explain(e *pg.ExplainStmt) {
	c.count(e)
	analyze := false
	for _, o := range e.Options {
		if d := o.GetDefElem(); d != nil && d.Defname == "analyze" {
			analyze = true
		}
	}
	c.nodes(e.Options)
	if analyze {
		c.kind("explain_analyze")
		c.add(sluice.ClassRead, "")
		c.node(e.Query)
		return
	}
	c.kind("explain")
	c.add(sluice.ClassRead, "")
	plan := c.sub(func() { c.node(e.Query) })
	st := c.st
	st.Tables = appendNew(st.Tables, plan.Tables...)
	st.Functions = appendNew(st.Functions, plan.Functions...)
	if plan.Class&sluice.ClassUnknown != 0 {
		c.add(sluice.ClassUnknown, "EXPLAIN plans a statement with parts sluice cannot prove safe; planning may run them")
	}
}

// prepare classifies PREPARE with the classes of its body, so that the body
// is judged when it is defined as well as when it runs, and remembers the
// body for EXECUTE later in the same text.
func (c *classifier) prepare(p *pg.PrepareStmt) {
	c.count(p)
	c.kind("prepare")
	c.st.Prepared = p.Name
	body := c.sub(func() {
		c.nodes(p.Argtypes)
		c.node(p.Query)
	})
	c.merge(body)
	c.st.body = body
	if c.prepared == nil {
		c.prepared = make(map[string]*Statement)
	}
	c.prepared[p.Name] = body
}

// execute classifies EXECUTE with the classes of the prepared body: one
// prepared earlier in this text, or, through Session, earlier in the
// session. A name sluice has not seen prepared is unknown.
func (c *classifier) execute(e *pg.ExecuteStmt) {
	c.count(e)
	c.kind("execute")
	c.hasExecute = true
	if c.st.Prepared == "" {
		c.st.Prepared = e.Name
	}
	if body := c.preparedBody(e.Name); body != nil {
		c.merge(body)
	} else {
		c.add(sluice.ClassUnknown, "EXECUTE of a prepared statement sluice has not seen prepared")
	}
	c.nodes(e.Params)
}

func (c *classifier) preparedBody(name string) *Statement {
	if body, ok := c.prepared[name]; ok {
		return body // nil after DEALLOCATE
	}
	if c.discarded || c.lookup == nil {
		return nil
	}
	return c.lookup(name)
}

func (c *classifier) deallocate(d *pg.DeallocateStmt) {
	c.count(d)
	c.add(sluice.ClassRead, "")
	if d.Isall {
		c.kind("deallocate_all")
		c.prepared = nil
		c.discarded = true
		return
	}
	c.kind("deallocate")
	c.st.Prepared = d.Name
	if c.prepared == nil {
		c.prepared = make(map[string]*Statement)
	}
	c.prepared[d.Name] = nil
}

// copyStmt classifies COPY. PROGRAM and server files are privileged
// whatever the direction; FROM writes the table; TO reads the table or
// brings the classes of its query.
func (c *classifier) copyStmt(s *pg.CopyStmt) {
	c.count(s)
	if s.IsFrom {
		c.kind("copy_from")
		c.add(sluice.ClassWrite, "COPY FROM writes rows")
	} else {
		c.kind("copy_to")
		c.add(sluice.ClassRead, "")
	}
	switch {
	case s.IsProgram:
		c.add(sluice.ClassPrivileged, "COPY ... PROGRAM runs a command on the database server")
	case s.Filename != "":
		c.add(sluice.ClassPrivileged, "COPY with a file name reads or writes a file on the database server")
	}
	c.rangeVar(s.Relation)
	c.node(s.Query)
	c.nodes(s.Attlist)
	c.nodes(s.Options)
	c.node(s.WhereClause)
}

// createTableAs classifies CREATE TABLE AS, CREATE MATERIALIZED VIEW and
// SELECT INTO: a new table filled by running the query.
func (c *classifier) createTableAs(s *pg.CreateTableAsStmt) {
	c.count(s)
	switch {
	case s.IsSelectInto:
		c.kind("select_into")
	case s.Objtype == pg.ObjectType_OBJECT_MATVIEW:
		c.kind("create_materialized_view")
	default:
		c.kind("create_table_as")
	}
	c.add(ddl|sluice.ClassWrite, "creates a table and fills it")
	if s.Into != nil {
		c.into(s.Into)
	}
	c.node(s.Query)
}

// doStmt classifies DO: the block can do anything.
func (c *classifier) doStmt(d *pg.DoStmt) {
	c.kind("do")
	c.add(sluice.ClassUnknown, "DO runs a code block sluice cannot inspect")
	for _, o := range d.Args {
		if de := o.GetDefElem(); de != nil && de.Defname == "language" {
			c.language(de)
		}
	}
	c.fields(d.ProtoReflect())
}

// language marks code in an untrusted language privileged.
func (c *classifier) language(d *pg.DefElem) {
	s := d.Arg.GetString_()
	if s == nil {
		return
	}
	lang := gucName(s.Sval)
	if _, ok := trustedLanguages[lang]; !ok {
		c.add(sluice.ClassPrivileged, "code in language "+ident(lang)+", which can reach outside the database")
	}
}

// functionOptions classifies the options of CREATE and ALTER FUNCTION.
func (c *classifier) functionOptions(opts []*pg.Node) {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil {
			continue
		}
		switch d.Defname {
		case "security":
			if b := d.Arg.GetBoolean(); b != nil && b.Boolval {
				c.add(sluice.ClassPrivileged, "SECURITY DEFINER runs with the owner's privileges")
			}
		case "language":
			c.language(d)
		}
	}
}

// createFunction classifies CREATE FUNCTION and CREATE PROCEDURE. The
// function does not run now; a SQL-standard body (BEGIN ATOMIC ... END)
// brings its classes because the code is what is being installed. SET
// options only record settings: they apply while the function runs.
func (c *classifier) createFunction(f *pg.CreateFunctionStmt) {
	if f.IsProcedure {
		c.kind("create_procedure")
	} else {
		c.kind("create_function")
	}
	c.add(ddl, "defines a function")
	c.functionOptions(f.Options)
	c.funcDef++
	c.fields(f.ProtoReflect())
	c.funcDef--
}

func (c *classifier) alterFunction(f *pg.AlterFunctionStmt) {
	c.kind("alter_" + objectTypeName(f.Objtype))
	c.add(ddl, "changes a function")
	c.functionOptions(f.Actions)
	c.funcDef++
	c.fields(f.ProtoReflect())
	c.funcDef--
}
