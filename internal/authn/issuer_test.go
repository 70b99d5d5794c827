package authn_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/authn"
)

func TestIssuerValidate(t *testing.T) {
	ok := func(c *authn.Issuer) {}
	tests := []struct {
		name    string
		url     string
		edit    func(*authn.Issuer)
		wantErr string // "" for valid
	}{
		{"https", "https://login.microsoftonline.com/tenant/v2.0", ok, ""},
		{"https with port and trailing slash", "https://idp.example:8443/realms/x/", ok, ""},
		{"http on 127.0.0.1", "http://127.0.0.1:8080", ok, ""},
		{"http on another 127/8 address", "http://127.9.8.7", ok, ""},
		{"http on ::1", "http://[::1]:9000/issuer", ok, ""},
		{"http on localhost", "http://localhost:5556/dex", ok, ""},
		{"http on LOCALHOST", "http://LOCALHOST", ok, ""},
		{"http on a public host", "http://idp.example", ok, "must use https"},
		{"http on a private address", "http://10.0.0.1", ok, "must use https"},
		{"http on 0.0.0.0", "http://0.0.0.0", ok, "must use https"},
		{"http on a host that starts with localhost", "http://localhost.evil.example", ok, "must use https"},
		{"http on a host that starts with 127", "http://127.0.0.1.nip.io", ok, "must use https"},
		{"other scheme", "ftp://idp.example", ok, "is not https"},
		{"relative", "/issuer", ok, "absolute"},
		{"empty", "", ok, "issuer url is required"},
		{"user info", "https://user:pw@idp.example", ok, "user info"},
		{"query", "https://idp.example/?tenant=x", ok, "query or fragment"},
		{"no audience", "https://idp.example", func(c *authn.Issuer) { c.Audiences = nil }, "at least one audience"},
		{"empty audience", "https://idp.example", func(c *authn.Issuer) { c.Audiences = []string{""} }, "empty audience"},
		{"leeway at the maximum", "https://idp.example", func(c *authn.Issuer) { c.Leeway = 60 * time.Second }, ""},
		{"leeway over 60 s", "https://idp.example", func(c *authn.Issuer) { c.Leeway = 61 * time.Second }, "larger than the maximum"},
		{"negative leeway", "https://idp.example", func(c *authn.Issuer) { c.Leeway = -time.Second }, "negative"},
		{"negative min refresh", "https://idp.example", func(c *authn.Issuer) { c.MinRefresh = -time.Second }, "negative"},
		{"alg none", "https://idp.example", func(c *authn.Issuer) { c.Algorithms = []string{"RS256", "none"} }, `"none" is not allowed`},
		{"alg HS256", "https://idp.example", func(c *authn.Issuer) { c.Algorithms = []string{"HS256"} }, `"HS256" is not allowed`},
		{"alg ES256 only", "https://idp.example", func(c *authn.Issuer) { c.Algorithms = []string{"ES256"} }, ""},
		{"https jwks url", "https://idp.example", func(c *authn.Issuer) { c.JWKSURL = "https://keys.idp.example/jwks" }, ""},
		{"http jwks url", "https://idp.example", func(c *authn.Issuer) { c.JWKSURL = "http://keys.idp.example/jwks" }, "jwks url: url must use https"},
		{"claim name with spaces", "https://idp.example", func(c *authn.Issuer) { c.SubjectClaim = " oid" }, "surrounding spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := authn.Issuer{URL: tt.url, Audiences: []string{"sluice"}}
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	good := authn.Issuer{URL: "https://idp.example", Audiences: []string{"sluice"}}
	tests := []struct {
		name    string
		cfg     authn.Config
		wantErr string
	}{
		{"no issuers, no service tokens", authn.Config{}, ""},
		{"one issuer", authn.Config{Issuers: []authn.Issuer{good}}, ""},
		{"duplicate issuer", authn.Config{Issuers: []authn.Issuer{good, good}}, "configured twice"},
		{"plain http issuer", authn.Config{Issuers: []authn.Issuer{{URL: "http://idp.example", Audiences: []string{"a"}}}}, "must use https"},
		{"issuer leeway over 60 s", authn.Config{Issuers: []authn.Issuer{{URL: "https://idp.example", Audiences: []string{"a"}, Leeway: 2 * time.Minute}}}, "larger than the maximum"},
		{"service token leeway over 60 s", authn.Config{ServiceTokens: &authn.ServiceTokens{DataDir: "x", Store: newMemStore(), Leeway: 90 * time.Second}}, "larger than the maximum"},
		{"service tokens without a store", authn.Config{ServiceTokens: &authn.ServiceTokens{DataDir: "x"}}, "store is required"},
		{"service tokens without a data dir", authn.Config{ServiceTokens: &authn.ServiceTokens{Store: newMemStore()}}, "data directory is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := authn.New(tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
