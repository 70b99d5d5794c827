package sqlclass

import (
	"slices"
	"strings"
	"testing"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluicehq/sluice"
)

// checkInvariants checks what must hold for every analysis, whatever the
// text: it is used by the table test and by FuzzClassify.
func checkInvariants(t testing.TB, a *Analysis) {
	t.Helper()
	if a.Err != nil && a.Class&sluice.ClassUnknown == 0 {
		t.Errorf("%q: parse error %v but class %s", a.Text, a.Err, a.Class)
		return
	}
	var union sluice.Class
	prevEnd := 0
	for i, st := range a.Statements {
		union |= st.Class
		if st.Class == 0 {
			t.Errorf("%q: statement %d has no class", a.Text, i)
			return
		}
		if st.Kind == "" {
			t.Errorf("%q: statement %d has no kind", a.Text, i)
			return
		}
		if st.Start < prevEnd || st.End < st.Start || st.End > len(a.Text) || a.Text[st.Start:st.End] != st.Text {
			t.Errorf("%q: statement %d span [%d:%d] text %q is wrong", a.Text, i, st.Start, st.End, st.Text)
			return
		}
		prevEnd = st.End
		if st.Class&^sluice.ClassRead != 0 && len(st.Reasons) == 0 {
			t.Errorf("%q: statement %d is %s with no reason", a.Text, i, st.Class)
			return
		}
		for _, list := range [][]string{st.Tables, st.Functions, st.Settings, st.Reasons} {
			if hasDuplicates(list) {
				t.Errorf("%q: statement %d has duplicates in %q", a.Text, i, list)
				return
			}
		}
	}
	if len(a.Statements) == 0 {
		union = sluice.ClassRead
	}
	if union != a.Class {
		t.Errorf("%q: class %s is not the union %s of its statements", a.Text, a.Class, union)
		return
	}
	if a.Err != nil {
		return
	}

	// Everything below re-parses the text and checks the verdicts against
	// plain reflective walks of the tree, independent of the classifier.
	tree, err := pg.Parse(a.Text)
	if err != nil {
		t.Errorf("%q: classified without error but does not parse: %v", a.Text, err)
		return
	}
	if len(tree.Stmts) != len(a.Statements) {
		t.Errorf("%q: %d statements, parser has %d", a.Text, len(a.Statements), len(tree.Stmts))
		return
	}
	for i, raw := range tree.Stmts {
		st := &a.Statements[i]
		if st.Class == sluice.ClassRead && st.Kind != "explain" {
			if bad := modifyingNode(raw.Stmt); bad != "" {
				t.Errorf("%q: statement %d is read but holds %s", a.Text, i, bad)
				return
			}
		}
	}

	// Every node is visited: the classifier's hand-written paths skip no
	// child that the full reflective walk reaches.
	got := visitCounts{}
	classify(a.Text, nil, got)
	want := visitCounts{}
	for _, raw := range tree.Stmts {
		want.addTree(raw.Stmt)
	}
	for name, n := range want {
		if uncounted[name] {
			continue
		}
		if got[name] != n {
			t.Errorf("%q: classifier visited %d %s, the tree has %d", a.Text, got[name], name, n)
			return
		}
	}
}

func hasDuplicates(list []string) bool {
	for i := range list {
		if slices.Contains(list[i+1:], list[i]) {
			return true
		}
	}
	return false
}

// uncounted are the node types whose handlers do not record visits: leaves
// and plain containers. Their children are still counted.
var uncounted = map[protoreflect.FullName]bool{}

func init() {
	for _, n := range []string{
		"A_Const", "String", "Integer", "Float", "Boolean", "BitString", "A_Star", "ParamRef",
		"SQLValueFunction", "SetToDefault", "ResTarget", "BoolExpr", "JoinExpr",
		"RangeSubselect", "List", "SortBy", "A_Indices", "NullTest", "BooleanTest", "CaseExpr",
		"CaseWhen", "CoalesceExpr", "MinMaxExpr", "RowExpr", "A_ArrayExpr", "NamedArgExpr",
		"CollateClause", "TypeCast", "Alias",
	} {
		uncounted[protoreflect.FullName("pg_query."+n)] = true
	}
}

// readNodes are the statement types a pure read may consist of.
var readNodes = map[string]bool{
	"SelectStmt": true, "VariableSetStmt": true, "VariableShowStmt": true,
	"TransactionStmt": true, "PrepareStmt": true, "ExecuteStmt": true, "DeallocateStmt": true,
	"DeclareCursorStmt": true, "FetchStmt": true, "ClosePortalStmt": true,
	"ListenStmt": true, "UnlistenStmt": true, "ConstraintsSetStmt": true, "DiscardStmt": true,
	"CopyStmt": true, "ExplainStmt": true,
}

// modifyingNode returns a description of the first node in n that can
// change anything, "" if there is none: a data-modifying statement, a
// statement type a read cannot be, SELECT INTO, FOR UPDATE/SHARE, COPY
// FROM or to a file or program, or a call of a function not on the
// allow-list.
func modifyingNode(n *pg.Node) string {
	bad := ""
	walkTree(n.ProtoReflect(), func(m protoreflect.Message) {
		if bad != "" {
			return
		}
		name := string(m.Descriptor().Name())
		switch x := m.Interface().(type) {
		case *pg.IntoClause, *pg.LockingClause:
			bad = name
		case *pg.CopyStmt:
			if x.IsFrom || x.IsProgram || x.Filename != "" {
				bad = "COPY FROM, PROGRAM or file"
			}
		case *pg.FuncCall:
			var parts []string
			for _, p := range x.Funcname {
				parts = append(parts, p.GetString_().GetSval())
			}
			fn := parts[len(parts)-1]
			schema := ""
			if len(parts) > 1 {
				schema = parts[len(parts)-2]
			}
			if len(parts) > 2 || !isSafeFunction(schema, fn) {
				bad = "call of " + strings.Join(parts, ".")
			}
		}
		if strings.HasSuffix(name, "Stmt") && !readNodes[name] {
			bad = name
		}
	})
	return bad
}
