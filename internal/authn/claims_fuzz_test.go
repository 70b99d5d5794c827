package authn

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// FuzzClaims fuzzes the claim decoders that run on verified payloads, which
// FuzzAuthenticate cannot reach without a valid signature: time claims must
// decode to years 1970..9999 or fail, and the string and list accessors must
// return only non-empty, distinct strings.
func FuzzClaims(f *testing.F) {
	for _, s := range []string{
		`{"exp":1893557045,"nbf":1.5,"aud":"sluice","groups":["a","b","a"],"roles":"r"}`,
		`{"exp":"1893557045","aud":["x",1]}`,
		`{"exp":1e300,"nbf":-1,"iat":null}`,
		`{"groups":[1,null,{"a":"b"},["c"],""],"sub":""}`,
		`{"aud":{"a":1},"jti":7}`,
		`[]`, `null`, `{"exp":NaN}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, payload []byte) {
		var reg registered
		if json.Unmarshal(payload, &reg) == nil {
			for _, d := range []*numericDate{reg.Expiry, reg.NotBefore, reg.IssuedAt} {
				if d != nil && (d.Year() < 1970 || d.Year() > 9999) {
					t.Fatalf("time claim decoded to %v", d.Time)
				}
			}
			_ = checkTimes(&reg, now, DefaultLeeway)
		}
		var c claims
		if json.Unmarshal(payload, &c) != nil {
			return
		}
		names := []string{"groups", "roles", "sub", "aud"}
		got := c.union(names)
		for i, s := range got {
			if s == "" || slices.Contains(got[:i], s) {
				t.Fatalf("union returned %q", got)
			}
		}
		if s := c.first(names); s != "" && !slices.ContainsFunc(names, func(n string) bool { v, _ := c.str(n); return v == s }) {
			t.Fatalf("first returned %q, which no claim holds", s)
		}
	})
}
