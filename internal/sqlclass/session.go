package sqlclass

import (
	"slices"
	"strconv"

	"github.com/sluicehq/sluice"
)

// Session holds the state of one client session that changes what later
// statements mean, and classifies the session's statements with it. The
// zero value is ready to use. A Session is not safe for concurrent use; a
// client session uses it from the goroutine that reads the client.
//
// What it tracks, and why:
//
//   - SQL-level prepared statements (PREPARE name -> classification of the
//     body; DEALLOCATE [ALL]; DISCARD ALL), so that EXECUTE name gets the
//     classes of what it runs. An EXECUTE of a name the session has not
//     seen prepared is unknown.
//   - Whether a transaction block is open, whether it is read-only, and the
//     session's default_transaction_read_only, from BEGIN/START [READ
//     ONLY|READ WRITE], SET TRANSACTION, SET/RESET
//     default_transaction_read_only, SET SESSION CHARACTERISTICS,
//     COMMIT/ROLLBACK [AND CHAIN], RESET ALL and DISCARD ALL. ReadOnly
//     reports it so that the gate can tell whether PostgreSQL will enforce
//     read-only for the next statement. It never lowers a class: a DELETE
//     is write inside a read-only transaction too, and "COMMIT; DELETE ..."
//     is classified by what runs — the COMMIT ends the read-only
//     transaction and the DELETE runs outside it, which is exactly why the
//     DELETE's own class must decide.
//
// The state changes only when the gate reports, through Ran, which
// statements actually ran upstream: a denied or failed PREPARE defines
// nothing. If Ran is not called, EXECUTE stays unknown and ReadOnly stays
// at what it knew — both fail closed.
type Session struct {
	// Cache, if not nil, classifies texts; it may be shared by sessions.
	Cache *Cache
	// DefaultReadOnly says the upstream connection was opened with
	// default_transaction_read_only=on (RESET and DISCARD ALL return to
	// it).
	DefaultReadOnly bool

	prepared map[string]*Statement
	inTx     bool
	txRO     int8 // roOn, roOff or roUnknown while inTx
	defRO    int8 // roNone: the connection's default
	txDefRO  int8 // defRO when the transaction began, restored by ROLLBACK
	txDefSet bool // defRO changed inside the transaction
}

// Classify classifies text as the session's next query. It does not change
// the session; call Ran once the statements have run.
func (s *Session) Classify(text string) *Analysis {
	var a *Analysis
	if s.Cache != nil {
		a = s.Cache.Classify(text)
	} else {
		a = classify(text, nil, nil)
	}
	if a.hasExecute && len(s.prepared) > 0 {
		a = classify(text, s.lookup, nil)
	}
	return a
}

func (s *Session) lookup(name string) *Statement { return s.prepared[name] }

// Parsed records that a Parse protocol message named name (not the unnamed
// statement) was accepted upstream for text classified as a. Protocol-level
// and SQL-level prepared statements share one namespace in PostgreSQL, so
// a later SQL "EXECUTE name" runs it. A text that is not exactly one
// statement cannot be prepared and is ignored.
func (s *Session) Parsed(name string, a *Analysis) {
	if name == "" || a.Err != nil || len(a.Statements) != 1 {
		return
	}
	if s.prepared == nil {
		s.prepared = make(map[string]*Statement)
	}
	s.prepared[name] = &a.Statements[0]
}

// Closed records that a Close protocol message for statement name was
// accepted upstream.
func (s *Session) Closed(name string) { delete(s.prepared, name) }

// Prepared returns the classification of the body of the prepared
// statement name, if the session has one.
func (s *Session) Prepared(name string) (*Statement, bool) {
	st, ok := s.prepared[name]
	return st, ok
}

// ClassifyFunctionCall classifies a FunctionCall protocol message, which
// calls a function by OID with no SQL text: unknown, since a function
// known only by OID cannot be proven safe. The analysis has no Text; its
// one statement, of kind "function_call", names the function "oid:N".
func (s *Session) ClassifyFunctionCall(oid uint32) *Analysis {
	name := "oid:" + strconv.FormatUint(uint64(oid), 10)
	funcs := []string{name}
	a := &Analysis{
		Class:     sluice.ClassUnknown,
		Functions: funcs,
	}
	a.Statements = []Statement{{
		Kind:      "function_call",
		Class:     sluice.ClassUnknown,
		Functions: funcs,
		Reasons:   []string{"FunctionCall message calls function " + name + ", which sluice cannot prove safe"},
	}}
	return a
}

// InTransaction reports whether, as far as the statements that ran tell, a
// transaction block is open.
func (s *Session) InTransaction() bool { return s.inTx }

// ReadOnly reports whether the next statement will run read-only, as far as
// the statements that ran tell: inside a read-only transaction block, or
// outside one with default_transaction_read_only on. It is false whenever
// that is not certain.
func (s *Session) ReadOnly() bool {
	if s.inTx {
		return s.txRO == roOn
	}
	return s.defaultRO() == roOn
}

func (s *Session) defaultRO() int8 {
	if s.defRO != roNone {
		return s.defRO
	}
	if s.DefaultReadOnly {
		return roOn
	}
	return roOff
}

// Ran records that the first n statements of a ran upstream without error.
// n < len(a.Statements) means statement n failed and the rest were not run.
func (s *Session) Ran(a *Analysis, n int) {
	n = min(n, len(a.Statements))
	changedDefault := false
	for i := range n {
		st := &a.Statements[i]
		switch st.Kind {
		case "prepare":
			if s.prepared == nil {
				s.prepared = make(map[string]*Statement)
			}
			s.prepared[st.Prepared] = st.body
		case "deallocate":
			delete(s.prepared, st.Prepared)
		case "deallocate_all", "discard_all":
			clear(s.prepared)
		case "begin", "start_transaction":
			if !s.inTx {
				s.inTx, s.txDefRO, s.txDefSet = true, s.defRO, false
				s.txRO = s.defaultRO()
				if st.txReadOnly != roNone {
					s.txRO = st.txReadOnly
				}
			} // else PostgreSQL warns and ignores the options
		case "set_transaction":
			if s.inTx && st.txReadOnly != roNone {
				s.txRO = st.txReadOnly
			}
		case "commit", "rollback", "prepare_transaction":
			if !s.inTx || st.chain {
				break
			}
			switch {
			case st.Kind == "rollback":
				s.defRO = s.txDefRO
			case st.Kind == "prepare_transaction" && s.txDefSet:
				s.defRO = roUnknown
			}
			s.inTx = false
		case "rollback_to_savepoint":
			if s.txDefSet {
				s.defRO = roUnknown
			}
		}
		switch {
		case st.defaultRO == roReset:
			s.defRO = roNone
		case st.defaultRO != roNone:
			s.defRO = st.defaultRO
		case slices.Contains(st.Settings, "default_transaction_read_only"):
			s.defRO = roUnknown // set_config, SET LOCAL, ALTER ... SET
		}
		if st.defaultRO != roNone || slices.Contains(st.Settings, "default_transaction_read_only") {
			changedDefault = true
			if s.inTx {
				s.txDefSet = true
			}
		}
		if s.inTx && st.Kind != "set_transaction" && slices.Contains(st.Settings, "transaction_read_only") {
			s.txRO = roUnknown
		}
	}
	if n < len(a.Statements) && !s.inTx && changedDefault {
		// The failure rolled back the text's implicit transaction, and
		// with it the settings it made, unless a COMMIT came first.
		s.defRO = roUnknown
	}
}
