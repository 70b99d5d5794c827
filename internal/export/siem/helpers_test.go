package siem

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/internal/export"
)

// baseTime is the OCSF time (epoch ms) of the test records:
// 2026-01-02T00:00:00.123Z plus the sequence number in milliseconds.
const baseTime = 1767312000123

// record renders the OCSF-like JSON a formatter might produce for seq,
// with text that needs escaping and non-ASCII characters, and a severity
// that cycles through 1..6.
func record(seq uint64) []byte {
	return fmt.Appendf(nil, `{"class_uid":3005,"time":%d,"severity_id":%d,"seq":%d,`+
		`"message":"SELECT * FROM \"orders\" WHERE note = '<&>' -- é ✓\n","metadata":{"version":"1.1.0"}}`,
		baseTime+int64(seq), 1+seq%6, seq)
}

// items returns records first..first+n-1.
func items(first uint64, n int) []export.Item {
	out := make([]export.Item, n)
	for i := range out {
		seq := first + uint64(i)
		out[i] = export.Item{Seq: seq, Data: record(seq)}
	}
	return out
}

// sameJSON fails the test unless got and want hold equal JSON values.
func sameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	g, err := decodeJSON(got)
	if err != nil {
		t.Fatalf("%s: %v: %q", what, err, got)
	}
	w, err := decodeJSON(want)
	if err != nil {
		t.Fatalf("%s: want: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// noSecret fails the test if err's text holds any of secrets.
func noSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if bytes.Contains([]byte(err.Error()), []byte(s)) {
			t.Fatalf("error holds a secret: %v", err)
		}
	}
}

// decodeJSON decodes one JSON value, numbers as their text (1e700 is
// valid JSON but no float64).
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}
