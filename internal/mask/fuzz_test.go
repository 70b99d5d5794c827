package mask

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func fuzzEngine(t testing.TB) *Engine {
	e, err := New(Config{
		Sets:   []string{"pii", "secrets"},
		Custom: []CustomDetector{{Name: "emp_id", Pattern: `EMP-\d{6}`}, {Name: "ticket", Pattern: `[A-Z]{2,5}-\d+#s`, Trigger: "#s"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// FuzzText checks that masking never panics (a recovered panic would show
// as "[withheld]"), keeps valid UTF-8 valid, and leaves nothing behind
// that the detectors would find: masking the output again changes
// nothing.
func FuzzText(f *testing.F) {
	for _, tc := range detectorCorpus {
		f.Add([]byte(tc.in))
	}
	src, _ := mixedCorpus(4096)
	f.Add(src)
	f.Add([]byte("EMP-123456 OPS-1#s a@b.co\x00\xff"))
	e := fuzzEngine(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		var c Counts
		out := e.Text(nil, in, &c)
		if bytes.Equal(out, withheldText) && len(in) > 0 {
			t.Fatalf("masking %q panicked", in)
		}
		if utf8.Valid(in) && !utf8.Valid(out) {
			t.Fatalf("Text(%q) = %q: invalid UTF-8", in, out)
		}
		if c.Total() == 0 && !bytes.Equal(in, out) {
			t.Fatalf("Text(%q) = %q without a hit", in, out)
		}
		if s := e.String(string(in)); s != string(out) {
			t.Fatalf("String(%q) = %q, Text gives %q", in, s, out)
		}
		var c2 Counts
		again := e.Text(nil, out, &c2)
		if c2.Total() != 0 || !bytes.Equal(again, out) {
			t.Fatalf("secret survived masking:\n in  %q\n out %q\n again %q (%v)", in, out, again, c2.Map())
		}
	})
}

// FuzzJSON checks that JSON accepts what encoding/json accepts (valid
// UTF-8, modest depth), that its output is valid JSON, and that nothing
// detectable survives inside it.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":"ann@example.com","b":[1,2.5e3,true,null],"c":{"d":"x"}}`, `"\u0040\ud83d\ude00"`,
		`[4111111111111111, "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."]`, `{"password":"hunter2","items":[{"card":"4111 1111 1111 1111"}]}`} {
		f.Add([]byte(s))
	}
	e, err := New(Config{Sets: []string{"pii", "secrets"}, JSONPaths: []PathRule{{Path: "$.items[*].card"}, {Path: "$..secret", Strategy: "partial"}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := e.JSON(nil, in, nil)
		deep := bytes.Count(in, []byte("["))+bytes.Count(in, []byte("{")) > maxJSONDepth
		if err != nil {
			if json.Valid(in) && utf8.Valid(in) && !deep {
				t.Fatalf("JSON(%q) rejected valid JSON: %v", in, err)
			}
			if len(out) != 0 {
				t.Fatalf("output on error: %q", out)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("JSON(%q) = %q: invalid JSON", in, out)
		}
		var c Counts
		if again, _ := e.JSON(nil, out, &c); c.Total() != 0 && !bytes.Equal(again, out) {
			t.Fatalf("secret survived JSON masking: %q -> %q -> %q", in, out, again)
		}
	})
}

// FuzzValue checks that Value never panics and never returns an invalid
// or clear value: text-format arrays it returns parse again, JSON stays
// JSON, and a failure leaves dst untouched.
func FuzzValue(f *testing.F) {
	f.Add(uint8(0), false, []byte(`{ann@example.com,"x y",NULL}`))
	f.Add(uint8(1), true, []byte("\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x19\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x03a@b"))
	f.Add(uint8(2), false, []byte(`{"a":"ann@example.com"}`))
	f.Add(uint8(3), true, []byte("\x01{\"a\":1}"))
	f.Add(uint8(4), false, []byte("550e8400-e29b-41d4-a716-446655440000"))
	f.Add(uint8(5), false, []byte("call 415-555-2671"))
	oids := []uint32{OIDTextArray, OIDBPCharArray, OIDJSON, OIDJSONB, OIDUUID, OIDBPChar, OIDInet, OIDInt4, OIDXML, OIDJSONBArray, OIDUUIDArray, OIDDate}
	e := ruleEngineFuzz(f)
	f.Fuzz(func(t *testing.T, which uint8, binary bool, v []byte) {
		oid := oids[int(which)%len(oids)]
		format := FormatText
		if binary {
			format = FormatBinary
		}
		for _, col := range []string{"plain", "masked"} {
			m := e.Column("t", col)
			out, err := m.Value([]byte("keep"), oid, format, v, nil)
			if !bytes.HasPrefix(out, []byte("keep")) {
				t.Fatalf("dst prefix lost: %q", out)
			}
			if err != nil {
				if len(out) != 4 {
					t.Fatalf("output on error: %q", out)
				}
				continue
			}
			out = out[4:]
			switch {
			case format == FormatText && (oid == OIDTextArray || oid == OIDBPCharArray):
				if _, err := m.Value(nil, oid, format, out, nil); err != nil && !strings.Contains(err.Error(), "dimension") {
					t.Fatalf("masked array %q -> %q does not parse: %v", v, out, err)
				}
			case oid == OIDJSON || oid == OIDJSONB && format == FormatText:
				if !json.Valid(out) {
					t.Fatalf("masked json %q -> %q invalid", v, out)
				}
			case oid == OIDBPChar && utf8.Valid(v):
				if utf8.RuneCount(out) != utf8.RuneCount(v) {
					t.Fatalf("bpchar length changed: %q -> %q", v, out)
				}
			case oid == OIDUUID && format == FormatText:
				if _, ok := parseUUID(out); !ok {
					t.Fatalf("uuid %q -> %q", v, out)
				}
			}
		}
	})
}

func ruleEngineFuzz(t testing.TB) *Engine {
	e, err := New(Config{Sets: []string{"pii", "secrets"}, Columns: []ColumnRule{{Pattern: "t.masked", Strategy: "partial"}}, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// FuzzSafeCut checks that SafeCut never panics and that its cut is what it
// promises: within the limit, just after a blank, and a cut that changes
// nothing: the two pieces masked apart read as the whole masked at once.
func FuzzSafeCut(f *testing.F) {
	for _, tc := range detectorCorpus {
		f.Add([]byte(tc.in), uint16(len(tc.in)/2))
	}
	f.Add([]byte("set password = hunter2 now, card 4111 1111 1111 1111 ok"), uint16(40))
	e := fuzzEngine(f)
	f.Fuzz(func(t *testing.T, src []byte, limit uint16) {
		n := e.SafeCut(src, int(limit))
		if n < 0 || n > int(limit) || n > len(src) {
			t.Fatalf("SafeCut(%q, %d) = %d: out of range", src, limit, n)
		}
		if n == 0 {
			return
		}
		if src[n-1] != ' ' && src[n-1] != '\t' {
			t.Fatalf("SafeCut(%q, %d) = %d: not after a blank", src, limit, n)
		}
		whole := e.Text(nil, src, nil)
		pieces := e.Text(e.Text(nil, src[:n], nil), src[n:], nil)
		if !bytes.Equal(pieces, whole) {
			t.Fatalf("cutting %q at %d changes its masking:\n whole  %q\n pieces %q", src, n, whole, pieces)
		}
	})
}
