package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

var searchTests = []test{
	{"Statements", testSearchStatements},
	{"StatementsDefaultLimit", testSearchDefaultLimit},
	{"SessionsByGroupAndDenial", testSearchSessions},
	{"ManyBatches", testSearchManyBatches},
}

// searchFixture indexes nine statements and returns them by id:
//
//	id  session subject groups      connection minute req class             decision text
//	r1  s1      alice   agents,dba  orders     1      10  read              allow    SELECT * FROM orders
//	r2  s2      bob     agents      billing    2      11  read              allow    select count(*) from invoices
//	r3  s1      alice   agents,dba  orders     2      12  write|destructive review   DELETE FROM orders WHERE id = 1
//	r4  s1      alice   agents,dba  orders     3      14  write             allow    UPDATE orders SET note = '100%_done'
//	r5  s2      bob     agents      billing    4      16  ddl|destructive   deny     DROP TABLE invoices
//	r6  s3      carol   -           orders     4      15  unknown           deny     VACUUM orders
//	r7  s3      carol   -           orders     5      0   read              allow    SELECT 1
//	r8  s3      carol   -           orders     5      0   read              allow    SELECT 2
//	r9  s4      alice   ops         orders     -      0   privileged        review   SET ROLE admin
//
// Newest first is r8 r7 r5 r6 r4 r3 r2 r1 r9: r7 and r8 tie on time and
// request seq, so the later stored (r8) comes first; r9 has no start time.
// They are stored in an order that neither id nor insertion order can pass
// for that. s4 is not indexed (its start fell to retention).
func searchFixture(t *testing.T, st store.Store) map[string]*sluice.StatementRecord {
	rows := []struct {
		id, session, subject string
		groups               []string
		conn                 string
		minute               int // -1: no start time
		reqSeq               uint64
		class                sluice.Class
		decision             sluice.Action
		text, err, review    string
	}{
		{"r4", "s1", "alice", []string{"agents", "dba"}, "orders", 3, 14, sluice.ClassWrite, sluice.ActionAllow,
			"UPDATE orders SET note = '100%_done'", "23505: Duplicate key value violates unique constraint", ""},
		{"r9", "s4", "alice", []string{"ops"}, "orders", -1, 0, sluice.ClassPrivileged, sluice.ActionReview,
			"SET ROLE admin", "held", "rv-2"},
		{"r1", "s1", "alice", []string{"agents", "dba"}, "orders", 1, 10, sluice.ClassRead, sluice.ActionAllow,
			"SELECT * FROM orders", "", ""},
		{"r7", "s3", "carol", nil, "orders", 5, 0, sluice.ClassRead, sluice.ActionAllow, "SELECT 1", "", ""},
		{"r5", "s2", "bob", []string{"agents"}, "billing", 4, 16, sluice.ClassDDL | sluice.ClassDestructive, sluice.ActionDeny,
			"DROP TABLE invoices", "no DDL", ""},
		{"r8", "s3", "carol", nil, "orders", 5, 0, sluice.ClassRead, sluice.ActionAllow, "SELECT 2", "", ""},
		{"r6", "s3", "carol", nil, "orders", 4, 15, sluice.ClassUnknown, sluice.ActionDeny,
			"VACUUM orders", "unknown statement", ""},
		{"r3", "s1", "alice", []string{"agents", "dba"}, "orders", 2, 12, sluice.ClassWrite | sluice.ClassDestructive, sluice.ActionReview,
			"DELETE FROM orders WHERE id = 1", "held for review", "rv-1"},
		{"r2", "s2", "bob", []string{"agents"}, "billing", 2, 11, sluice.ClassRead, sluice.ActionAllow,
			"select count(*) from invoices", "", ""},
	}
	b := &store.IndexBatch{Seq: 16}
	for _, id := range []string{"s1", "s2", "s3"} {
		b.Sessions = append(b.Sessions, fullSession(id, at(0)))
	}
	out := make(map[string]*sluice.StatementRecord)
	for i, row := range rows {
		r := statement(row.id, row.session, int64(i+1))
		r.Subject, r.Groups, r.Connection = row.subject, row.groups, row.conn
		r.StartedAt = at(time.Duration(row.minute) * time.Minute)
		if row.minute < 0 {
			r.StartedAt = time.Time{}
		}
		r.RequestSeq, r.ResultSeq = row.reqSeq, 0
		if row.decision == sluice.ActionAllow && row.reqSeq > 0 {
			r.ResultSeq = row.reqSeq + 1
		}
		r.Class, r.Decision, r.Text, r.Error, r.ReviewID = row.class, row.decision, row.text, row.err, row.review
		if row.decision != sluice.ActionAllow {
			r.Status, r.Tag, r.Rows = sluice.StatusDenied, "", 0
		}
		b.Statements = append(b.Statements, r)
		out[r.ID] = r
	}
	// Two batches: r7 in the first, r8 in the second.
	last := b.Statements[5:]
	b.Statements = b.Statements[:5]
	mustApply(t, st, b)
	mustApply(t, st, &store.IndexBatch{Statements: last})
	return out
}

func testSearchStatements(t *testing.T, st store.Store) {
	fixture := searchFixture(t, st)
	other := time.FixedZone("UTC-08", -8*3600)
	minute := func(m int) time.Time { return at(time.Duration(m) * time.Minute) }
	all := []string{"r8", "r7", "r5", "r6", "r4", "r3", "r2", "r1", "r9"}
	type F = store.StatementFilter
	tests := []struct {
		name string
		f    F
		want []string
	}{
		{"all, newest first", F{}, all},
		{"limit", F{Limit: 3}, []string{"r8", "r7", "r5"}},
		{"limit above count", F{Limit: 50}, all},

		{"subject", F{Subject: "alice"}, []string{"r4", "r3", "r1", "r9"}},
		{"subject is exact", F{Subject: "ali"}, nil},
		{"subject is case-sensitive", F{Subject: "Alice"}, nil},
		{"group", F{Group: "agents"}, []string{"r5", "r4", "r3", "r2", "r1"}},
		{"group, second of two", F{Group: "dba"}, []string{"r4", "r3", "r1"}},
		{"group of a session not indexed", F{Group: "ops"}, []string{"r9"}},
		{"group is exact", F{Group: "agent"}, nil},
		{"connection", F{Connection: "billing"}, []string{"r5", "r2"}},
		{"session", F{Session: "s3"}, []string{"r8", "r7", "r6"}},
		{"session not indexed", F{Session: "s4"}, []string{"r9"}},

		{"since is inclusive", F{Since: minute(4)}, []string{"r8", "r7", "r5", "r6"}},
		{"until is exclusive", F{Until: minute(2)}, []string{"r1"}},
		{"since and until", F{Since: minute(2), Until: minute(4)}, []string{"r4", "r3", "r2"}},
		{"since a microsecond after", F{Since: minute(4).Add(time.Microsecond)}, []string{"r8", "r7"}},
		{"until a microsecond after", F{Until: minute(2).Add(time.Microsecond)}, []string{"r3", "r2", "r1"}},
		{"since in another zone", F{Since: minute(4).In(other)}, []string{"r8", "r7", "r5", "r6"}},
		{"empty range", F{Since: minute(3), Until: minute(3)}, nil},
		{"far bounds", F{Since: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), Until: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)},
			[]string{"r8", "r7", "r5", "r6", "r4", "r3", "r2", "r1"}},

		{"text, any case", F{Text: "from ORDERS"}, []string{"r3", "r1"}},
		{"text matches lower and upper case", F{Text: "Select"}, []string{"r8", "r7", "r2", "r1"}},
		{"text % is literal", F{Text: "%"}, []string{"r4"}},
		{"text _ is literal", F{Text: "0%_d"}, []string{"r4"}},
		{"text quote", F{Text: "'100"}, []string{"r4"}},
		{"text no match", F{Text: "orders;"}, nil},

		{"class", F{Class: sluice.ClassRead}, []string{"r8", "r7", "r2", "r1"}},
		{"class, one of several bits", F{Class: sluice.ClassDestructive}, []string{"r5", "r3"}},
		{"class, any of the bits given", F{Class: sluice.ClassWrite | sluice.ClassDDL}, []string{"r5", "r4", "r3"}},
		{"class unknown", F{Class: sluice.ClassUnknown}, []string{"r6"}},
		{"decision deny", F{Decision: sluice.ActionDeny}, []string{"r5", "r6"}},
		{"decision review", F{Decision: sluice.ActionReview}, []string{"r3", "r9"}},
		{"decision allow", F{Decision: sluice.ActionAllow}, []string{"r8", "r7", "r4", "r2", "r1"}},

		{"error, any", F{Error: store.ErrorAny}, []string{"r5", "r6", "r4", "r3", "r9"}},
		{"error, any case", F{Error: "duplicate KEY"}, []string{"r4"}},
		{"error, substring", F{Error: "held"}, []string{"r3", "r9"}},
		{"error, no match", F{Error: "timeout"}, nil},
		{"review id", F{ReviewID: "rv-1"}, []string{"r3"}},
		{"review id is exact", F{ReviewID: "rv"}, nil},

		{"subject and decision", F{Subject: "alice", Decision: sluice.ActionReview}, []string{"r3", "r9"}},
		{"connection and class", F{Connection: "orders", Class: sluice.ClassRead}, []string{"r8", "r7", "r1"}},
		{"group and since", F{Group: "agents", Since: minute(3)}, []string{"r5", "r4"}},
		{"text and error", F{Text: "orders", Error: store.ErrorAny}, []string{"r6", "r4", "r3"}},
		{"session, text and class", F{Session: "s1", Text: "orders", Class: sluice.ClassWrite}, []string{"r4", "r3"}},
		{"subject, group, connection, range", F{Subject: "bob", Group: "agents", Connection: "billing", Since: minute(1), Until: minute(3)},
			[]string{"r2"}},
		{"everything", F{Subject: "alice", Group: "dba", Connection: "orders", Session: "s1", Since: minute(2), Until: minute(3),
			Text: "delete", Class: sluice.ClassDestructive, Decision: sluice.ActionReview, Error: "review", ReviewID: "rv-1", Limit: 1},
			[]string{"r3"}},
		{"limit and subject", F{Subject: "alice", Limit: 2}, []string{"r4", "r3"}},
		{"no match", F{Subject: "mallory"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustSearch(t, st, tt.f)
			if ids := statementIDs(got); !slices.Equal(ids, tt.want) {
				t.Fatalf("SearchStatements(%+v) = %v, want %v", tt.f, ids, tt.want)
			}
			// Found statements carry every field, not only the id.
			for _, r := range got {
				equalStatements(t, []*sluice.StatementRecord{r}, []*sluice.StatementRecord{fixture[r.ID]})
			}
		})
	}
}

func testSearchDefaultLimit(t *testing.T, st store.Store) {
	const n = 105
	b := &store.IndexBatch{}
	for i := range n {
		r := statement(fmt.Sprintf("r%03d", i), "s1", int64(i))
		r.StartedAt = at(time.Duration(i) * time.Second)
		b.Statements = append(b.Statements, r)
	}
	mustApply(t, st, b)
	for _, tt := range []struct {
		limit, want int
	}{{0, 100}, {200, n}, {7, 7}} {
		got := mustSearch(t, st, store.StatementFilter{Limit: tt.limit})
		if len(got) != tt.want {
			t.Fatalf("SearchStatements(limit %d) returned %d statements, want %d", tt.limit, len(got), tt.want)
		}
		for i, r := range got {
			if want := fmt.Sprintf("r%03d", n-1-i); r.ID != want {
				t.Fatalf("SearchStatements(limit %d)[%d] = %s, want %s (newest first)", tt.limit, i, r.ID, want)
			}
		}
	}
	if _, err := st.SearchStatements(context.Background(), store.StatementFilter{Limit: -1}); err == nil {
		t.Error("SearchStatements with a negative limit succeeded, want an error")
	}
}

func testSearchSessions(t *testing.T, st store.Store) {
	// Five sessions with groups, and statements that make s2 and s4 (and a
	// session that is not indexed) have a denial or a review.
	type row struct {
		id, subject string
		groups      []string
		minute      int
		ended       bool
	}
	rows := []row{
		{"s3", "alice", nil, 3, true},
		{"s1", "alice", []string{"ai-agents"}, 1, false},
		{"s5", "bob", []string{"ai-agents", "dba"}, 5, false},
		{"s2", "bob", []string{"ai-agents", "dba"}, 2, true},
		{"s4", "alice", []string{"dba"}, 4, false},
	}
	fixture := make(map[string]*sluice.Session)
	b := &store.IndexBatch{}
	for _, r := range rows {
		s := fullSession(r.id, at(time.Duration(r.minute)*time.Minute))
		s.Identity.Subject, s.Identity.Groups = r.subject, r.groups
		b.Sessions = append(b.Sessions, s)
		want := *s
		if r.ended {
			want.EndedAt, want.EndReason = s.StartedAt.Add(time.Second), sluice.EndClient
			b.Ends = append(b.Ends, store.SessionEnd{ID: s.ID, At: want.EndedAt, Reason: want.EndReason})
		}
		fixture[r.id] = &want
	}
	decided := func(id, session string, d sluice.Action) *sluice.StatementRecord {
		r := statement(id, session, 1)
		r.Decision = d
		return r
	}
	b.Statements = []*sluice.StatementRecord{
		decided("a1", "s1", sluice.ActionAllow), decided("a2", "s2", sluice.ActionAllow), decided("a3", "s5", sluice.ActionAllow),
		decided("d2", "s2", sluice.ActionDeny), decided("v4", "s4", sluice.ActionReview), decided("dx", "gone", sluice.ActionDeny),
	}
	mustApply(t, st, b)

	type F = store.SessionFilter
	for _, tt := range []struct {
		name string
		f    F
		want []string
	}{
		{"group", F{Group: "dba"}, []string{"s5", "s4", "s2"}},
		{"group, first of two", F{Group: "ai-agents"}, []string{"s5", "s2", "s1"}},
		{"group is exact", F{Group: "dba "}, nil},
		{"group and open only", F{Group: "dba", OpenOnly: true}, []string{"s5", "s4"}},
		{"group and subject", F{Group: "dba", Subject: "bob"}, []string{"s5", "s2"}},
		{"has denied", F{HasDenied: true}, []string{"s4", "s2"}},
		{"has denied and subject", F{HasDenied: true, Subject: "alice"}, []string{"s4"}},
		{"has denied and group", F{HasDenied: true, Group: "ai-agents"}, []string{"s2"}},
		{"has denied and limit", F{HasDenied: true, Limit: 1}, []string{"s4"}},
		{"has denied, open only", F{HasDenied: true, OpenOnly: true}, []string{"s4"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.ListSessions(context.Background(), tt.f)
			if err != nil {
				t.Fatalf("ListSessions: %v", err)
			}
			var ids []string
			for _, s := range got {
				ids = append(ids, s.ID)
				equalSession(t, s, fixture[s.ID])
			}
			if !slices.Equal(ids, tt.want) {
				t.Fatalf("ListSessions(%+v) = %v, want %v", tt.f, ids, tt.want)
			}
		})
	}
}

func testSearchManyBatches(t *testing.T, st store.Store) {
	// Sixty index batches of statements of three sessions whose start times
	// jump back and forth between batches, tie within and across batches,
	// or are missing, and one batch larger than a backend may write at once:
	// every search, at every limit, must return what sorting all matches
	// newest first (start, request seq, then the later stored) and taking
	// the first limit gives.
	var all []*sluice.StatementRecord
	reqSeq := uint64(0)
	for b := range 61 {
		batch := &store.IndexBatch{Seq: uint64(1000 + b)}
		n := 7
		if b == 30 {
			n = 1300
		}
		for i := range n {
			k := len(all)
			session := fmt.Sprintf("s%d", k%3)
			r := statement(fmt.Sprintf("q%05d", k), session, int64(k))
			minute := (b*37 + i*11) % 50
			r.StartedAt = at(time.Duration(minute) * time.Minute)
			switch {
			case k%13 == 0:
				r.StartedAt = time.Time{}
			case k%4 == 0:
				r.StartedAt = at(7 * time.Minute) // ties
			}
			if k%5 != 0 { // seq 0 ties too
				reqSeq++
				r.RequestSeq = reqSeq
			} else {
				r.RequestSeq = 0
			}
			r.Subject = []string{"alice", "bob"}[k%2]
			if k%7 == 0 {
				r.Decision, r.Text = sluice.ActionDeny, fmt.Sprintf("DROP TABLE t%d", k)
			}
			if k%97 == 0 {
				r.Decision, r.ReviewID = sluice.ActionReview, "rv-many"
			}
			batch.Statements = append(batch.Statements, r)
			all = append(all, r)
		}
		mustApply(t, st, batch)
	}
	newest := func(match func(r *sluice.StatementRecord) bool, limit int) []string {
		var ids []string
		// Stored order is all's order, so a stable sort keeps the later
		// stored after; reversing it puts them first.
		ms := slices.Clone(all)
		slices.Reverse(ms)
		slices.SortStableFunc(ms, func(a, b *sluice.StatementRecord) int {
			switch {
			case a.StartedAt.IsZero() != b.StartedAt.IsZero():
				if a.StartedAt.IsZero() {
					return 1
				}
				return -1
			case !a.StartedAt.Equal(b.StartedAt):
				return b.StartedAt.Compare(a.StartedAt)
			}
			return cmp.Compare(b.RequestSeq, a.RequestSeq)
		})
		for _, r := range ms {
			if match(r) && len(ids) < limit {
				ids = append(ids, r.ID)
			}
		}
		return ids
	}
	since, until := at(10*time.Minute), at(30*time.Minute)
	filters := []struct {
		name  string
		f     store.StatementFilter
		match func(r *sluice.StatementRecord) bool
	}{
		{"all", store.StatementFilter{}, func(*sluice.StatementRecord) bool { return true }},
		{"session", store.StatementFilter{Session: "s1"}, func(r *sluice.StatementRecord) bool { return r.SessionID == "s1" }},
		{"subject", store.StatementFilter{Subject: "bob"}, func(r *sluice.StatementRecord) bool { return r.Subject == "bob" }},
		{"since", store.StatementFilter{Since: since}, func(r *sluice.StatementRecord) bool {
			return !r.StartedAt.IsZero() && !r.StartedAt.Before(since)
		}},
		{"until", store.StatementFilter{Until: until}, func(r *sluice.StatementRecord) bool {
			return !r.StartedAt.IsZero() && r.StartedAt.Before(until)
		}},
		{"deny", store.StatementFilter{Decision: sluice.ActionDeny}, func(r *sluice.StatementRecord) bool {
			return r.Decision == sluice.ActionDeny
		}},
		{"text", store.StatementFilter{Text: "drop table T1"}, func(r *sluice.StatementRecord) bool {
			return strings.Contains(r.Text, "DROP TABLE t1")
		}},
		{"review", store.StatementFilter{ReviewID: "rv-many"}, func(r *sluice.StatementRecord) bool {
			return r.ReviewID == "rv-many"
		}},
	}
	for _, fl := range filters {
		for _, limit := range []int{1, 5, 100, 1000, 5000} {
			f := fl.f
			f.Limit = limit
			got := statementIDs(mustSearch(t, st, f))
			if want := newest(fl.match, limit); !slices.Equal(got, want) {
				i := firstDiff(got, want)
				t.Errorf("search %s, limit %d: got %d statements, want %d; from #%d got %v, want %v",
					fl.name, limit, len(got), len(want), i, head(got[min(i, len(got)):]), head(want[min(i, len(want)):]))
			}
		}
	}
	// Listing a session returns all of its statements, by seq.
	var want []string
	for _, r := range all {
		if r.SessionID == "s2" {
			want = append(want, r.ID)
		}
	}
	if got := statementIDs(mustList(t, st, "s2")); !slices.Equal(got, want) {
		t.Errorf("ListStatements(s2) = %d statements, want %d", len(got), len(want))
	}
}

// head returns at most the first 12 of ids, for messages.
func head(ids []string) []string {
	return ids[:min(len(ids), 12)]
}

// firstDiff returns the first index where a and b differ.
func firstDiff(a, b []string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}
