package sqlclass

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluicehq/sluice"
)

// selectStmt classifies a SELECT, VALUES or set operation. read is false for
// the VALUES list of an INSERT, which reads nothing.
func (c *classifier) selectStmt(s *pg.SelectStmt, read bool) {
	if s == nil {
		return
	}
	c.count(s)
	if s.IntoClause != nil {
		c.kind("select_into")
	} else {
		c.kind("select")
	}
	mark := len(c.ctes)
	if s.WithClause != nil {
		c.with(s.WithClause)
	}
	if read {
		c.add(sluice.ClassRead, "")
	}
	if s.IntoClause != nil {
		c.add(sluice.ClassDDL|sluice.ClassWrite, "SELECT INTO creates a table and fills it")
		c.into(s.IntoClause)
	}
	if len(s.LockingClause) > 0 {
		c.add(sluice.ClassWrite, "SELECT ... FOR UPDATE/SHARE locks rows")
	}
	c.selectStmt(s.Larg, true)
	c.selectStmt(s.Rarg, true)
	c.nodes(s.DistinctClause)
	c.nodes(s.TargetList)
	c.nodes(s.FromClause)
	c.node(s.WhereClause)
	c.nodes(s.GroupClause)
	c.node(s.HavingClause)
	c.nodes(s.WindowClause)
	c.nodes(s.ValuesLists)
	c.nodes(s.SortClause)
	c.node(s.LimitOffset)
	c.node(s.LimitCount)
	c.nodes(s.LockingClause)
	c.ctes = c.ctes[:mark]
}

// isValues reports whether n is a bare VALUES list.
func isValues(n *pg.Node) bool {
	s := n.GetSelectStmt()
	return s != nil && len(s.ValuesLists) > 0 && s.WithClause == nil && s.Larg == nil
}

func (c *classifier) insertStmt(s *pg.InsertStmt) {
	c.count(s)
	c.kind("insert")
	mark := len(c.ctes)
	if s.WithClause != nil {
		c.with(s.WithClause)
	}
	c.add(sluice.ClassWrite, "INSERT writes rows")
	c.target(s.Relation)
	c.nodes(s.Cols)
	if isValues(s.SelectStmt) {
		c.selectStmt(s.SelectStmt.GetSelectStmt(), false)
	} else {
		c.node(s.SelectStmt)
	}
	if oc := s.OnConflictClause; oc != nil {
		c.count(oc)
		if oc.Infer != nil {
			c.fields(oc.Infer.ProtoReflect())
		}
		c.nodes(oc.TargetList)
		c.node(oc.WhereClause)
	}
	c.nodes(s.ReturningList)
	c.ctes = c.ctes[:mark]
}

func (c *classifier) updateStmt(s *pg.UpdateStmt) {
	c.count(s)
	c.kind("update")
	mark := len(c.ctes)
	if s.WithClause != nil {
		c.with(s.WithClause)
	}
	c.add(sluice.ClassWrite, "UPDATE writes rows")
	c.target(s.Relation)
	c.nodes(s.TargetList)
	c.nodes(s.FromClause)
	c.where(s.WhereClause, "UPDATE")
	c.nodes(s.ReturningList)
	c.ctes = c.ctes[:mark]
}

func (c *classifier) deleteStmt(s *pg.DeleteStmt) {
	c.count(s)
	c.kind("delete")
	mark := len(c.ctes)
	if s.WithClause != nil {
		c.with(s.WithClause)
	}
	c.add(sluice.ClassWrite, "DELETE removes rows")
	c.target(s.Relation)
	c.nodes(s.UsingClause)
	c.where(s.WhereClause, "DELETE")
	c.nodes(s.ReturningList)
	c.ctes = c.ctes[:mark]
}

// where walks the WHERE of an UPDATE or DELETE and marks the statement
// destructive when it is missing or refers to no column. Whether a WHERE
// refers to a column does not depend on any constant's value, so neither
// does this rule: "WHERE 1 = 0" counts as missing like "WHERE true".
func (c *classifier) where(w *pg.Node, verb string) {
	if w == nil {
		c.st.WhereMissing = true
		c.add(sluice.ClassDestructive, verb+" without WHERE")
		return
	}
	before := c.colRefs
	c.node(w)
	if c.colRefs == before {
		c.st.WhereMissing = true
		c.add(sluice.ClassDestructive, verb+" with a WHERE that refers to no column")
	}
}

func (c *classifier) mergeStmt(s *pg.MergeStmt) {
	c.count(s)
	c.kind("merge")
	mark := len(c.ctes)
	if s.WithClause != nil {
		c.with(s.WithClause)
	}
	c.add(sluice.ClassWrite, "MERGE writes rows")
	c.target(s.Relation)
	c.node(s.SourceRelation)
	before := c.colRefs
	c.node(s.JoinCondition)
	constantOn := c.colRefs == before
	for _, n := range s.MergeWhenClauses {
		w := n.GetMergeWhenClause()
		if w == nil {
			c.node(n)
			continue
		}
		c.count(w)
		changes := w.CommandType == pg.CmdType_CMD_UPDATE || w.CommandType == pg.CmdType_CMD_DELETE
		switch {
		case changes && constantOn && w.MatchKind == pg.MergeMatchKind_MERGE_WHEN_MATCHED:
			c.st.WhereMissing = true
			c.add(sluice.ClassDestructive, "MERGE updates or deletes on a join condition that refers to no column")
		case changes && w.Condition == nil && w.MatchKind == pg.MergeMatchKind_MERGE_WHEN_NOT_MATCHED_BY_SOURCE:
			c.add(sluice.ClassDestructive, "MERGE updates or deletes every target row missing from the source")
		}
		c.node(w.Condition)
		c.nodes(w.TargetList)
		c.nodes(w.Values)
	}
	c.nodes(s.ReturningList)
	c.ctes = c.ctes[:mark]
}

// with puts the CTE names in scope and classifies each CTE; the statement
// that owns the WITH takes the names out of scope when it is done.
func (c *classifier) with(w *pg.WithClause) {
	c.count(w)
	for _, n := range w.Ctes {
		if cte := n.GetCommonTableExpr(); cte != nil {
			c.ctes = append(c.ctes, cte.Ctename)
		}
	}
	c.nodes(w.Ctes)
}

func (c *classifier) cte(cte *pg.CommonTableExpr) {
	c.count(cte)
	c.node(cte.Ctequery)
	if cte.SearchClause != nil {
		c.fields(cte.SearchClause.ProtoReflect())
	}
	if cte.CycleClause != nil {
		c.fields(cte.CycleClause.ProtoReflect())
	}
}

// into classifies the target of SELECT INTO and CREATE TABLE AS.
func (c *classifier) into(in *pg.IntoClause) {
	c.count(in)
	c.rangeVar(in.Rel)
	c.nodes(in.Options)
	c.node(in.ViewQuery)
}

// target records the relation an INSERT, UPDATE, DELETE or MERGE writes:
// always a table, even when a CTE in scope has the same name.
func (c *classifier) target(rv *pg.RangeVar) {
	if rv == nil {
		return
	}
	c.count(rv)
	c.addTable(relationName(rv))
}

// rangeVar records a relation, unless it names a CTE in scope.
func (c *classifier) rangeVar(rv *pg.RangeVar) {
	if rv == nil {
		return
	}
	c.count(rv)
	if rv.Schemaname == "" && rv.Catalogname == "" {
		for i := len(c.ctes) - 1; i >= 0; i-- {
			if c.ctes[i] == rv.Relname {
				return
			}
		}
	}
	c.addTable(relationName(rv))
}
