package mask

import (
	"bytes"
	"testing"
)

func benchEngine(b *testing.B) *Engine {
	e, err := New(Config{Sets: []string{"pii", "secrets"}})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkText masks a realistic mixed corpus with every detector on.
func BenchmarkText(b *testing.B) {
	e := benchEngine(b)
	src, _ := mixedCorpus(1 << 20)
	dst := make([]byte, 0, 2*len(src))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		dst = e.Text(dst[:0], src, nil)
	}
}

// BenchmarkTextNoMatch masks the same corpus with the planted values
// removed: the path where nothing matches.
func BenchmarkTextNoMatch(b *testing.B) {
	e := benchEngine(b)
	src, _ := mixedCorpus(1 << 20)
	clean := e.Text(nil, src, nil) // placeholders match nothing
	dst := make([]byte, 0, 2*len(clean))
	var c Counts
	if e.Text(nil, clean, &c); c.Total() != 0 {
		b.Fatalf("clean corpus still has %d hits", c.Total())
	}
	b.SetBytes(int64(len(clean)))
	b.ReportAllocs()
	for b.Loop() {
		dst = e.Text(dst[:0], clean, nil)
	}
}

// BenchmarkValueShortText masks one short text column value.
func BenchmarkValueShortText(b *testing.B) {
	e := benchEngine(b)
	m := e.Column("public.customers", "note")
	v := []byte("Delivered to the front desk, signed by R. Jones")
	dst := make([]byte, 0, 128)
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	var err error
	for b.Loop() {
		if dst, err = m.Value(dst[:0], OIDText, FormatText, v, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJSON masks HTTP-body-like JSON documents with path rules and
// every detector on.
func BenchmarkJSON(b *testing.B) {
	e, err := New(Config{Sets: []string{"pii", "secrets"}, JSONPaths: []PathRule{{Path: "$[*].customer.name"}, {Path: "$..note", Strategy: "partial"}}})
	if err != nil {
		b.Fatal(err)
	}
	src, _ := mixedCorpus(1 << 20)
	var doc []byte
	doc = append(doc, '[')
	for _, line := range bytes.Split(src, []byte("\n")) {
		if len(line) > 0 && line[0] == '{' {
			if len(doc) > 1 {
				doc = append(doc, ',', '\n')
			}
			doc = append(doc, line...)
		}
	}
	doc = append(doc, ']')
	dst := make([]byte, 0, 2*len(doc))
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if dst, err = e.JSON(dst[:0], doc, nil); err != nil {
			b.Fatal(err)
		}
	}
}
