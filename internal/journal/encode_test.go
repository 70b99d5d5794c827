package journal

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

func TestEncoderLayout(t *testing.T) {
	if err := layoutError(); err != nil {
		t.Fatalf("the hand-written encoder is out of date (the journal falls back to encoding/json): %v", err)
	}
	if !fastEncode {
		t.Fatal("fastEncode is off")
	}
}

// TestEncodeMatchesJSON fills every field of sluice.Event by reflection, so
// a field added to the root package is filled too and shows up as a
// difference until encode.go knows it.
func TestEncodeMatchesJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		var ev sluice.Event
		fill(reflect.ValueOf(&ev).Elem(), r, 0)
		want, wantErr := json.Marshal(&ev)
		got, gotErr := appendEvent(nil, &ev)
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("case %d: json error %v, encoder error %v", i, wantErr, gotErr)
		}
		if wantErr == nil && !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
		// The fallback must agree too.
		if wantErr == nil {
			body, err := appendEventBodyJSON(nil, &ev)
			if err != nil {
				t.Fatal(err)
			}
			fast, _ := appendEventBody(nil, &ev)
			if !bytes.Equal(body, fast) {
				t.Fatalf("case %d: fallback body\n%s\nfast body\n%s", i, body, fast)
			}
		}
	}
}

func TestEncodeEdgeCases(t *testing.T) {
	s := "x"
	for _, ev := range []*sluice.Event{
		{},
		{Seq: 9, Type: sluice.EventResult, Result: &sluice.Result{Capture: &sluice.Capture{
			Columns: []sluice.Column{{Name: "a", TypeOID: 25, Format: 1}},
			Rows:    [][]*string{nil, {}, {nil, &s}}, Truncated: true}}},
		{Request: &sluice.Request{Params: []*string{nil}, Tables: []string{}}},
		{Identity: &sluice.Identity{Groups: []string{""}, ExpiresAt: time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("IST", 5*3600+1800))}},
		{Time: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 24*3600))},
		{Reason: "\x00\x1f\x7f\"\\<>&\u2028\u2029\xff\xfe é 😀 \b\f\n\r\t"},
	} {
		want, wantErr := json.Marshal(ev)
		got, gotErr := appendEvent(nil, ev)
		if (wantErr != nil) != (gotErr != nil) || wantErr == nil && !bytes.Equal(got, want) {
			t.Errorf("event %+v:\n got %s (%v)\nwant %s (%v)", ev, got, gotErr, want, wantErr)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\<>&", "\x00\x7f\u2028\u2029", "\xff\xc3", "é😀", "a\tb\nc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

var fillStrings = []string{"", "orders", "SELECT * FROM t WHERE a < 3 && b > 4", "é😀", "\u2028\u2029",
	"\x00\x01\x1f\x7f", "\xff\xfe", `"quoted" \ back`, "line\nbreak\ttab\r\b\f", "<script>&amp;"}

var fillZones = []*time.Location{time.UTC, time.FixedZone("P", -8*3600), time.FixedZone("I", 5*3600+1800),
	time.FixedZone("S", 30), time.Local}

// fill sets v to random values, recursively.
func fill(v reflect.Value, r *rand.Rand, depth int) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			var t time.Time
			switch r.IntN(6) {
			case 0: // zero
			case 1:
				t = time.Date(10000+r.IntN(100), 1, 1, 0, 0, 0, 0, time.UTC) // not encodable
			default:
				t = time.Unix(r.Int64N(4e9), r.Int64N(1e9)*int64(r.IntN(2))).In(fillZones[r.IntN(len(fillZones))])
			}
			v.Set(reflect.ValueOf(t))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), r, depth)
			}
		}
	case reflect.Pointer:
		if r.IntN(4) == 0 || depth > 4 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), r, depth+1)
		v.Set(p)
	case reflect.Slice:
		switch r.IntN(5) {
		case 0:
			return
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return
		}
		n := 1 + r.IntN(4)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(s.Index(i), r, depth+1)
		}
		v.Set(s)
	case reflect.String:
		if r.IntN(3) > 0 {
			v.SetString(fillStrings[r.IntN(len(fillStrings))])
		}
	case reflect.Map:
		if r.IntN(2) == 0 {
			return
		}
		m := reflect.MakeMap(v.Type())
		for range 1 + r.IntN(3) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, r, depth+1)
			fill(e, r, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if r.IntN(3) > 0 {
			bits := v.Type().Bits()
			v.SetInt(r.Int64() >> (64 - bits) * int64(1-2*r.IntN(2)))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if r.IntN(3) > 0 {
			v.SetUint(r.Uint64() >> (64 - v.Type().Bits()))
		}
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

func TestParseEnvelope(t *testing.T) {
	prev := LeafHash([]byte("x"))
	body, err := appendEventBody(nil, testEvent("env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		seq  uint64
		ts   int64
		prev []byte
	}{{1, 0, nil}, {2, 1767312000123456789, prev}, {1 << 40, -5, prev}} {
		p := appendPayload(nil, tc.seq, tc.ts, tc.prev, body)
		e, ok := parseEnvelopeFast(p)
		if !ok || e.seq != tc.seq || e.ts != tc.ts || !bytes.Equal(e.prev, tc.prev) {
			t.Fatalf("parseEnvelopeFast(%s) = %+v, %v", p[:60], e, ok)
		}
		rec, err := DecodeRecord(p)
		if err != nil || rec.Seq != tc.seq || rec.Time.UnixNano() != tc.ts || !bytes.Equal(rec.Prev, tc.prev) || rec.Event.Seq != tc.seq {
			t.Fatalf("DecodeRecord = %+v, %v", rec, err)
		}
	}
	// Valid JSON in another member order takes the slow path.
	e, err := parseEnvelope([]byte(`{"ts":5,"seq":3,"prev":"","ev":{}}`))
	if err != nil || e.seq != 3 || e.ts != 5 {
		t.Fatalf("parseEnvelope = %+v, %v", e, err)
	}
	for _, bad := range []string{`{}`, `{"seq":0,"ev":{}}`, `{"seq":1}`, `{"seq":1,"prev":"AAAA","ev":{}}`, `not json`} {
		if _, err := parseEnvelope([]byte(bad)); err == nil {
			t.Errorf("parseEnvelope(%s) succeeded", bad)
		}
		if _, err := DecodeRecord([]byte(bad)); err == nil {
			t.Errorf("DecodeRecord(%s) succeeded", bad)
		}
	}
}
