package siem

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/export"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestSyslogSeverity(t *testing.T) {
	for _, tc := range []struct {
		severityID, want int
	}{
		{-1, sevInformational}, // no severity_id
		{0, sevInformational},  // Unknown
		{1, sevInformational},
		{2, sevNotice},
		{3, sevWarning},
		{4, sevError},
		{5, sevCritical},
		{6, sevAlert}, // Fatal
		{7, sevInformational},
		{99, sevInformational}, // Other
	} {
		if got := syslogSeverity(tc.severityID); got != tc.want {
			t.Errorf("syslogSeverity(%d) = %d, want %d", tc.severityID, got, tc.want)
		}
	}
}

func TestReadMeta(t *testing.T) {
	ms := func(n int64) time.Time { return time.UnixMilli(n).UTC() }
	for _, tc := range []struct {
		data     string
		time     time.Time
		severity int
	}{
		{`{"time":1767312000123,"severity_id":4}`, ms(1767312000123), 4},
		{` {"severity_id":6,"time":1.767312000123e12}`, ms(1767312000123), 6},
		{`{}`, time.Time{}, -1},
		{`{"time":"2026-01-02T00:00:00Z","severity_id":"4"}`, time.Time{}, -1},
		{`{"time":null,"severity_id":null}`, time.Time{}, -1},
		{`{"time":-5,"severity_id":2.5}`, time.Time{}, -1},
		{`{"time":0}`, time.Time{}, -1},
		{`{"time":253402300800000}`, time.Time{}, -1}, // year 10000
		{`{"time":99999999999999999999999}`, time.Time{}, -1},
		{`{"nested":{"time":5,"severity_id":5}}`, time.Time{}, -1},
	} {
		m, err := readMeta([]byte(tc.data))
		if err != nil {
			t.Errorf("readMeta(%s): %v", tc.data, err)
			continue
		}
		if !m.time.Equal(tc.time) || m.severityID != tc.severity {
			t.Errorf("readMeta(%s) = time %v severity %d, want %v %d", tc.data, m.time, m.severityID, tc.time, tc.severity)
		}
	}
	for _, bad := range []string{``, ` `, `null`, `[]`, `[{"time":1}]`, `"{}"`, `1`, `{`, `{"a":1,}`, `{} x`} {
		if _, err := readMeta([]byte(bad)); err == nil {
			t.Errorf("readMeta(%q) accepted it", bad)
		}
	}
}

// The frames of a fixed batch, byte for byte.
func TestFramesGolden(t *testing.T) {
	h := header{facility: FacilityLogAudit, hostname: "gw-1", appName: "sluice", procID: "4242"}
	now := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC)
	batch := []export.Item{
		{Seq: 1, Data: record(1)},
		{Seq: 2, Data: []byte("{\n  \"class_uid\": 3002,\n  \"severity_id\": 5\n}")}, // no time: now
		{Seq: 18446744073709551615, Data: []byte(`{"time":1767312000000,"severity_id":99,"unicode":"日本"}`)},
	}
	var frames, scratch []byte
	for _, it := range batch {
		m, err := readMeta(it.Data)
		if err != nil {
			t.Fatal(err)
		}
		if frames, scratch, err = h.appendFrame(frames, scratch, it, m, now); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, '\n') // for the reader of the golden file only
	}
	golden := filepath.Join("testdata", "frames.golden")
	if *update {
		if err := os.WriteFile(golden, frames, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(frames, want) {
		t.Fatalf("frames differ from %s (go test -update rewrites it):\n%s", golden, frames)
	}
	// Each octet count is the length of what follows it.
	for _, line := range strings.Split(strings.TrimSuffix(string(frames), "\n"), "\n") {
		n, msg, _ := strings.Cut(line, " ")
		if n != strconv.Itoa(len(msg)) {
			t.Errorf("count %s for a message of %d bytes", n, len(msg))
		}
	}
}

func TestHeaderFields(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"gw-1.example", 255, "gw-1.example"},
		{"", 255, "-"},
		{"my host\t1", 255, "my_host_1"},
		{"héllo", 255, "h__llo"},
		{"abcdef", 4, "abcd"},
	} {
		if got := headerField(tc.in, tc.max); got != tc.want {
			t.Errorf("headerField(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !validHeaderField(headerField(tc.in, tc.max), tc.max) {
			t.Errorf("headerField(%q) is not valid", tc.in)
		}
	}
	for _, bad := range []string{"", "a b", "é", "a\x7f", strings.Repeat("a", 49)} {
		if validHeaderField(bad, maxAppName) {
			t.Errorf("validHeaderField(%q) = true", bad)
		}
	}
}
