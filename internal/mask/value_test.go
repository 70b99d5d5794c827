package mask

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// pgTypes decodes masked values the way pgx does, to prove that drivers
// accept them.
var pgTypes = pgtype.NewMap()

func encode(t *testing.T, oid uint32, format int16, v any) []byte {
	t.Helper()
	b, err := pgTypes.Encode(oid, format, v, nil)
	if err != nil {
		t.Fatalf("encode %v: %v", v, err)
	}
	return b
}

func decodeInto(t *testing.T, oid uint32, format int16, v []byte, dst any) {
	t.Helper()
	if err := pgTypes.Scan(oid, format, v, dst); err != nil {
		t.Fatalf("pgx cannot decode masked value %q of type %d format %d: %v", v, oid, format, err)
	}
}

func ruleEngine(t *testing.T, strategy string) *Engine {
	t.Helper()
	e, err := New(Config{Sets: []string{"pii", "secrets"}, Columns: []ColumnRule{{Pattern: "t.masked", Strategy: strategy}}, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustValue(t *testing.T, m *ColumnMasker, oid uint32, format int16, v []byte) []byte {
	t.Helper()
	out, err := m.Value(nil, oid, format, v, nil)
	if err != nil {
		t.Fatalf("Value(%d, %d, %q): %v", oid, format, v, err)
	}
	return out
}

func TestValueText(t *testing.T) {
	e := allDetectors(t)
	m := e.Column("t", "note")
	for _, oid := range []uint32{OIDText, OIDVarchar, OIDUnknown} {
		for _, f := range []int16{FormatText, FormatBinary} {
			got := mustValue(t, m, oid, f, []byte("call 415-555-2671 or ann@example.com"))
			if string(got) != "call [redacted:phone] or [redacted:email]" {
				t.Errorf("oid %d format %d: %q", oid, f, got)
			}
		}
	}
	r := ruleEngine(t, "partial").Column("t", "masked")
	if got := mustValue(t, r, OIDText, FormatText, []byte("4111-1111-1111-1111")); string(got) != "****-****-****-1111" {
		t.Errorf("rule partial: %q", got)
	}
	var c Counts
	r2 := ruleEngine(t, "redact").Column("t", "masked")
	if got, _ := r2.Value([]byte("pre:"), OIDText, FormatText, []byte("anything"), &c); string(got) != "pre:[redacted]" || c.Get("column_rule") != 1 {
		t.Errorf("rule redact: %q %v", got, c.Map())
	}
}

func TestValueBPChar(t *testing.T) {
	e := allDetectors(t)
	for _, tc := range []struct {
		strategy, in, want string
	}{
		{"", "ann@example.com     ", "[redacted:email]    "}, // detectors, padded
		{"", "x ann@example.com", "x [redacted:email"},       // detectors, cut
		{"redact", "abcd", "[red"},                           // rule, cut
		{"redact", "abcdefghijklmnop", "[redacted]      "},   // rule, padded
		{"partial", "AB-1234567", "**-***4567"},              // same length
		{"partial", "Zoë Müller  ", "*** **ller  "},          // characters, not bytes
		{"hash", "x                   ", "h:"},               // prefix checked below
	} {
		m := e.Column("t", "c")
		if tc.strategy != "" {
			m = ruleEngine(t, tc.strategy).Column("t", "masked")
		}
		for _, f := range []int16{FormatText, FormatBinary} {
			got := mustValue(t, m, OIDBPChar, f, []byte(tc.in))
			if !strings.HasPrefix(string(got), tc.want) || utf8.RuneCount(got) != utf8.RuneCountInString(tc.in) || !utf8.Valid(got) {
				t.Errorf("bpchar %s %q: got %q, want %q of %d characters", tc.strategy, tc.in, got, tc.want, utf8.RuneCountInString(tc.in))
			}
			var s string
			decodeInto(t, OIDBPChar, f, got, &s)
		}
	}
}

func TestValueName(t *testing.T) {
	e := allDetectors(t)
	in := strings.Repeat("n", 50) + " ann@example.com" // 66 bytes masked
	got := mustValue(t, e.Column("t", "c"), OIDName, FormatText, []byte(in))
	if len(got) > maxName || !strings.HasPrefix(string(got), strings.Repeat("n", 50)+" [redacted") {
		t.Errorf("name: %q", got)
	}
	if got := cutBytes([]byte("xé"+strings.Repeat("é", 40)), 0, 6); string(got) != "xéé" {
		t.Errorf("cutBytes at a rune boundary: %q", got)
	}
	if got := fitChars([]byte("preéa"), 3, 4); string(got) != "preéa  " {
		t.Errorf("fitChars: %q", got)
	}
}

func TestValueJSON(t *testing.T) {
	e, err := New(Config{Sets: []string{"pii"}, JSONPaths: []PathRule{{Path: "$.ssn"}}})
	if err != nil {
		t.Fatal(err)
	}
	m := e.Column("t", "doc")
	doc := []byte(`{"email": "ann@example.com", "ssn": "x", "n": [1, 2]}`)
	want := `{"email": "[redacted:email]", "ssn": "[redacted]", "n": [1, 2]}`
	if got := mustValue(t, m, OIDJSON, FormatText, doc); string(got) != want {
		t.Errorf("json: %s", got)
	}
	if got := mustValue(t, m, OIDJSONB, FormatText, doc); string(got) != want {
		t.Errorf("jsonb text: %s", got)
	}
	bin := append([]byte{1}, doc...)
	got := mustValue(t, m, OIDJSONB, FormatBinary, bin)
	if got[0] != 1 || string(got[1:]) != want {
		t.Errorf("jsonb binary: %q", got)
	}
	var v map[string]any
	decodeInto(t, OIDJSONB, FormatBinary, got, &v)
	if v["email"] != "[redacted:email]" {
		t.Errorf("decoded %v", v)
	}
	// A column rule replaces the document by a JSON string.
	r := ruleEngine(t, "partial").Column("t", "masked")
	got = mustValue(t, r, OIDJSON, FormatText, []byte(`{"k":"v1234567"}`))
	if string(got) != `"{\"*\":\"****4567\"}"` || !json.Valid(got) {
		t.Errorf("json rule: %s", got)
	}
	// Failures.
	for _, tc := range []struct {
		oid    uint32
		format int16
		v      string
	}{
		{OIDJSON, FormatText, `{"a":`},
		{OIDJSONB, FormatBinary, "\x02{}"},
		{OIDJSONB, FormatBinary, ""},
		{OIDJSONB, FormatBinary, "\x01{bad}"},
	} {
		if _, err := m.Value(nil, tc.oid, tc.format, []byte(tc.v), nil); !errors.Is(err, ErrWithhold) {
			t.Errorf("Value(%d, %q) = %v, want ErrWithhold", tc.oid, tc.v, err)
		}
		if _, err := r.Value(nil, tc.oid, tc.format, []byte(tc.v), nil); !errors.Is(err, ErrWithhold) {
			t.Errorf("rule Value(%d, %q) = %v, want ErrWithhold", tc.oid, tc.v, err)
		}
	}
}

func TestValueTextArray(t *testing.T) {
	e := allDetectors(t)
	m := e.Column("t", "tags")
	for _, tc := range []struct{ in, want string }{
		{`{ann@example.com,"hello world",NULL,"quote\"d","back\\slash",""}`, `{[redacted:email],"hello world",NULL,"quote\"d","back\\slash",""}`},
		{`{"mail ann@example.com, now"}`, `{"mail [redacted:email], now"}`},
		{`{{a@example.com,x},{y,"NULL"}}`, `{{[redacted:email],x},{y,"NULL"}}`},
		{`[0:1]={a@example.com,b}`, `[0:1]={[redacted:email],b}`},
		{`{}`, `{}`},
		{`{ a , b }`, `{a,b}`},
	} {
		got := mustValue(t, m, OIDTextArray, FormatText, []byte(tc.in))
		if string(got) != tc.want {
			t.Errorf("array %s:\n got %s\nwant %s", tc.in, got, tc.want)
		}
		if !strings.HasPrefix(tc.in, "[") {
			var a pgtype.Array[pgtype.Text]
			decodeInto(t, OIDTextArray, FormatText, got, &a)
		}
	}
	// A rule applies to every element; NULL stays NULL.
	r := ruleEngine(t, "partial").Column("t", "masked")
	if got := mustValue(t, r, OIDVarcharArray, FormatText, []byte(`{abcdefgh,NULL,"a b c d e f"}`)); string(got) != `{****efgh,NULL,"* * * * e f"}` {
		t.Errorf("rule on array: %s", got)
	}
	// Element quoting after masking: a redaction of a quoted element.
	r2 := ruleEngine(t, "redact").Column("t", "masked")
	if got := mustValue(t, r2, OIDTextArray, FormatText, []byte(`{"a,b",c}`)); string(got) != `{[redacted],[redacted]}` {
		t.Errorf("rule redact on array: %s", got)
	}
	for _, bad := range []string{`{a,`, `{"a}`, `{a}}`, `a,b`, `{a"b}`, `{a,,b}`, `{a\`, `[1:2]`, `{{{{{{{a}}}}}}}`, ``} {
		if _, err := m.Value(nil, OIDTextArray, FormatText, []byte(bad), nil); !errors.Is(err, ErrWithhold) {
			t.Errorf("malformed array %q: err %v", bad, err)
		}
	}
}

func TestValueBinaryArrays(t *testing.T) {
	e := allDetectors(t)
	m := e.Column("t", "tags")
	a := pgtype.Array[pgtype.Text]{
		Elements: []pgtype.Text{{String: "ann@example.com", Valid: true}, {}, {String: "plain", Valid: true}},
		Dims:     []pgtype.ArrayDimension{{Length: 3, LowerBound: 1}},
		Valid:    true,
	}
	in := encode(t, OIDTextArray, FormatBinary, a)
	got := mustValue(t, m, OIDTextArray, FormatBinary, in)
	var back pgtype.Array[pgtype.Text]
	decodeInto(t, OIDTextArray, FormatBinary, got, &back)
	if len(back.Elements) != 3 || back.Elements[0].String != "[redacted:email]" || back.Elements[1].Valid || back.Elements[2].String != "plain" {
		t.Errorf("binary text[]: %+v", back)
	}
	// bpchar[]: each element keeps its length.
	in = encode(t, OIDBPCharArray, FormatBinary, []string{"ann@example.com ", "abc"})
	got = mustValue(t, m, OIDBPCharArray, FormatBinary, in)
	var strs []string
	decodeInto(t, OIDBPCharArray, FormatBinary, got, &strs)
	if len(strs) != 2 || strs[0] != "[redacted:email]" || strs[1] != "abc" {
		t.Errorf("binary bpchar[]: %q", strs)
	}
	// Malformed binary arrays.
	good := encode(t, OIDTextArray, FormatBinary, []string{"a", "b"})
	for name, bad := range map[string][]byte{
		"short header":   good[:8],
		"truncated":      good[:len(good)-1],
		"junk":           append(append([]byte{}, good...), 0),
		"wrong elem oid": append(append([]byte{}, good[:8]...), append([]byte{0, 0, 0, 23}, good[12:]...)...),
		"bad length":     append(append([]byte{}, good[:20]...), append([]byte{0x7f, 0, 0, 0}, good[24:]...)...),
		"too many dims":  append([]byte{0, 0, 0, 7}, good[4:]...),
	} {
		if _, err := m.Value(nil, OIDTextArray, FormatBinary, bad, nil); !errors.Is(err, ErrWithhold) {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

func TestValueUUID(t *testing.T) {
	const u = "550e8400-e29b-41d4-a716-446655440000"
	ub := encode(t, OIDUUID, FormatBinary, pgtype.UUID{Bytes: [16]byte(mustParseUUID(t, u)), Valid: true})
	// Detectors never touch a uuid.
	if got := mustValue(t, allDetectors(t).Column("t", "id"), OIDUUID, FormatText, []byte(u)); string(got) != u {
		t.Errorf("uuid without rule: %s", got)
	}
	for _, tc := range []struct{ strategy, want string }{
		{"redact", "00000000-0000-0000-0000-000000000000"},
		{"partial", ""},
		{"hash", ""},
		{"fake", ""},
	} {
		m := ruleEngine(t, tc.strategy).Column("t", "masked")
		text := mustValue(t, m, OIDUUID, FormatText, []byte(u))
		bin := mustValue(t, m, OIDUUID, FormatBinary, ub)
		var a, b pgtype.UUID
		decodeInto(t, OIDUUID, FormatText, text, &a)
		decodeInto(t, OIDUUID, FormatBinary, bin, &b)
		if a != b {
			t.Errorf("%s: text %s and binary %x differ", tc.strategy, text, bin)
		}
		switch tc.strategy {
		case "redact":
			if string(text) != tc.want {
				t.Errorf("redact: %s", text)
			}
		case "partial":
			if string(text) != "00000000-0000-0000-0000-000000000000" {
				t.Errorf("partial: %s", text)
			}
		default:
			if a.Bytes[6]>>4 != 4 || string(text) == u {
				t.Errorf("%s: %s is not a derived v4 UUID", tc.strategy, text)
			}
		}
	}
	// Partial keeps the last 4 hex digits.
	m := ruleEngine(t, "partial").Column("t", "masked")
	if got := mustValue(t, m, OIDUUID, FormatText, []byte("550e8400-e29b-41d4-a716-44665544abcd")); string(got) != "00000000-0000-0000-0000-00000000abcd" {
		t.Errorf("partial uuid: %s", got)
	}
	// uuid[] with a rule.
	arr := mustValue(t, m, OIDUUIDArray, FormatText, []byte(`{550e8400-e29b-41d4-a716-44665544abcd,NULL}`))
	if string(arr) != `{00000000-0000-0000-0000-00000000abcd,NULL}` {
		t.Errorf("uuid[]: %s", arr)
	}
	for _, bad := range [][]byte{[]byte("not-a-uuid"), []byte(u[:35])} {
		if _, err := m.Value(nil, OIDUUID, FormatText, bad, nil); !errors.Is(err, ErrWithhold) {
			t.Errorf("bad uuid %q: %v", bad, err)
		}
	}
	if _, err := m.Value(nil, OIDUUID, FormatBinary, ub[:15], nil); !errors.Is(err, ErrWithhold) {
		t.Errorf("short binary uuid: %v", err)
	}
}

func TestValueInet(t *testing.T) {
	e := allDetectors(t)
	m := e.Column("t", "addr")
	for _, tc := range []struct {
		oid      uint32
		in, want string
	}{
		{OIDInet, "10.1.2.3", "0.0.0.0"},
		{OIDInet, "10.1.2.3/24", "0.0.0.0"},
		{OIDInet, "127.0.0.1", "127.0.0.1"},
		{OIDInet, "2001:4860::8888", "0:0:0:0:0:0:0:0"},
		{OIDCIDR, "10.0.0.0/8", "0.0.0.0/32"},
	} {
		got := mustValue(t, m, tc.oid, FormatText, []byte(tc.in))
		if string(got) != tc.want {
			t.Errorf("inet %s: %s, want %s", tc.in, got, tc.want)
		}
		var p netip.Prefix
		decodeInto(t, tc.oid, FormatText, got, &p)
	}
	in := encode(t, OIDInet, FormatBinary, netip.MustParsePrefix("10.1.2.3/32"))
	got := mustValue(t, m, OIDInet, FormatBinary, in)
	var p netip.Prefix
	decodeInto(t, OIDInet, FormatBinary, got, &p)
	if p.Addr() != netip.MustParseAddr("0.0.0.0") {
		t.Errorf("binary inet: %v", p)
	}
	h := ruleEngine(t, "hash").Column("t", "masked")
	got = mustValue(t, h, OIDInet, FormatBinary, in)
	decodeInto(t, OIDInet, FormatBinary, got, &p)
	if !netip.MustParsePrefix("192.0.2.0/24").Contains(p.Addr()) && !netip.MustParsePrefix("198.51.100.0/24").Contains(p.Addr()) &&
		!netip.MustParsePrefix("203.0.113.0/24").Contains(p.Addr()) {
		t.Errorf("hashed inet %v not in a documentation range", p)
	}
	if _, err := ruleEngine(t, "partial").Column("t", "masked").Value(nil, OIDInet, FormatText, []byte("10.1.2.3"), nil); !errors.Is(err, ErrWithhold) {
		t.Errorf("partial inet: %v", err)
	}
	if _, err := m.Value(nil, OIDInet, FormatText, []byte("10.1.2"), nil); !errors.Is(err, ErrWithhold) {
		t.Errorf("bad inet: %v", err)
	}
}

func TestValueOtherTypes(t *testing.T) {
	// Without a rule, detectors skip non-text types.
	d := allDetectors(t).Column("t", "n")
	if got := mustValue(t, d, OIDInt8, FormatText, []byte("4111111111111111")); string(got) != "4111111111111111" {
		t.Errorf("int8 without rule: %s", got)
	}
	type check func(t *testing.T, text, bin []byte)
	for _, tc := range []struct {
		oid      uint32
		value    any
		strategy string
		check    check
	}{
		{OIDInt4, int32(12345678), "redact", func(t *testing.T, text, bin []byte) {
			var a, b int32
			decodeInto(t, OIDInt4, 0, text, &a)
			decodeInto(t, OIDInt4, 1, bin, &b)
			if a != 0 || b != 0 {
				t.Errorf("int4 redact: %d %d", a, b)
			}
		}},
		{OIDInt8, int64(-12345678), "partial", func(t *testing.T, text, bin []byte) {
			var a, b int64
			decodeInto(t, OIDInt8, 0, text, &a)
			decodeInto(t, OIDInt8, 1, bin, &b)
			if a != -5678 || b != -5678 {
				t.Errorf("int8 partial: %d %d", a, b)
			}
		}},
		{OIDInt2, int16(42), "hash", func(t *testing.T, text, bin []byte) {
			var a, b int16
			decodeInto(t, OIDInt2, 0, text, &a)
			decodeInto(t, OIDInt2, 1, bin, &b)
			if a != b || a < 0 {
				t.Errorf("int2 hash: text %d binary %d must agree", a, b)
			}
		}},
		{OIDFloat8, 3.25, "hash", func(t *testing.T, text, bin []byte) {
			var a, b float64
			decodeInto(t, OIDFloat8, 0, text, &a)
			decodeInto(t, OIDFloat8, 1, bin, &b)
			if a != b {
				t.Errorf("float8 hash: %v %v", a, b)
			}
		}},
		{OIDFloat4, float32(1.5), "redact", func(t *testing.T, text, bin []byte) {
			var a, b float32
			decodeInto(t, OIDFloat4, 0, text, &a)
			decodeInto(t, OIDFloat4, 1, bin, &b)
			if a != 0 || b != 0 {
				t.Errorf("float4 redact: %v %v", a, b)
			}
		}},
		{OIDNumeric, pgtype.Numeric{Int: big.NewInt(12345678), Exp: -4, Valid: true}, "fake", func(t *testing.T, text, bin []byte) {
			var a, b pgtype.Numeric
			decodeInto(t, OIDNumeric, 0, text, &a)
			decodeInto(t, OIDNumeric, 1, bin, &b)
			if !a.Valid || !b.Valid {
				t.Errorf("numeric fake: %s %x", text, bin)
			}
		}},
		{OIDNumeric, pgtype.Numeric{Int: big.NewInt(12345678), Exp: -4, Valid: true}, "redact", func(t *testing.T, text, bin []byte) {
			var a, b pgtype.Numeric
			decodeInto(t, OIDNumeric, 0, text, &a)
			decodeInto(t, OIDNumeric, 1, bin, &b)
			if a.Int.Sign() != 0 || b.Int.Sign() != 0 {
				t.Errorf("numeric redact: %s %x", text, bin)
			}
		}},
		{OIDBool, true, "redact", func(t *testing.T, text, bin []byte) {
			var a, b bool
			decodeInto(t, OIDBool, 0, text, &a)
			decodeInto(t, OIDBool, 1, bin, &b)
			if a || b {
				t.Errorf("bool redact: %v %v", a, b)
			}
		}},
		{OIDDate, time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC), "redact", func(t *testing.T, text, bin []byte) {
			var a, b time.Time
			decodeInto(t, OIDDate, 0, text, &a)
			decodeInto(t, OIDDate, 1, bin, &b)
			if !a.Equal(time.Unix(0, 0).UTC()) || !b.Equal(a) {
				t.Errorf("date redact: %v %v", a, b)
			}
		}},
		{OIDDate, time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC), "hash", func(t *testing.T, text, bin []byte) {
			var a, b time.Time
			decodeInto(t, OIDDate, 0, text, &a)
			decodeInto(t, OIDDate, 1, bin, &b)
			if a.Year() < 1970 || a.Year() > 2069 || b.Year() < 1970 || b.Year() > 2069 {
				t.Errorf("date hash: %v %v", a, b)
			}
		}},
		{OIDTimestampTZ, time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC), "fake", func(t *testing.T, text, bin []byte) {
			var a, b time.Time
			decodeInto(t, OIDTimestampTZ, 0, text, &a)
			decodeInto(t, OIDTimestampTZ, 1, bin, &b)
			if a.Year() < 1970 || b.Year() < 1970 {
				t.Errorf("timestamptz fake: %v %v", a, b)
			}
		}},
		{OIDTimestamp, time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC), "redact", func(t *testing.T, text, bin []byte) {
			var a, b time.Time
			decodeInto(t, OIDTimestamp, 0, text, &a)
			decodeInto(t, OIDTimestamp, 1, bin, &b)
			if !a.Equal(time.Unix(0, 0).UTC()) || !b.Equal(a) {
				t.Errorf("timestamp redact: %v %v", a, b)
			}
		}},
		{OIDBytea, []byte("secret bytes"), "hash", func(t *testing.T, text, bin []byte) {
			var a, b []byte
			decodeInto(t, OIDBytea, 0, text, &a)
			decodeInto(t, OIDBytea, 1, bin, &b)
			if len(a) != 8 || len(b) != 8 {
				t.Errorf("bytea hash: %x %x", a, b)
			}
		}},
	} {
		m := ruleEngine(t, tc.strategy).Column("t", "masked")
		text := mustValue(t, m, tc.oid, FormatText, encode(t, tc.oid, FormatText, tc.value))
		bin := mustValue(t, m, tc.oid, FormatBinary, encode(t, tc.oid, FormatBinary, tc.value))
		tc.check(t, text, bin)
	}
	// No valid replacement: withheld.
	for _, tc := range []struct {
		oid      uint32
		strategy string
		v        string
	}{
		{OIDInterval, "redact", "1 day"},
		{OIDFloat8, "partial", "1.5"},
		{OIDMoney, "hash", "$1.00"},
		{OIDInt4, "redact", "not a number"},
	} {
		m := ruleEngine(t, tc.strategy).Column("t", "masked")
		if _, err := m.Value(nil, tc.oid, FormatText, []byte(tc.v), nil); !errors.Is(err, ErrWithhold) {
			t.Errorf("type %d %s: %v, want ErrWithhold", tc.oid, tc.strategy, err)
		}
	}
}

func TestValueOpaque(t *testing.T) {
	m := allDetectors(t).Column("t", "x")
	for _, oid := range []uint32{OIDXML, 99999 /* e.g. citext */, OIDRecord} {
		if got := mustValue(t, m, oid, FormatText, []byte("<a>nothing here</a>")); string(got) != "<a>nothing here</a>" {
			t.Errorf("opaque %d without hit: %s", oid, got)
		}
		var c Counts
		if _, err := m.Value(nil, oid, FormatText, []byte("<a>ann@example.com</a>"), &c); !errors.Is(err, ErrWithhold) || c.Get("email") != 1 {
			t.Errorf("opaque %d with hit: %v %v", oid, err, c.Map())
		}
	}
	r := ruleEngine(t, "redact").Column("t", "masked")
	if _, err := r.Value(nil, OIDXML, FormatText, []byte("<a/>"), nil); !errors.Is(err, ErrWithhold) {
		t.Errorf("rule on opaque: %v", err)
	}
}

// TestFailClosed checks that an error never returns the clear value and
// that panics inside detectors are contained.
func TestFailClosed(t *testing.T) {
	m := allDetectors(t).Column("t", "x")
	dst := make([]byte, 0, 64)
	dst = append(dst, "keep"...)
	out, err := m.Value(dst, OIDTextArray, FormatText, []byte(`{ann@example.com,"unterminated`), nil)
	if err == nil || string(out) != "keep" || bytes.Contains(dst[:cap(dst)], []byte("ann@")) {
		t.Errorf("malformed array: %q %v; spare capacity %q", out, err, dst[:cap(dst)])
	}
	if _, err := m.Value(nil, OIDText, 2, []byte("x"), nil); err == nil {
		t.Error("unknown format code accepted")
	}

	// A broken custom detector panics inside Text, String, Value and JSON.
	broken := &Engine{custom: []*customDetector{{name: "broken"}}}
	if got := string(broken.Text([]byte("p:"), []byte("ann@example.com"), nil)); got != "p:[withheld]" {
		t.Errorf("Text after panic: %q", got)
	}
	if got := broken.String("ann@example.com"); got != "[withheld]" {
		t.Errorf("String after panic: %q", got)
	}
	bm := &ColumnMasker{e: broken}
	out, err = bm.Value([]byte("p:"), OIDText, FormatText, []byte("ann@example.com"), nil)
	if !errors.Is(err, ErrWithhold) || string(out) != "p:" {
		t.Errorf("Value after panic: %q %v", out, err)
	}
	out, err = broken.JSON([]byte("p:"), []byte(`{"a":"ann@example.com"}`), nil)
	if err == nil || string(out) != "p:" {
		t.Errorf("JSON after panic: %q %v", out, err)
	}
}

func mustParseUUID(t *testing.T, s string) []byte {
	u, ok := parseUUID([]byte(s))
	if !ok {
		t.Fatalf("bad uuid %s", s)
	}
	return u[:]
}

func TestCopyRow(t *testing.T) {
	e := allDetectors(t)
	row := "1\tann@example.com\t\\N\tpassword='a\tb'\tx\n"
	want := "1\t[redacted:email]\t\\N\tpassword='[redacted:conn_string_password]\tb'\tx\n"
	if got := string(e.CopyRow(nil, []byte(row), '\t', nil)); got != want {
		t.Errorf("CopyRow:\n got %q\nwant %q", got, want)
	}
	if strings.Count(want, "\t") != strings.Count(row, "\t") {
		t.Fatal("field count changed")
	}
}

// TestConcurrent shares one engine between goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	e, err := New(Config{Sets: []string{"pii", "secrets"}, Strategy: "fake", Key: testKey,
		Columns: []ColumnRule{{Pattern: "t.h", Strategy: "hash"}}, JSONPaths: []PathRule{{Path: "$..card", Strategy: "fake"}}})
	if err != nil {
		t.Fatal(err)
	}
	src, _ := mixedCorpus(32 << 10)
	want := e.Text(nil, src, nil)
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			var c Counts
			for n := 0; n < 20; n++ {
				if got := e.Text(nil, src, &c); !bytes.Equal(got, want) {
					done <- errors.New("Text differs between goroutines")
					return
				}
				if _, err := e.Column("t", "h").Value(nil, OIDText, FormatText, []byte("ann@example.com"), &c); err != nil {
					done <- err
					return
				}
				if _, err := e.JSON(nil, []byte(`{"a":[{"card":"4111111111111111"}]}`), &c); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
