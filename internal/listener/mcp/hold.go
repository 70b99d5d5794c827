package mcp

import (
	"context"
	"fmt"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sluicehq/sluice"
)

// progressEvery is how often a held call reports that it still waits.
const progressEvery = 5 * time.Second

// hold waits for the review of r while the tool call waits, for at most
// ReviewWait (and never longer than the rule's wait), sending progress
// notifications when the client asked for them. It returns nil, nil when
// the statement was approved and may run now; a pending result when the
// review is still open at the end of the wait (it stays open: once
// approved, the same query runs once); or the error the agent sees (a
// denial, a cancellation).
func (s *Server) hold(ctx context.Context, req *sdk.CallToolRequest, uc *upConn, r *sluice.Request, d sluice.Decision, c *caller) (*ResultOutput, error) {
	wait := s.ReviewWait
	if d.Wait > 0 {
		wait = min(wait, d.Wait)
	}
	held := d
	held.Wait = wait
	stop := s.progress(ctx, req, d, wait)
	err := uc.gs.Await(ctx, r, held)
	stop()
	if err == nil {
		return nil, nil
	}
	if sluice.ErrorCode(err) != sluice.ETimeout {
		return nil, err
	}
	rv, gerr := s.Reviews.Get(context.WithoutCancel(ctx), d.ReviewID)
	if gerr != nil {
		s.Log.Warn("read review after a hold", "review", d.ReviewID, "err", gerr)
		return nil, err
	}
	switch rv.Status {
	case sluice.ReviewPending, sluice.ReviewApproved:
	default:
		return nil, err
	}
	ri := reviewInfo(rv)
	return &ResultOutput{Status: StatusPendingReview, Connection: uc.name, Review: &ri, Next: nextStep(rv, c) + " " +
		fmt.Sprintf("Check it with the review_status tool (review_id %q) or `sluice reviews show %s`.", rv.ID, rv.ID)}, nil
}

// progress reports a held call's wait to the client, at once and then
// every progressEvery, until stop is called. Without a progress token from
// the client it does nothing.
func (s *Server) progress(ctx context.Context, req *sdk.CallToolRequest, d sluice.Decision, wait time.Duration) (stop func()) {
	token := req.Params.GetProgressToken()
	if token == nil || req.Session == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			elapsed := time.Since(start)
			msg := fmt.Sprintf("held for review %s: waiting up to %s for approval by %s (approvers run: sluice reviews approve %s)",
				d.ReviewID, (wait - elapsed).Round(time.Second), strings.Join(d.Approvers, ", "), d.ReviewID)
			err := req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{ProgressToken: token,
				Progress: elapsed.Seconds(), Total: wait.Seconds(), Message: msg})
			if err != nil && ctx.Err() == nil {
				s.Log.Debug("progress notification failed", "review", d.ReviewID, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// pendingText is the text of a pending result.
func pendingText(out *ResultOutput) string {
	rv := out.Review
	return fmt.Sprintf("Not run yet: a policy rule holds this statement for approval. Review %s is %s "+
		"(%d of %d approvals; approvers: %s).\n%s", rv.ID, rv.Status, rv.Approvals, rv.MinApprovals,
		strings.Join(rv.Approvers, ", "), out.Next)
}

// describeSQL is the catalog query describe runs: the tables (with their
// columns) of every schema or one, or the columns of one table. Names are
// quoted as literals; the session's standard_conforming_strings is on.
func describeSQL(schema, table string) (string, error) {
	if strings.ContainsRune(schema+table, 0) {
		return "", fmt.Errorf("schema and table must not contain NUL characters")
	}
	if table != "" && schema == "" {
		if sch, tbl, ok := strings.Cut(table, "."); ok && sch != "" && tbl != "" {
			schema, table = sch, tbl
		}
	}
	if table == "" {
		where := ""
		if schema != "" {
			where = "\n  AND n.nspname = " + literal(schema)
		}
		return `SELECT n.nspname AS schema, c.relname AS table,
  CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' ELSE 'table' END AS kind,
  string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) AS columns
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'` + where + `
GROUP BY n.nspname, c.relname, c.relkind
ORDER BY 1, 2`, nil
	}
	which := "pg_catalog.pg_table_is_visible(c.oid)"
	if schema != "" {
		which = "n.nspname = " + literal(schema)
	}
	return `SELECT n.nspname AS schema, c.relname AS table, a.attname AS column,
  pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, (NOT a.attnotnull)::text AS nullable,
  pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default,
  EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY (i.indkey))::text AS primary_key
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relname = ` + literal(table) + ` AND ` + which + `
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY n.nspname, a.attnum`, nil
}

// literal quotes s as an SQL string literal (standard_conforming_strings on).
func literal(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
