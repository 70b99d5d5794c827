package mask

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONPaths(t *testing.T) {
	doc := `{"a":{"b":"x@y.io","c":1},"items":[{"card":"4111111111111111","n":"one"},{"card":"5555555555554444","n":"two"}],"deep":{"x":{"email":"ann"}},"email":"bob","k":{"we.ird":"v"}}`
	for _, tc := range []struct {
		path, want string
	}{
		{"$.a.b", `{"a":{"b":"[redacted]","c":1},`},
		{"$.a", `{"a":"[redacted]",`},
		{"$['a']['c']", `{"a":{"b":"x@y.io","c":"[redacted]"},`},
		{"$.items[*].card", `"items":[{"card":"[redacted]","n":"one"},{"card":"[redacted]","n":"two"}]`},
		{"$.items[1].n", `{"card":"5555555555554444","n":"[redacted]"}`},
		{"$..email", `"deep":{"x":{"email":"[redacted]"}},"email":"[redacted]"`},
		{"$.*.b", `{"a":{"b":"[redacted]","c":1},`},
		{"$..[*].card", `"items":[{"card":"[redacted]","n":"one"},{"card":"[redacted]","n":"two"}]`},
		{`$.k["we.ird"]`, `"k":{"we.ird":"[redacted]"}`},
		{"$.nope", doc},
		{"$", `"[redacted]"`},
	} {
		e, err := New(Config{JSONPaths: []PathRule{{Path: tc.path}}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.JSON(nil, []byte(doc), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if !strings.Contains(string(got), tc.want) {
			t.Errorf("%s:\n got %s\nwant it to contain %s", tc.path, got, tc.want)
		}
		if !json.Valid(got) {
			t.Errorf("%s: invalid JSON %s", tc.path, got)
		}
	}
}

func TestJSONStrategies(t *testing.T) {
	doc := `{"s":"4111-1111-1111-1111","n":12345678,"f":-0.5e3,"b":true,"z":null,"o":{"k":"secret value","m":[1,"two"]}}`
	for _, tc := range []struct {
		strategy, want string
	}{
		{"redact", `{"s":"[redacted]","n":"[redacted]","f":"[redacted]","b":"[redacted]","z":null,"o":"[redacted]"}`},
		{"partial", `{"s":"****-****-****-1111","n":"****5678","f":"-*.***","b":"****","z":null,"o":{"k":"****** *alue","m":["*","***"]}}`},
	} {
		e, err := New(Config{JSONPaths: []PathRule{{Path: "$.*", Strategy: tc.strategy}}, Key: testKey})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.JSON(nil, []byte(doc), nil)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", tc.strategy, got, err, tc.want)
		}
	}
	for _, st := range []string{"hash", "fake"} {
		e, err := New(Config{JSONPaths: []PathRule{{Path: "$.*", Strategy: st}}, Key: testKey})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.JSON(nil, []byte(doc), nil)
		if err != nil || !json.Valid(got) {
			t.Fatalf("%s: %s %v", st, got, err)
		}
		var m map[string]any
		if err := json.Unmarshal(got, &m); err != nil {
			t.Fatal(err)
		}
		if m["z"] != nil {
			t.Errorf("%s: null must stay null", st)
		}
		if st == "fake" {
			if _, ok := m["n"].(float64); !ok {
				t.Errorf("fake: numbers stay numbers: %s", got)
			}
			if s, _ := m["s"].(string); !luhnString(s) || len(s) != 19 {
				t.Errorf("fake: card stays a card: %s", got)
			}
		}
		if st == "hash" {
			if s, _ := m["o"].(string); !hashRE.MatchString(s) {
				t.Errorf("hash: object becomes a hash: %s", got)
			}
		}
	}
}

func TestJSONDetectors(t *testing.T) {
	e := allDetectors(t)
	for _, tc := range []struct{ in, want string }{
		{`{"email":"ann@example.com"}`, `{"email":"[redacted:email]"}`},
		{`{"ann@example.com": 1}`, `{"[redacted:email]": 1}`},
		{`{"note":"mail ann\u0040example.com\n"}`, `{"note":"mail [redacted:email]\n"}`},
		{`{"note":"tab\there, no secret"}`, `{"note":"tab\there, no secret"}`},
		{`{"pan": 4111111111111111, "n": 42}`, `{"pan": "[redacted:payment_card]", "n": 42}`},
		{` [ "x" , 1.5e-3 , true , null ] `, ` [ "x" , 1.5e-3 , true , null ] `},
		{`"ghp_abcdefghijklmnopqrstuvwxyz0123456789"`, `"[redacted:github_token]"`},
		{`{"u":"caf\u00e9 ann@example.com \ud83d\ude00"}`, `{"u":"café [redacted:email] 😀"}`},
	} {
		got, err := e.JSON(nil, []byte(tc.in), nil)
		if err != nil || string(got) != tc.want {
			t.Errorf("JSON(%s)\n got %s (%v)\nwant %s", tc.in, got, err, tc.want)
		}
	}
}

func TestJSONInvalid(t *testing.T) {
	e := allDetectors(t)
	for _, in := range []string{
		``, `{`, `{"a":}`, `{"a" 1}`, `[1,]`, `[1 2]`, `{"a":1}x`, `"unterminated`, "\"ctl\x01\"", `"bad \x escape"`,
		`"bad \u12 escape"`, `01`, `-`, `1.`, `1e`, `tru`, `nul`, "\"\xff\xfe\"", `{a:1}`, `[` + strings.Repeat("[", 600) + strings.Repeat("]", 601),
	} {
		dst := []byte("prefix")
		got, err := e.JSON(dst, []byte(in), nil)
		if err == nil {
			t.Errorf("JSON(%q) = %q, want an error", in, got)
		}
		if string(got) != "prefix" {
			t.Errorf("JSON(%q) on error returned %q, want dst unchanged", in, got)
		}
	}
}
