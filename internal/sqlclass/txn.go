package sqlclass

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluicehq/sluice"
)

// transaction classifies BEGIN, START TRANSACTION, COMMIT, ROLLBACK,
// SAVEPOINT, RELEASE, ROLLBACK TO and two-phase commit. Transaction control
// is read, except what escapes read-only mode or acts on other sessions'
// prepared transactions.
func (c *classifier) transaction(t *pg.TransactionStmt) {
	c.count(t)
	switch t.Kind {
	case pg.TransactionStmtKind_TRANS_STMT_BEGIN, pg.TransactionStmtKind_TRANS_STMT_START:
		if t.Kind == pg.TransactionStmtKind_TRANS_STMT_BEGIN {
			c.kind("begin")
		} else {
			c.kind("start_transaction")
		}
		c.add(sluice.ClassRead, "")
		for _, n := range t.Options {
			if d := n.GetDefElem(); d != nil && d.Defname == "transaction_read_only" {
				c.st.txReadOnly = c.boolOption(d)
				if c.st.txReadOnly != roOn {
					c.add(sluice.ClassPrivileged, "BEGIN READ WRITE escapes read-only mode")
				}
			}
		}
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT:
		c.kind("commit")
		c.add(sluice.ClassRead, "")
		c.st.chain = t.Chain
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		c.kind("rollback")
		c.add(sluice.ClassRead, "")
		c.st.chain = t.Chain
	case pg.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		c.kind("savepoint")
		c.add(sluice.ClassRead, "")
	case pg.TransactionStmtKind_TRANS_STMT_RELEASE:
		c.kind("release")
		c.add(sluice.ClassRead, "")
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		c.kind("rollback_to_savepoint")
		c.add(sluice.ClassRead, "")
	case pg.TransactionStmtKind_TRANS_STMT_PREPARE:
		c.kind("prepare_transaction")
		c.add(sluice.ClassWrite, "PREPARE TRANSACTION keeps the transaction's changes and locks after the session")
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:
		c.kind("commit_prepared")
		c.add(sluice.ClassWrite|sluice.ClassPrivileged, "COMMIT PREPARED commits a transaction this session's text does not show")
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
		c.kind("rollback_prepared")
		c.add(sluice.ClassPrivileged, "ROLLBACK PREPARED acts on a transaction this session's text does not show")
	default:
		c.kind("transaction")
		c.add(sluice.ClassUnknown, "transaction statement sluice does not know")
	}
	c.nodes(t.Options)
}
