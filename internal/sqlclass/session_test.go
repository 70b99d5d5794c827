package sqlclass

import (
	"testing"

	"github.com/sluicehq/sluice"
)

// run classifies text in s and reports that its first n statements ran
// (all of them if n < 0).
func run(s *Session, text string, n int) *Analysis {
	a := s.Classify(text)
	if n < 0 {
		n = len(a.Statements)
	}
	s.Ran(a, n)
	return a
}

func TestSessionPrepareExecute(t *testing.T) {
	s := &Session{Cache: NewCache(64)}
	if a := s.Classify("EXECUTE del"); a.Class != U {
		t.Fatalf("EXECUTE before PREPARE: %s", a.Class)
	}
	run(s, "PREPARE del (int) AS DELETE FROM t WHERE id = $1", -1)
	run(s, "PREPARE wipe AS DELETE FROM t", -1)
	run(s, "PREPARE rd AS SELECT * FROM t", -1)

	for _, tc := range []struct {
		sql   string
		class sluice.Class
		where bool
	}{
		{"EXECUTE del(1)", W, false},
		{"EXECUTE wipe", W | X, true},
		{"EXECUTE rd", R, false},
		{"EXECUTE rd; EXECUTE del(2)", R | W, false},
		{"EXPLAIN EXECUTE wipe", R, false},
		{"EXPLAIN ANALYZE EXECUTE wipe", R | W | X, true},
		{"CREATE TABLE c AS EXECUTE rd", R | W | D, false},
		{"EXECUTE rd(pg_read_file('/etc/passwd'))", R | P, false},
		{"DEALLOCATE rd; EXECUTE rd", R | U, false},
		{"DISCARD ALL; EXECUTE del(1)", R | P | U, false},
		{"EXECUTE nosuch", U, false},
	} {
		a := s.Classify(tc.sql)
		if a.Class != tc.class || a.WhereMissing != tc.where {
			t.Errorf("%q: class %s where %v, want %s %v (%q)", tc.sql, a.Class, a.WhereMissing, tc.class, tc.where, reasons(a))
		}
		if a.Statements[0].Kind == "execute" && a.Statements[0].Prepared == "" {
			t.Errorf("%q: no prepared name", tc.sql)
		}
	}
	if body, ok := s.Prepared("wipe"); !ok || body.Kind != "delete" || !body.WhereMissing {
		t.Errorf("Prepared(wipe) = %+v, %v", body, ok)
	}

	// Classify alone changes nothing; Ran does.
	s.Classify("DEALLOCATE wipe")
	if a := s.Classify("EXECUTE wipe"); a.Class != W|X {
		t.Errorf("after an unreported DEALLOCATE: %s", a.Class)
	}
	run(s, "DEALLOCATE wipe", -1)
	if a := s.Classify("EXECUTE wipe"); a.Class != U {
		t.Errorf("after DEALLOCATE: %s", a.Class)
	}
	run(s, "DEALLOCATE ALL", -1)
	if a := s.Classify("EXECUTE del(1)"); a.Class != U {
		t.Errorf("after DEALLOCATE ALL: %s", a.Class)
	}
}

func TestSessionDeniedPrepareDefinesNothing(t *testing.T) {
	var s Session
	a := s.Classify("PREPARE p AS DROP TABLE t")
	if a.Err == nil {
		t.Fatalf("PREPARE of DROP parsed") // only SELECT/INSERT/UPDATE/DELETE/MERGE/VALUES can be prepared
	}
	a = s.Classify("PREPARE p AS DELETE FROM t")
	if a.Class != W|X {
		t.Fatalf("PREPARE body: %s", a.Class)
	}
	// The gate denied it: Ran is not called.
	if a := s.Classify("EXECUTE p"); a.Class != U {
		t.Errorf("EXECUTE of a denied PREPARE: %s", a.Class)
	}
	// A PREPARE that failed upstream (n = 0) defines nothing either.
	run(&s, "PREPARE p AS SELECT 1", 0)
	if a := s.Classify("EXECUTE p"); a.Class != U {
		t.Errorf("EXECUTE of a failed PREPARE: %s", a.Class)
	}
}

func TestSessionReadOnly(t *testing.T) {
	s := &Session{DefaultReadOnly: true}
	check := func(step string, inTx, ro bool) {
		t.Helper()
		if s.InTransaction() != inTx || s.ReadOnly() != ro {
			t.Errorf("%s: in transaction %v read-only %v, want %v %v", step, s.InTransaction(), s.ReadOnly(), inTx, ro)
		}
	}
	check("start", false, true)
	run(s, "BEGIN", -1)
	check("BEGIN", true, true)
	run(s, "COMMIT", -1)
	check("COMMIT", false, true)

	run(s, "BEGIN READ WRITE", -1)
	check("BEGIN READ WRITE", true, false)
	// COMMIT then a write in one string: the write runs after the
	// transaction ends and is classified by what it does.
	a := run(s, "COMMIT; DELETE FROM t WHERE id = 1", -1)
	if a.Class != R|W || a.Statements[1].Class != W {
		t.Errorf("COMMIT; DELETE: %s", a.Class)
	}
	check("COMMIT; DELETE", false, true)

	run(s, "BEGIN READ ONLY; SET TRANSACTION READ WRITE", -1)
	check("SET TRANSACTION READ WRITE", true, false)
	run(s, "ROLLBACK", -1)

	run(s, "SET default_transaction_read_only = off", -1)
	check("SET default_transaction_read_only = off", false, false)
	run(s, "RESET default_transaction_read_only", -1)
	check("RESET", false, true)
	run(s, "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", -1)
	check("SESSION CHARACTERISTICS READ WRITE", false, false)
	run(s, "DISCARD ALL", -1)
	check("DISCARD ALL", false, true)

	// A ROLLBACK undoes a SET made in the transaction.
	run(s, "BEGIN; SET default_transaction_read_only = off", -1)
	check("BEGIN; SET off", true, true)
	run(s, "ROLLBACK", -1)
	check("ROLLBACK", false, true)

	// A failure rolls back the implicit transaction, and the SET with it;
	// the session no longer knows.
	a = s.Classify("SET default_transaction_read_only = on; SELECT 1/0")
	s.Ran(a, 1)
	check("failed implicit transaction", false, false)
	run(s, "RESET ALL", -1)
	check("RESET ALL", false, true)

	// set_config: value unknown.
	run(s, "SELECT set_config('default_transaction_read_only', 'on', false)", -1)
	check("set_config", false, false)

	// Without DefaultReadOnly nothing is read-only until asked.
	s2 := &Session{}
	check2 := func(step string, ro bool) {
		t.Helper()
		if s2.ReadOnly() != ro {
			t.Errorf("%s: read-only %v, want %v", step, s2.ReadOnly(), ro)
		}
	}
	check2("start", false)
	run(s2, "START TRANSACTION READ ONLY", -1)
	check2("START TRANSACTION READ ONLY", true)
	run(s2, "COMMIT AND CHAIN", -1)
	check2("COMMIT AND CHAIN", true)
	run(s2, "BEGIN READ WRITE", -1) // ignored inside a transaction
	check2("BEGIN inside a transaction", true)
	run(s2, "END", -1)
	check2("END", false)
	run(s2, "SET default_transaction_read_only TO true", -1)
	check2("SET ... TO true", true)
}

func TestSessionFunctionCall(t *testing.T) {
	var s Session
	a := s.ClassifyFunctionCall(1234)
	if a.Class != U || a.ReadOnly() || len(a.Statements) != 1 || a.Statements[0].Kind != "function_call" ||
		len(a.Functions) != 1 || a.Functions[0] != "oid:1234" {
		t.Errorf("FunctionCall: %+v", a)
	}
}

// TestSessionExtendedProtocol follows a driver's Parse/Bind/Execute: the
// statement text is classified once at Parse and the cached analysis is
// reused for every Bind, whatever the parameters.
func TestSessionExtendedProtocol(t *testing.T) {
	s := &Session{Cache: NewCache(64)}
	parse := "DELETE FROM t WHERE id = $1"
	first := s.Classify(parse)
	for range 3 {
		if a := s.Classify(parse); a != first {
			t.Fatalf("Parse of the same text classified again")
		}
	}
	if first.Class != W || first.WhereMissing {
		t.Errorf("%q: %s where-missing %v", parse, first.Class, first.WhereMissing)
	}
	if a := s.Classify("DELETE FROM t WHERE $1"); a.Class != W|X || !a.WhereMissing {
		t.Errorf("WHERE $1: %s", a.Class)
	}
}

// TestSessionProtocolStatements: a statement prepared with a Parse message
// can be run with SQL EXECUTE.
func TestSessionProtocolStatements(t *testing.T) {
	s := &Session{Cache: NewCache(16)}
	s.Parsed("s1", s.Classify("DELETE FROM t"))
	s.Parsed("", s.Classify("DROP TABLE t")) // the unnamed statement is not reachable by name
	if a := s.Classify("EXECUTE s1"); a.Class != W|X {
		t.Errorf("EXECUTE of a protocol statement: %s", a.Class)
	}
	s.Closed("s1")
	if a := s.Classify("EXECUTE s1"); a.Class != U {
		t.Errorf("EXECUTE after Close: %s", a.Class)
	}
}

// TestSessionAlterSetIsNotSessionState: ALTER ROLE ... SET/RESET changes
// future sessions of the role, not this one.
func TestSessionAlterSetIsNotSessionState(t *testing.T) {
	s := &Session{DefaultReadOnly: true}
	run(s, "ALTER ROLE bob RESET ALL", -1)
	if !s.ReadOnly() {
		t.Errorf("ALTER ROLE ... RESET ALL changed the session's read-only state")
	}
	a := run(s, "ALTER ROLE bob SET default_transaction_read_only = off", -1)
	if a.Class != P || a.Statements[0].defaultRO != roNone {
		t.Errorf("ALTER ROLE SET: class %s defaultRO %d", a.Class, a.Statements[0].defaultRO)
	}
}
