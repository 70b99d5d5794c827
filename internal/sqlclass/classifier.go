package sqlclass

import (
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluicehq/sluice"
)

// classifier walks the parse trees of one query string. It is used by one
// goroutine for one call of classify.
type classifier struct {
	st *Statement // the statement being classified

	// ctes holds the CTE names in scope, innermost last; a RangeVar
	// naming one of them is not a table.
	ctes []string
	// colRefs counts column references seen so far; a WHERE that adds none
	// refers to no column.
	colRefs int
	// funcDef is above zero inside CREATE/ALTER FUNCTION, where SET options
	// apply only while the function runs.
	funcDef int

	constDep   bool
	hasExecute bool

	// prepared holds what this text PREPAREs, a nil value for names it
	// DEALLOCATEs; discarded is set after DEALLOCATE ALL or DISCARD ALL.
	prepared  map[string]*Statement
	discarded bool
	lookup    preparedLookup

	trace visitCounts
	buf   [4]string // scratch for name parts
}

// statement classifies the top-level statement n into st.
func (c *classifier) statement(st *Statement, n *pg.Node) {
	c.st = st
	c.ctes = c.ctes[:0]
	c.node(n)
	if st.Kind == "" {
		st.Kind = "unknown"
	}
	if st.Class == 0 {
		c.add(sluice.ClassUnknown, "statement not recognised")
	}
}

// kind sets the statement's kind unless a statement around this one set it.
func (c *classifier) kind(k string) {
	if c.st.Kind == "" {
		c.st.Kind = k
	}
}

// add adds classes and, if not empty and not yet given, a reason.
func (c *classifier) add(class sluice.Class, reason string) {
	c.st.Class |= class
	if reason != "" {
		c.st.Reasons = appendNew(c.st.Reasons, reason)
	}
}

func (c *classifier) addTable(name string) {
	c.st.Tables = appendNew(c.st.Tables, name)
}

func (c *classifier) addFunction(name string) {
	c.st.Functions = appendNew(c.st.Functions, name)
}

func (c *classifier) addSetting(name string) {
	c.st.Settings = appendNew(c.st.Settings, name)
}

// sub classifies what fn walks into a statement of its own and returns it,
// leaving the current statement untouched.
func (c *classifier) sub(fn func()) *Statement {
	saved := c.st
	s := &Statement{}
	c.st = s
	fn()
	c.st = saved
	return s
}

// merge adds everything body found to the current statement.
func (c *classifier) merge(body *Statement) {
	st := c.st
	st.Class |= body.Class
	st.WhereMissing = st.WhereMissing || body.WhereMissing
	st.Tables = appendNew(st.Tables, body.Tables...)
	st.Functions = appendNew(st.Functions, body.Functions...)
	st.Settings = appendNew(st.Settings, body.Settings...)
	st.Reasons = appendNew(st.Reasons, body.Reasons...)
}

func (c *classifier) nodes(ns []*pg.Node) {
	for _, n := range ns {
		c.node(n)
	}
}

// node classifies any node. Expressions and the statements that carry
// queries have handlers of their own; utility statements are classified by
// utility; every other node is walked generically so that nothing below it
// is missed.
func (c *classifier) node(n *pg.Node) {
	if n == nil {
		return
	}
	switch x := n.Node.(type) {
	case nil:
	case *pg.Node_AConst, *pg.Node_ParamRef, *pg.Node_String_, *pg.Node_Integer,
		*pg.Node_Float, *pg.Node_Boolean, *pg.Node_BitString, *pg.Node_AStar,
		*pg.Node_SqlvalueFunction, *pg.Node_SetToDefault:
		// Leaves.
	case *pg.Node_ColumnRef:
		c.columnRef(x.ColumnRef)
	case *pg.Node_ResTarget:
		c.nodes(x.ResTarget.Indirection)
		c.node(x.ResTarget.Val)
	case *pg.Node_AExpr:
		c.aExpr(x.AExpr)
	case *pg.Node_FuncCall:
		c.funcCall(x.FuncCall)
	case *pg.Node_TypeCast:
		c.node(x.TypeCast.Arg)
		c.typeName(x.TypeCast.TypeName)
	case *pg.Node_BoolExpr:
		c.nodes(x.BoolExpr.Args)
	case *pg.Node_RangeVar:
		c.rangeVar(x.RangeVar)
	case *pg.Node_JoinExpr:
		j := x.JoinExpr
		c.node(j.Larg)
		c.node(j.Rarg)
		c.node(j.Quals)
	case *pg.Node_SubLink:
		c.subLink(x.SubLink)
	case *pg.Node_RangeSubselect:
		c.node(x.RangeSubselect.Subquery)
	case *pg.Node_RangeFunction:
		c.count(x.RangeFunction)
		c.nodes(x.RangeFunction.Functions)
		c.nodes(x.RangeFunction.Coldeflist)
	case *pg.Node_List:
		c.nodes(x.List.Items)
	case *pg.Node_SortBy:
		c.node(x.SortBy.Node)
		c.operator(x.SortBy.UseOp)
	case *pg.Node_AIndirection:
		c.indirection(x.AIndirection)
	case *pg.Node_AIndices:
		c.node(x.AIndices.Lidx)
		c.node(x.AIndices.Uidx)
	case *pg.Node_NullTest:
		c.node(x.NullTest.Arg)
	case *pg.Node_BooleanTest:
		c.node(x.BooleanTest.Arg)
	case *pg.Node_CaseExpr:
		c.node(x.CaseExpr.Arg)
		c.nodes(x.CaseExpr.Args)
		c.node(x.CaseExpr.Defresult)
	case *pg.Node_CaseWhen:
		c.node(x.CaseWhen.Expr)
		c.node(x.CaseWhen.Result)
	case *pg.Node_CoalesceExpr:
		c.nodes(x.CoalesceExpr.Args)
	case *pg.Node_MinMaxExpr:
		c.nodes(x.MinMaxExpr.Args)
	case *pg.Node_RowExpr:
		c.nodes(x.RowExpr.Args)
	case *pg.Node_AArrayExpr:
		c.nodes(x.AArrayExpr.Elements)
	case *pg.Node_NamedArgExpr:
		c.node(x.NamedArgExpr.Arg)
	case *pg.Node_CollateClause:
		c.node(x.CollateClause.Arg)
	case *pg.Node_WindowDef:
		c.windowDef(x.WindowDef)
	case *pg.Node_TypeName:
		c.typeName(x.TypeName)
	case *pg.Node_CurrentOfExpr:
		// WHERE CURRENT OF names one row.
		c.count(x.CurrentOfExpr)
		c.colRefs++
	case *pg.Node_DefElem:
		c.defElem(x.DefElem)
	case *pg.Node_LockingClause:
		c.count(x.LockingClause)
		c.skipNodes(x.LockingClause.LockedRels) // FROM-item names, not tables
	case *pg.Node_RangeTableSample:
		c.tableSample(x.RangeTableSample)
	case *pg.Node_CommonTableExpr:
		c.cte(x.CommonTableExpr)

	case *pg.Node_SelectStmt:
		c.selectStmt(x.SelectStmt, true)
	case *pg.Node_InsertStmt:
		c.insertStmt(x.InsertStmt)
	case *pg.Node_UpdateStmt:
		c.updateStmt(x.UpdateStmt)
	case *pg.Node_DeleteStmt:
		c.deleteStmt(x.DeleteStmt)
	case *pg.Node_MergeStmt:
		c.mergeStmt(x.MergeStmt)
	case *pg.Node_VariableSetStmt:
		c.variableSet(x.VariableSetStmt)
	case *pg.Node_TransactionStmt:
		c.transaction(x.TransactionStmt)
	default:
		if !c.utility(n) {
			c.generic(n)
		}
	}
}

// nodeOneof is the oneof of pg_query.Node that holds the actual node.
var nodeOneof = (&pg.Node{}).ProtoReflect().Descriptor().Oneofs().Get(0)

// generic walks the node held by n field by field.
func (c *classifier) generic(n *pg.Node) {
	m := n.ProtoReflect()
	fd := m.WhichOneof(nodeOneof)
	if fd == nil {
		return
	}
	c.msg(m.Get(fd).Message().Interface())
}

// msg classifies a message that is not wrapped in a Node: a field of a
// concrete message type, or the content of a Node walked generically.
func (c *classifier) msg(m proto.Message) {
	switch x := m.(type) {
	case *pg.Node:
		c.node(x)
	case *pg.RangeVar:
		c.rangeVar(x)
	case *pg.SelectStmt:
		c.selectStmt(x, true)
	case *pg.FuncCall:
		c.funcCall(x)
	case *pg.WindowDef:
		c.windowDef(x)
	case *pg.TypeName:
		c.typeName(x)
	case *pg.VariableSetStmt:
		c.variableSet(x)
	case *pg.IntoClause:
		c.into(x)
	case *pg.DefElem:
		c.defElem(x)
	case *pg.WithClause:
		// Only DML statements carry one and they have handlers; walk it
		// anyway, leaving its names in scope for the rest of the walk.
		c.with(x)
	default:
		c.fields(m.ProtoReflect())
	}
}

// fields walks every message-typed field of m.
func (c *classifier) fields(m protoreflect.Message) {
	c.count(m.Interface())
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				c.msg(l.Get(i).Message().Interface())
			}
			return true
		}
		if fd.IsMap() {
			return true // pg_query has no map fields
		}
		c.msg(v.Message().Interface())
		return true
	})
}

// count records a visit of m for the tests that prove every node is
// visited; it does nothing outside tests.
func (c *classifier) count(m proto.Message) {
	if c.trace != nil {
		c.trace.add(m)
	}
}

// skipNodes records, for tests, a subtree that is deliberately not
// classified.
func (c *classifier) skipNodes(ns []*pg.Node) {
	if c.trace != nil {
		for _, n := range ns {
			c.trace.addTree(n)
		}
	}
}
