package ocsf

import (
	"strconv"
	"strings"

	"github.com/sluicehq/sluice"
)

// Datastore Activity (6005) activities.
var (
	dsRead   = activity{1, "Read"}
	dsUpdate = activity{2, "Update"}
	dsQuery  = activity{4, "Query"}
	dsWrite  = activity{5, "Write"}
	dsCreate = activity{6, "Create"}
	dsDelete = activity{7, "Delete"}
)

// datastoreActivity is an OCSF Datastore Activity event: one SQL request,
// decision or result.
type datastoreActivity struct {
	base
	Actor       actor      `json:"actor"`
	SrcEndpoint endpoint   `json:"src_endpoint"`
	DstEndpoint *endpoint  `json:"dst_endpoint,omitempty"`
	Database    *database  `json:"database"`
	QueryInfo   *queryInfo `json:"query_info,omitempty"`
	// TypeID and Type say what kind of datastore: always a database.
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
}

// datastoreActivity maps a request, decision or result record of an SQL
// request.
func (m *mapper) datastoreActivity() any {
	ev := m.ev
	req := ev.Request
	o := gateOutcome(ev)
	b := m.newBase(classDatastore, sqlActivity(req))
	o.apply(&b)
	b.Policy = gatePolicy(ev.Decision)
	b.Message = gateMessage(ev, o, "statement")
	if ev.Type == sluice.EventResult {
		b.Duration = durationMillis(ev.Result)
	}
	b.unmapGate(ev)
	e := datastoreActivity{
		base:        b,
		Actor:       gateActor(req, m.sessionID()),
		SrcEndpoint: clientEndpoint(firstNonEmpty(req.ClientAddr, ev.ClientAddr)),
		DstEndpoint: connectionEndpoint(req.Connection),
		Database:    &database{Name: orUnknown(req.Connection), TypeID: 1, Type: "Relational"},
		TypeID:      1,
		Type:        "Database",
	}
	if q := queryString(req); q != "" {
		e.QueryInfo = &queryInfo{QueryString: q, UID: req.ID, QueryTime: millis(req.Time)}
	}
	return e
}

// queryString is the statement for query_info: the text exactly as
// recorded, or a description of a FunctionCall, which carries no text.
func queryString(req *sluice.Request) string {
	if req.Text == "" && req.FunctionOID != 0 {
		return "function call (oid " + strconv.FormatUint(uint64(req.FunctionOID), 10) + ")"
	}
	return req.Text
}

// sqlActivity picks the activity of an SQL request from the keyword that
// starts its text, checked against its classes: a text that starts like a
// read but was classified as a write (a data-modifying CTE, a batch of
// statements) takes the activity of its classes. The keyword only names
// the activity; what the statement does is decided by its classes, which
// come from the parse tree.
func sqlActivity(req *sluice.Request) activity {
	var a activity
	switch leadingKeyword(req.Text) {
	case "":
		if req.Text == "" && req.FunctionOID == 0 {
			return fromClasses(req.Class, activityUnknown)
		}
		a = activityOther
	case "SELECT", "WITH", "TABLE", "VALUES":
		a = dsQuery
	case "SHOW", "EXPLAIN", "FETCH":
		a = dsRead
	case "INSERT":
		a = dsCreate
	case "UPDATE":
		a = dsUpdate
	case "DELETE", "TRUNCATE", "DROP":
		a = dsDelete
	case "MERGE":
		a = dsWrite
	case "COPY":
		a = fromClasses(req.Class, dsRead)
	case "CREATE":
		a = dsCreate
	case "ALTER", "GRANT", "REVOKE", "COMMENT", "REINDEX", "CLUSTER", "REFRESH":
		a = dsUpdate
	default:
		a = activityOther
	}
	switch a {
	case dsQuery, dsRead, activityOther:
		if c := fromClasses(req.Class, a); c == dsDelete || c == dsWrite {
			return c
		}
	}
	return a
}

// fromClasses returns the activity that a class set implies, or def when it
// implies none.
func fromClasses(c sluice.Class, def activity) activity {
	switch {
	case c.Has(sluice.ClassDestructive):
		return dsDelete
	case c&(sluice.ClassWrite|sluice.ClassDDL) != 0:
		return dsWrite
	case c == sluice.ClassRead:
		return dsRead
	}
	return def
}

// leadingKeyword returns the first word of an SQL text in upper case,
// after white space, opening parentheses and comments; "" if there is none.
func leadingKeyword(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n\f\v(")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
			continue
		case strings.HasPrefix(s, "/*"):
			s = skipBlockComment(s)
			continue
		}
		break
	}
	end := 0
	for end < len(s) && isWordByte(s[end]) {
		end++
	}
	return strings.ToUpper(s[:end])
}

// skipBlockComment returns s after the (nested) block comment it starts
// with, or "" if the comment does not end.
func skipBlockComment(s string) string {
	depth := 0
	for i := 0; i+1 < len(s); i++ {
		switch s[i : i+2] {
		case "/*":
			depth++
			i++
		case "*/":
			depth--
			i++
			if depth == 0 {
				return s[i+1:]
			}
		}
	}
	return ""
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

// firstNonEmpty returns the first of ss that is not empty.
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
