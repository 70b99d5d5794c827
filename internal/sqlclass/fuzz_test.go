package sqlclass

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "write the table's statements to testdata/fuzz/FuzzClassify")

// fuzzing reports whether the test binary runs with -test.fuzz, that is
// generates inputs, rather than running the seed corpus.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// FuzzClassify never panics and checks the invariants of every analysis
// (checkInvariants: parse error means unknown, a pure read holds no
// modifying node and calls only allow-listed functions, every parse-tree
// node is visited, ...), that the cache agrees with a fresh
// classification, and that normalized-form and shape-key cache hits are
// sound. When it runs the seed corpus (not while fuzzing) it also runs
// every input classified read against PostgreSQL in a read-only
// transaction.
func FuzzClassify(f *testing.F) {
	var checker *readOnlyChecker
	if !fuzzing() {
		checker = newReadOnlyChecker(f)
	}
	f.Fuzz(func(t *testing.T, text string) {
		a := Classify(text)
		checkInvariants(t, a)
		if d := diffAnalysis(Classify(text), a); d != "" {
			t.Fatalf("%q: two classifications differ: %s", text, d)
		}
		if d := diffAnalysis(NewCache(8).Classify(text), a); d != "" {
			t.Fatalf("%q: cache differs: %s", text, d)
		}
		checkNormalizedSound(t, text)
		checkShapeSound(t, text)
		if checker != nil {
			checker.assertReadAccepted(t, a)
		}
	})
}

// corpusFile returns the seed corpus file name and content for text.
func corpusFile(text string) (string, string) {
	sum := sha256.Sum256([]byte(text))
	return "table-" + hex.EncodeToString(sum[:8]), "go test fuzz v1\nstring(" + strconv.Quote(text) + ")\n"
}

// TestFuzzSeedCorpus checks that every table statement is in the seed
// corpus; go test -run TestFuzzSeedCorpus -update-corpus writes them.
func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzClassify")
	if *updateCorpus {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range table {
		name, content := corpusFile(tc.sql)
		path := filepath.Join(dir, name)
		if *updateCorpus {
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("seed corpus lacks %q (%s); run go test -run TestFuzzSeedCorpus -update-corpus", tc.sql, path)
		}
	}
}

// diffAnalysis describes how two analyses differ in what callers see, ""
// if they do not.
func diffAnalysis(got, want *Analysis) string {
	switch {
	case got.Text != want.Text:
		return fmt.Sprintf("text %q, want %q", got.Text, want.Text)
	case got.Class != want.Class:
		return fmt.Sprintf("class %s, want %s", got.Class, want.Class)
	case got.Fingerprint != want.Fingerprint:
		return fmt.Sprintf("fingerprint %x, want %x", got.Fingerprint, want.Fingerprint)
	case got.WhereMissing != want.WhereMissing:
		return "WhereMissing differs"
	case fmt.Sprint(got.Err) != fmt.Sprint(want.Err):
		return fmt.Sprintf("error %v, want %v", got.Err, want.Err)
	case fmt.Sprint(got.Tables, got.Functions, got.Settings) != fmt.Sprint(want.Tables, want.Functions, want.Settings):
		return fmt.Sprintf("lists %q %q %q, want %q %q %q", got.Tables, got.Functions, got.Settings, want.Tables, want.Functions, want.Settings)
	case len(got.Statements) != len(want.Statements):
		return fmt.Sprintf("%d statements, want %d", len(got.Statements), len(want.Statements))
	}
	for i := range got.Statements {
		g, w := stmtString(&got.Statements[i]), stmtString(&want.Statements[i])
		if g != w {
			return fmt.Sprintf("statement %d:\n  %s\nwant\n  %s", i, g, w)
		}
	}
	return ""
}

// stmtString renders everything a Statement holds, the prepared body
// included.
func stmtString(st *Statement) string {
	s := fmt.Sprintf("%s %s %q [%d:%d] tables=%q funcs=%q settings=%q where=%v reasons=%q prepared=%q tx=%d def=%d chain=%v",
		st.Kind, st.Class, st.Text, st.Start, st.End, st.Tables, st.Functions, st.Settings, st.WhereMissing,
		st.Reasons, st.Prepared, st.txReadOnly, st.defaultRO, st.chain)
	if st.body != nil {
		s += " body{" + stmtString(st.body) + "}"
	}
	return s
}
