package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const consoleBase = `
auth:
  oidc:
    - {issuer: "https://login.example.com/t/v2.0", audience: api://sluice, preset: entra}
`

func TestConsoleDefaults(t *testing.T) {
	cfg, ps := Parse([]byte(consoleBase), "/etc/sluice", testSource(nil, nil))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if cfg.Console.SessionTTL.D() != 8*time.Hour || cfg.Console.IdleTimeout.D() != 30*time.Minute || cfg.Console.OIDC.Enabled() || cfg.Console.DevLogin || cfg.Console.OIDC.Scopes != nil {
		t.Fatalf("defaults: %+v", cfg.Console)
	}
	cfg, ps = Parse([]byte(consoleBase+`
console:
  url: https://sluice.example.com:8433
  session_ttl: 1h
  oidc:
    issuer: "https://login.example.com/t/v2.0"
    client_id: console-app
    client_secret: "${CONSOLE_SECRET}"
    redirect_url: https://sluice.example.com:8433/console/callback
`), "/etc/sluice", testSource(map[string]string{"CONSOLE_SECRET": "hunter2"}, nil))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	o := cfg.Console.OIDC
	if !o.Enabled() || o.ClientSecret.Value() != "hunter2" || !slices.Equal(o.Scopes, []string{"openid", "profile", "email"}) ||
		cfg.Console.SessionTTL.D() != time.Hour {
		t.Fatalf("set: %+v", cfg.Console)
	}
	// Claims come from auth.oidc for the same issuer (preset entra: oid).
	if sub, groups, _ := cfg.ConsoleClaims(); sub != "oid" || !slices.Equal(groups, []string{"groups", "roles"}) {
		t.Fatalf("claims %q %v", sub, groups)
	}
	// The client secret is a secret: file: references resolve, and it is
	// never printed.
	cfg, ps = Parse([]byte(consoleBase+`
console: {oidc: {issuer: "http://127.0.0.1:9000", client_id: c, client_secret: "file:secret", redirect_url: "http://127.0.0.1:8433/console/callback", preset: entra}}
`), "/etc/sluice", testSource(nil, map[string]string{"/etc/sluice/secret": "from-file\n"}))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if cfg.Console.OIDC.ClientSecret.Value() != "from-file" || strings.Contains(cfg.Console.OIDC.ClientSecret.String(), "from-file") {
		t.Fatalf("secret %v", cfg.Console.OIDC.ClientSecret)
	}
	if sub, groups, _ := cfg.ConsoleClaims(); sub != "oid" || !slices.Equal(groups, []string{"groups", "roles"}) {
		t.Fatalf("console's own claims %q %v", sub, groups)
	}
}

func TestConsoleValidation(t *testing.T) {
	cases := []struct {
		yaml string
		keys []string
	}{
		{`console: {dev_login: true}`, nil}, // the default listener is loopback
		{"listen: {http: \"0.0.0.0:8433\"}\nconsole: {dev_login: true}", []string{"console.dev_login"}},
		{"listen: {http: \":8433\"}\nconsole: {dev_login: true}", []string{"console.dev_login"}},
		{"listen: {http: \"10.1.2.3:8433\"}\nconsole: {dev_login: true}", []string{"console.dev_login"}},
		{"listen: {http: \"localhost:8433\"}\nconsole: {dev_login: true}", nil},
		{"listen: {http: \"[::1]:8433\"}\nconsole: {dev_login: true}", nil},
		{"listen: {postgres: \"127.0.0.1:5433\"}\nconsole: {dev_login: true}", []string{"console.dev_login"}},
		{`console: {session_ttl: 1m}`, []string{"console.session_ttl"}},
		{`console: {session_ttl: 48h}`, []string{"console.session_ttl"}},
		{`console: {idle_timeout: 30s}`, []string{"console.idle_timeout"}},
		{`console: {idle_timeout: 9h}`, []string{"console.idle_timeout"}},
		{`console: {session_ttl: 1h, idle_timeout: 2h}`, []string{"console.idle_timeout"}},
		{`console: {session_ttl: 10m}`, nil}, // the idle timeout defaults to at most the TTL
		{`console: {idle_timeout: 2h}`, nil},
		{`console: {url: "sluice.example.com"}`, []string{"console.url"}},
		{`console: {oidc: {client_id: x}}`, []string{"console.oidc.issuer"}},
		{`console: {oidc: {issuer: "http://idp.example.com", redirect_url: "https://s/console/callback"}}`,
			[]string{"console.oidc.issuer", "console.oidc.client_id"}},
		{`console: {oidc: {issuer: "https://idp.example.com", client_id: c}}`, []string{"console.oidc.redirect_url"}},
		{`console: {oidc: {issuer: "https://idp.example.com", client_id: c, redirect_url: "http://sluice.example.com/console/callback"}}`,
			[]string{"console.oidc.redirect_url"}},
		{`console: {oidc: {issuer: "https://idp.example.com", client_id: c, redirect_url: "https://s/cb", scopes: [profile]}}`,
			[]string{"console.oidc.scopes"}},
		{`console: {oidc: {issuer: "https://login.example.com/t/v2.0", client_id: c, redirect_url: "https://s/cb", subject_claim: email}}`,
			[]string{"console.oidc"}},
		{`console: {oidc: {issuer: "https://idp.example.com", client_id: c, redirect_url: "https://s/cb", preset: okta}}`,
			[]string{"console.oidc.preset"}},
		{`console: {oidc: {issuer: "https://idp.example.com", client_id: c, redirect_url: "https://s/cb", secret: x}}`,
			[]string{"console.oidc.secret"}},
	}
	for _, c := range cases {
		_, ps := Parse([]byte(consoleBase+c.yaml), "/etc/sluice", testSource(nil, nil))
		var keys []string
		for _, p := range ps {
			keys = append(keys, p.Key)
		}
		if !slices.Equal(keys, c.keys) {
			t.Errorf("%s: problems %v, want keys %v", c.yaml, ps, c.keys)
		}
	}
}
