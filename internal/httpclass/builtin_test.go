package httpclass

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
)

var updateDoc = flag.Bool("update-doc", false, "rewrite the built-in pattern listing in doc.go")

func TestBuiltinSetsCompile(t *testing.T) {
	if got, want := BuiltinSets(), []string{"anthropic", "azure", "kubernetes", "s3"}; !slices.Equal(got, want) {
		t.Fatalf("BuiltinSets() = %v, want %v", got, want)
	}
	for _, set := range BuiltinSets() {
		ps, ok := Builtin(set)
		if !ok || len(ps) == 0 {
			t.Fatalf("Builtin(%q) = %d patterns, %v", set, len(ps), ok)
		}
		if _, err := New(ps); err != nil {
			t.Errorf("set %s: %v", set, err)
		}
		for i, p := range ps {
			if !strings.HasPrefix(p.Name, set+".") {
				t.Errorf("set %s: pattern %d name %q lacks the set prefix", set, i, p.Name)
			}
			if p.Description == "" {
				t.Errorf("set %s: pattern %d (%s) has no description", set, i, p.Name)
			}
		}
	}
	if _, ok := Builtin("gcp"); ok {
		t.Error(`Builtin("gcp") is ok`)
	}
}

// Builtin hands out copies: a caller changing them changes no later result.
func TestBuiltinReturnsCopies(t *testing.T) {
	a, _ := Builtin("azure")
	a[0].Name = "changed"
	a[0].Methods[0] = "GET"
	b, _ := Builtin("azure")
	if b[0].Name != "azure.delete_resource_group" || b[0].Methods[0] != "DELETE" {
		t.Fatalf("Builtin returned shared patterns: %+v", b[0])
	}
}

// docIntro opens the generated part of doc.go.
const docIntro = `// # Built-in patterns
//
// Builtin returns these sets. Each entry gives a pattern's name and
// description, then its method, path, query and host conditions and its
// class; several patterns can share a name. A DELETE is write|destructive
// whether or not a pattern names it.
`

// TestDocListsBuiltins checks that doc.go lists the built-in patterns as
// they are; go test -run TestDocListsBuiltins -update-doc rewrites it.
func TestDocListsBuiltins(t *testing.T) {
	const file = "doc.go"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	head, _, ok := strings.Cut(string(src), docIntro)
	if !ok {
		t.Fatalf("%s lacks the intro %q", file, docIntro)
	}
	want := head + docIntro + builtinListing() + "package httpclass\n"
	if *updateDoc {
		if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(src) != want {
		t.Errorf("%s does not list the built-in patterns as they are; run go test -run TestDocListsBuiltins -update-doc", file)
	}
}

// builtinListing renders every built-in set as doc comment lines.
func builtinListing() string {
	var b strings.Builder
	for _, set := range BuiltinSets() {
		ps, _ := Builtin(set)
		b.WriteString("//\n// " + set + ":\n//\n")
		var names []string
		byName := make(map[string][]Pattern)
		for _, p := range ps {
			if _, ok := byName[p.Name]; !ok {
				names = append(names, p.Name)
			}
			byName[p.Name] = append(byName[p.Name], p)
		}
		for _, name := range names {
			group := byName[name]
			b.WriteString("//\t" + name + ": " + group[0].Description + "\n")
			for _, p := range group {
				b.WriteString("//\t    " + describePattern(p) + "\n")
			}
		}
	}
	return b.String()
}

// describePattern renders p's conditions and class on one line.
func describePattern(p Pattern) string {
	methods := "any method"
	if len(p.Methods) > 0 {
		methods = strings.Join(p.Methods, "|")
	}
	s := methods + " " + p.Path
	if p.Query != "" {
		s += "?" + p.Query
	}
	switch {
	case strings.HasPrefix(p.Host, "!"):
		s += " on hosts but " + p.Host[1:]
	case p.Host != "":
		s += " on " + p.Host
	}
	return s + " → " + p.Class.String()
}
