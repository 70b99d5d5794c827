package httpclass

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "write the table's requests to testdata/fuzz/FuzzClassify")

// fuzzClassifier holds the custom patterns and every built-in set.
func fuzzClassifier() *Classifier {
	all := slices.Clone(customPatterns)
	for _, set := range BuiltinSets() {
		ps, _ := Builtin(set)
		all = append(all, ps...)
	}
	return mustNew(all)
}

// FuzzClassify never panics and checks what holds for every result
// (checkResult: the class is never 0, a DELETE is destructive, an unknown
// method is unknown, every pattern named is listed once), that a result
// does not change when asked again, and that a trailing slash and doubled
// slashes do not change the class or the patterns.
func FuzzClassify(f *testing.F) {
	c := fuzzClassifier()
	f.Fuzz(func(t *testing.T, method, host, path, query string) {
		r := c.Classify(method, host, path, query)
		checkResult(t, c, method, r)
		if again := c.Classify(method, host, path, query); !sameResult(r, again) {
			t.Fatalf("%s %s: two results differ: %+v, %+v", method, path, r, again)
		}
		for _, variant := range []string{path + "/", strings.ReplaceAll(path, "/", "//")} {
			v := c.Classify(method, host, variant, query)
			if v.Class != r.Class || !slices.Equal(v.Patterns, r.Patterns) {
				t.Fatalf("%s %q is %s %q but %q is %s %q", method, path, r.Class, r.Patterns, variant, v.Class, v.Patterns)
			}
		}
	})
}

func sameResult(a, b Result) bool {
	return a.Class == b.Class && slices.Equal(a.Patterns, b.Patterns) && slices.Equal(a.Reasons, b.Reasons)
}

// corpusFile returns the seed corpus file name and content for a case.
func corpusFile(tc classifyCase) (string, string) {
	content := "go test fuzz v1\n"
	for _, s := range []string{tc.method, tc.host, tc.path, tc.query} {
		content += "string(" + strconv.Quote(s) + ")\n"
	}
	sum := sha256.Sum256([]byte(content))
	return "table-" + hex.EncodeToString(sum[:8]), content
}

// TestFuzzSeedCorpus checks that every request of the classification
// table is in the seed corpus; go test -run TestFuzzSeedCorpus
// -update-corpus writes them.
func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzClassify")
	if *updateCorpus {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range classifyCases {
		name, content := corpusFile(tc)
		path := filepath.Join(dir, name)
		if *updateCorpus {
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("seed corpus lacks %s %s (%s); run go test -run TestFuzzSeedCorpus -update-corpus", tc.method, tc.path, path)
		}
	}
}
