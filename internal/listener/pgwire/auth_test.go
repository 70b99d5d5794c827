package pgwire_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/testkit/issuer"
)

// TestTokenTable presents every kind of token through the PostgreSQL front
// door and checks what the client is told.
func TestTokenTable(t *testing.T) {
	iss := issuer.Start(t)
	e := newEnv(t, withIssuer(iss))
	now := time.Now()
	agent := map[string]any{"groups": []string{"agents"}}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{"groups": []string{"agents"}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	revoked, rec, err := e.tokens.Issue(context.Background(), "retired-bot", []string{"agents"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.tokens.Revoke(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		token func() string
		code  string // "" means the session opens
		msg   string // part of the error message
	}{
		{"valid OIDC token", func() string { return iss.Mint(agent) }, "", ""},
		{"valid ES256 token", func() string { return iss.Mint(agent, issuer.WithAlg("ES256")) }, "", ""},
		{"valid service token", func() string { return e.token("bot", "agents") }, "", ""},
		{"alg none", func() string { return iss.NoneToken(agent) }, "28P01", "token"},
		{"HS256 signed with the RSA public key", func() string { return iss.HS256WithPublicKey(agent) }, "28P01", "token"},
		{"expired", func() string { return iss.Mint(with(map[string]any{"exp": now.Add(-5 * time.Minute).Unix()})) }, "28P01", "expired"},
		{"not yet valid", func() string { return iss.Mint(with(map[string]any{"nbf": now.Add(5 * time.Minute).Unix()})) }, "28P01", "token"},
		{"wrong issuer", func() string { return iss.Mint(with(map[string]any{"iss": "https://evil.example.com"})) }, "28P01", "issuer"},
		{"wrong audience (string)", func() string { return iss.Mint(with(map[string]any{"aud": "someone-else"})) }, "28P01", "token"},
		{"wrong audience (array)", func() string { return iss.Mint(with(map[string]any{"aud": []string{"a", "b"}})) }, "28P01", "token"},
		{"right audience in an array", func() string { return iss.Mint(with(map[string]any{"aud": []string{"a", "sluice"}})) }, "", ""},
		{"unknown kid", func() string { return iss.UnknownKidToken(agent) }, "28P01", "token"},
		{"tampered payload", func() string {
			return issuer.Tamper(iss.Mint(map[string]any{"groups": []string{"interns"}}), func(c map[string]any) { c["groups"] = []string{"agents"} })
		}, "28P01", "token"},
		{"subject without a grant", func() string { return iss.Mint(map[string]any{"groups": []string{"interns"}}) }, "42501", "has no grant"},
		{"revoked service token", func() string { return revoked }, "28P01", "revoked"},
		{"empty password", func() string { return "" }, "28P01", "no token"},
		{"garbage", func() string { return "not-a-token" }, "28P01", "token"},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token()
			c, err := pgx.Connect(ctx, e.dsn("app", tok, "require"))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				defer c.Close(ctx)
				var n int
				if err := c.QueryRow(ctx, "select 1").Scan(&n); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				c.Close(ctx)
				t.Fatalf("connected; want SQLSTATE %s", tc.code)
			}
			if pgCode(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v; want SQLSTATE %s mentioning %q", err, tc.code, tc.msg)
			}
			if tok != "" && strings.Contains(err.Error(), tok) {
				t.Fatal("the error echoes the token")
			}
		})
	}

	t.Run("key rotation", func(t *testing.T) {
		iss.Rotate()
		c, err := pgx.Connect(ctx, e.dsn("app", iss.Mint(agent), "require"))
		if err != nil {
			t.Fatalf("token signed with the new key: %v", err)
		}
		c.Close(ctx)
	})

	t.Run("unknown connection", func(t *testing.T) {
		_, err := pgx.Connect(ctx, e.dsn("nope", iss.Mint(agent), "require"))
		if pgCode(err) != "3D000" || !strings.Contains(err.Error(), `connection "nope" does not exist`) {
			t.Fatalf("err = %v", err)
		}
	})

	logs := e.logs.String()
	for _, s := range append(iss.Secrets(), revoked) {
		if strings.Contains(logs, s) {
			t.Fatalf("the gateway log holds a secret or token: %q", s[:min(len(s), 20)])
		}
	}
}

// TestSourceRestriction checks a grant limited to source addresses.
func TestSourceRestriction(t *testing.T) {
	e := newEnv(t, withPolicies(
		configPolicy("office", "group:agents", "10.0.0.0/8"),
		configPolicy("local", "group:local", "127.0.0.1/32"),
	))
	ctx := context.Background()
	_, err := pgx.Connect(ctx, e.dsn("app", e.token("remote-bot", "agents"), "require"))
	if pgCode(err) != "42501" || !strings.Contains(err.Error(), "from 127.0.0.1") {
		t.Fatalf("agents from loopback: %v", err)
	}
	c, err := pgx.Connect(ctx, e.dsn("app", e.token("local-bot", "local"), "require"))
	if err != nil {
		t.Fatalf("local group from loopback: %v", err)
	}
	c.Close(ctx)
}
