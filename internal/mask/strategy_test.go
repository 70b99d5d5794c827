package mask

import (
	"bytes"
	"net/mail"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func engineWith(t testing.TB, strategy string, key []byte) *Engine {
	t.Helper()
	e, err := New(Config{Sets: []string{"pii", "secrets"}, Strategy: strategy, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPartial(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"4111-1111-1111-1111", "****-****-****-1111"},
		{"4111 1111 1111 1111", "**** **** **** 1111"},
		{"+1 415 555 2671", "+* *** *** 2671"},
		{"123-45-6789", "***-**-6789"},
		{"ann.lee@example.com", "***.***@******e.com"},
		{"abcdefgh", "****efgh"},
		{"abcdef", "****ef"},
		{"abc", "***"},
		{"", ""},
		{"Zoë Müller", "*** **ller"},
		{"--", "--"},
	} {
		if got := string(partial(nil, []byte(tc.in))); got != tc.out {
			t.Errorf("partial(%q) = %q, want %q", tc.in, got, tc.out)
		}
	}
}

func TestPartialInText(t *testing.T) {
	e := engineWith(t, "partial", nil)
	in := "card 4111-1111-1111-1111, ssn 123-45-6789, mail ann.lee@example.com, key AKIAIOSFODNN7EXAMPLE"
	want := "card ****-****-****-1111, ssn ***-**-6789, mail ***.***@******e.com, key ****************MPLE"
	if got := string(e.Text(nil, []byte(in), nil)); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

var hashRE = regexp.MustCompile(`^h:[0-9a-f]{12}$`)

func TestHash(t *testing.T) {
	e1 := engineWith(t, "hash", testKey)
	e2 := engineWith(t, "hash", []byte("another key, 16+ bytes long"))
	in := []byte("mail ann@example.com and ann@example.com, bob@example.com")
	out1 := string(e1.Text(nil, in, nil))
	out1b := string(e1.Text(nil, in, nil))
	out2 := string(e2.Text(nil, in, nil))
	if out1 != out1b {
		t.Fatalf("not deterministic: %q vs %q", out1, out1b)
	}
	f := strings.Fields(strings.NewReplacer(",", "").Replace(out1))
	if !hashRE.MatchString(f[1]) || f[1] != f[3] || f[1] == f[4] {
		t.Fatalf("hashes %q: want equal values to hash equal and others not", out1)
	}
	if out1 == out2 {
		t.Fatalf("hash does not depend on the key: %q", out1)
	}
	// A column rule hashes the same way as a detector hit: joins line up.
	m, err := New(Config{Columns: []ColumnRule{{Pattern: "*.email", Strategy: "hash"}}, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Column("users", "email").Value(nil, OIDText, FormatText, []byte("ann@example.com"), nil)
	if err != nil || string(v) != f[1] {
		t.Fatalf("column hash %q (%v), text hash %q", v, err, f[1])
	}
}

func TestKeyRequired(t *testing.T) {
	for _, cfg := range []Config{
		{Sets: []string{"pii"}, Strategy: "hash"},
		{Sets: []string{"pii"}, Strategy: "fake", Key: []byte("short")},
		{Columns: []ColumnRule{{Pattern: "email", Strategy: "fake"}}},
		{JSONPaths: []PathRule{{Path: "$.a", Strategy: "hash"}}},
		{Custom: []CustomDetector{{Name: "x", Pattern: "x+", Strategy: "hash"}}},
	} {
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "key") {
			t.Errorf("New(%+v) = %v, want a key error", cfg, err)
		}
	}
}

func luhnString(s string) bool {
	var d []byte
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			d = append(d, s[i])
		}
	}
	return luhnValid(d)
}

// sameLayout reports whether a and b have the same length and the same
// non-digit bytes in the same places.
func sameLayout(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if isDigit(a[i]) != isDigit(b[i]) || !isDigit(a[i]) && a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFake(t *testing.T) {
	e := engineWith(t, "fake", testKey)
	fake := func(k kind, v string) string { return string(e.fake(nil, k, []byte(v))) }

	t.Run("email", func(t *testing.T) {
		got := fake(kEmail, "ann.lee@example.com")
		a, err := mail.ParseAddress(got)
		if err != nil || !strings.HasSuffix(a.Address, "@example.invalid") {
			t.Fatalf("fake email %q: %v", got, err)
		}
		if got != fake(kEmail, "ann.lee@example.com") || got == fake(kEmail, "bob@example.com") {
			t.Fatalf("fake email not deterministic per value")
		}
	})
	t.Run("card", func(t *testing.T) {
		for _, in := range []string{"4111-1111-1111-1111", "4111111111111111", "3782 822463 10005", "30569309025904"} {
			got := fake(kCard, in)
			if !luhnString(got) || !sameLayout(in, got) || got[0] != in[0] || got == in {
				t.Errorf("fake card %q -> %q: want Luhn-valid, same layout and network", in, got)
			}
		}
	})
	t.Run("phone", func(t *testing.T) {
		for _, in := range []string{"+1 415 555 2671", "(415) 555-2671", "020 7946 0958"} {
			if got := fake(kPhone, in); !sameLayout(in, got) || got == in {
				t.Errorf("fake phone %q -> %q: want same format", in, got)
			}
		}
	})
	t.Run("ssn", func(t *testing.T) {
		for _, in := range []string{"123-45-6789", "123 45 6789"} {
			got := fake(kSSN, in)
			if !sameLayout(in, got) || got[0] != '9' {
				t.Errorf("fake ssn %q -> %q: want same format in the 9xx area", in, got)
			}
			// The detectors never report a 9xx SSN.
			if c := e.detect([]byte(got), nil); c != 0 {
				t.Errorf("fake ssn %q is detected again", got)
			}
		}
	})
	t.Run("ip", func(t *testing.T) {
		doc := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"),
			netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")}
		for _, in := range []string{"10.1.2.3", "2001:4860:4860::8888"} {
			got := fake(kIP, in)
			a, err := netip.ParseAddr(got)
			if err != nil || a.Is4() != strings.Contains(in, ".") {
				t.Fatalf("fake ip %q -> %q: %v", in, got, err)
			}
			in := false
			for _, p := range doc {
				in = in || p.Contains(a)
			}
			if !in {
				t.Errorf("fake ip %q not in a documentation range", got)
			}
		}
	})
	t.Run("iban", func(t *testing.T) {
		for _, in := range []string{"DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"} {
			got := fake(kIBAN, in)
			compact := strings.ReplaceAll(got, " ", "")
			if len(got) != len(in) || got[:2] != in[:2] || ibanMod97([]byte(compact)) != 1 || got == in {
				t.Errorf("fake iban %q -> %q: want same country and layout, valid checksum", in, got)
			}
		}
	})
	t.Run("tokens keep their prefix", func(t *testing.T) {
		for _, tc := range []struct {
			k      kind
			in, pf string
		}{
			{kGitHub, ghpToken, "ghp_"},
			{kAWSKeyID, "AKIAIOSFODNN7EXAMPLE", "AKIA"},
			{kStripe, "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_"},
			{kSlack, "xoxb-123456789012-abcdefABCDEF", "xoxb-"},
		} {
			got := fake(tc.k, tc.in)
			if !strings.HasPrefix(got, tc.pf) || len(got) != len(tc.in) || got == tc.in {
				t.Errorf("fake %s %q -> %q", kindNames[tc.k], tc.in, got)
			}
		}
	})
	t.Run("uuid", func(t *testing.T) {
		got := string(e.maskWhole(nil, Fake, []byte("550e8400-e29b-41d4-a716-446655440000")))
		u, ok := parseUUID([]byte(got))
		if !ok || len(got) != 36 || u[6]>>4 != 4 || u[8]>>6 != 2 {
			t.Fatalf("fake uuid %q", got)
		}
	})
	t.Run("generic keeps classes", func(t *testing.T) {
		in := "Ab-12 zÿ!"
		got := string(e.maskWhole(nil, Fake, []byte(in)))
		if !utf8.ValidString(got) || len(got) != len(in)-1 || got[2] != '-' || !isUpper(got[0]) || !isDigit(got[3]) || got[len(got)-1] != '!' {
			t.Fatalf("generic fake %q -> %q", in, got)
		}
	})
	t.Run("whole value keeps its kind", func(t *testing.T) {
		got := e.maskWhole(nil, Fake, []byte("4111 1111 1111 1111"))
		if !luhnString(string(got)) || !bytes.Equal(got[4:5], []byte(" ")) {
			t.Fatalf("column fake of a card %q", got)
		}
	})
}

// TestTextAllocs checks that masking allocates nothing once dst is large
// enough, whether or not anything matches.
func TestTextAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are meaningful without -race only")
	}
	src := []byte("order 1234 shipped to ann@example.com, card 4111-1111-1111-1111, key AKIAIOSFODNN7EXAMPLE, ip 10.1.2.3")
	clean := []byte("order 1234 shipped on 2024-01-15 10:30:45 to the front desk, version 1.2.3.4, total 99.95 EUR")
	dst := make([]byte, 0, 1024)
	for _, st := range []string{"redact", "partial", "hash", "fake"} {
		e := engineWith(t, st, testKey)
		var c Counts
		for name, in := range map[string][]byte{"hits": src, "clean": clean} {
			if n := testing.AllocsPerRun(200, func() { dst = e.Text(dst[:0], in, &c) }); n > 0 {
				t.Errorf("%s, %s: %.1f allocations per Text", st, name, n)
			}
		}
		cleanText := string(clean)
		if n := testing.AllocsPerRun(200, func() { _ = e.String(cleanText) }); n > 0 {
			t.Errorf("%s: %.1f allocations per String of clean text", st, n)
		}
		m := e.Column("t", "note")
		if n := testing.AllocsPerRun(200, func() { dst, _ = m.Value(dst[:0], OIDText, FormatText, src, &c) }); n > 0 {
			t.Errorf("%s: %.1f allocations per Value", st, n)
		}
	}
}
