package authn_test

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/authn"
	"github.com/sluicehq/sluice/internal/testkit/issuer"
)

// TestAuthenticateOIDC runs every kind of OIDC token, good and hostile,
// through one authenticator that trusts two issuers: a generic one and one
// configured the way Entra ID needs. A capturing log handler watches the
// whole table, and at the end no log line and no error may contain a token,
// a token's signature or any private key.
func TestAuthenticateOIDC(t *testing.T) {
	clk := newClock()
	watch := &leakWatch{}
	main := issuer.Start(t)
	entra := issuer.Start(t)
	stranger := issuer.Start(t) // a real issuer nobody configured
	for _, i := range []*issuer.Issuer{main, entra, stranger} {
		i.Now = clk.Now
		watch.secret(i.Secrets()...)
	}
	entra.Audience = "api://sluice"

	auth, err := authn.New(authn.Config{
		Issuers: []authn.Issuer{
			{URL: main.URL(), Audiences: []string{"sluice", "sluice-staging"}},
			{
				URL:          entra.URL(),
				Audiences:    []string{"api://sluice"},
				SubjectClaim: "oid",
				GroupsClaims: []string{"groups", "roles"},
				Algorithms:   []string{"RS256"},
			},
		},
		Logger: watch.logger(),
		Now:    clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.Open(t.Context()); err != nil {
		t.Fatal(err)
	}

	exp := t0.Add(issuer.DefaultTTL)
	hashRef := func(tok string) string {
		sum := sha256.Sum256([]byte(tok))
		return "sha256:" + hex.EncodeToString(sum[:8])
	}
	mainID := func(tok string) *sluice.Identity {
		return &sluice.Identity{Subject: issuer.DefaultSubject, Method: sluice.AuthOIDC, Issuer: main.URL(),
			TokenID: hashRef(tok), ExpiresAt: exp}
	}
	const denied = sluice.EUnauthenticated
	const invalid = "token is not valid"

	tests := []struct {
		name  string
		token func() string
		want  func(tok string) *sluice.Identity // nil: an error is expected
		code  string
		msg   string
	}{
		{
			name: "valid token maps every identity field",
			token: func() string {
				return main.Mint(map[string]any{
					"sub": "u-42", "jti": "jti-1", "preferred_username": "alice@example.com", "name": "Alice",
					"groups": []string{"ai-agents", "readers", "ai-agents"}, "azp": "cli-app", "appid": "ignored",
				})
			},
			want: func(string) *sluice.Identity {
				return &sluice.Identity{Subject: "u-42", Name: "alice@example.com", Groups: []string{"ai-agents", "readers"},
					Client: "cli-app", Method: sluice.AuthOIDC, Issuer: main.URL(), TokenID: "jti-1", ExpiresAt: exp}
			},
		},
		{
			name:  "without jti the token id is a hash prefix",
			token: func() string { return main.Mint(nil) },
			want:  mainID,
		},
		{
			name:  "groups claim as a single string",
			token: func() string { return main.Mint(map[string]any{"groups": "solo", "name": "Bot"}) },
			want: func(tok string) *sluice.Identity {
				id := mainID(tok)
				id.Groups, id.Name = []string{"solo"}, "Bot"
				return id
			},
		},
		{name: "ES256", token: func() string { return main.Mint(nil, issuer.WithAlg("ES256")) }, want: mainID},
		{name: "PS256", token: func() string { return main.Mint(nil, issuer.WithAlg("PS256")) }, want: mainID},
		{name: "EdDSA", token: func() string { return main.Mint(nil, issuer.WithAlg("EdDSA")) }, want: mainID},
		{name: "alg none", token: func() string { return main.NoneToken(nil) }, code: denied, msg: invalid},
		{
			name:  "alg none with a signature segment",
			token: func() string { return main.NoneToken(nil) + "c2ln" },
			code:  denied, msg: invalid,
		},
		{name: "HS256 signed with the RSA public key", token: func() string { return main.HS256WithPublicKey(nil) }, code: denied, msg: invalid},
		{
			name:  "expired",
			token: func() string { return main.Mint(map[string]any{"exp": t0.Add(-31 * time.Second).Unix()}) },
			code:  denied, msg: "token expired",
		},
		{
			name:  "expired exactly at the leeway edge",
			token: func() string { return main.Mint(map[string]any{"exp": t0.Add(-30 * time.Second).Unix()}) },
			code:  denied, msg: "token expired",
		},
		{
			name:  "expired but within leeway",
			token: func() string { return main.Mint(map[string]any{"exp": t0.Add(-20 * time.Second).Unix()}) },
			want: func(tok string) *sluice.Identity {
				id := mainID(tok)
				id.ExpiresAt = t0.Add(-20 * time.Second)
				return id
			},
		},
		{
			name:  "not yet valid",
			token: func() string { return main.Mint(map[string]any{"nbf": t0.Add(2 * time.Minute).Unix()}) },
			code:  denied, msg: "token is not valid yet",
		},
		{
			name:  "nbf within leeway",
			token: func() string { return main.Mint(map[string]any{"nbf": t0.Add(20 * time.Second).Unix()}) },
			want:  mainID,
		},
		{
			name:  "iat in the future is not a reason to refuse",
			token: func() string { return main.Mint(map[string]any{"iat": t0.Add(10 * time.Minute).Unix()}) },
			want:  mainID,
		},
		{name: "missing exp", token: func() string { return main.Mint(map[string]any{"exp": nil}) }, code: denied, msg: invalid},
		{name: "exp as a string", token: func() string { return main.Mint(map[string]any{"exp": "tomorrow"}) }, code: denied, msg: invalid},
		{
			name:  "wrong issuer",
			token: func() string { return main.Mint(map[string]any{"iss": "https://evil.example"}) },
			code:  denied, msg: "unknown token issuer",
		},
		{
			name:  "issuer that is not configured",
			token: func() string { return stranger.Mint(nil) },
			code:  denied, msg: "unknown token issuer",
		},
		{
			name:  "issuer differing only by a trailing slash",
			token: func() string { return main.Mint(map[string]any{"iss": main.URL() + "/"}) },
			code:  denied, msg: "unknown token issuer",
		},
		{
			name:  "token from another issuer claiming this issuer",
			token: func() string { return stranger.Mint(map[string]any{"iss": main.URL()}) },
			code:  denied, msg: invalid,
		},
		{
			name:  "wrong audience string",
			token: func() string { return main.Mint(map[string]any{"aud": "graph"}) },
			code:  denied, msg: "token audience is not accepted",
		},
		{
			name:  "wrong audience array",
			token: func() string { return main.Mint(map[string]any{"aud": []string{"graph", "other"}}) },
			code:  denied, msg: "token audience is not accepted",
		},
		{
			name:  "audience array containing an accepted one",
			token: func() string { return main.Mint(map[string]any{"aud": []string{"graph", "sluice-staging"}}) },
			want:  mainID,
		},
		{
			name:  "missing audience",
			token: func() string { return main.Mint(map[string]any{"aud": nil}) },
			code:  denied, msg: "token audience is not accepted",
		},
		{name: "unknown kid", token: func() string { return main.UnknownKidToken(nil) }, code: denied, msg: invalid},
		{
			name:  "kid of the EC key on an RS256 token",
			token: func() string { return main.Mint(nil, issuer.WithKeyID(main.KeyID("ES256"))) },
			code:  denied, msg: invalid,
		},
		{
			name: "tampered payload",
			token: func() string {
				return issuer.Tamper(main.Mint(nil), func(c map[string]any) { c["sub"] = "admin" })
			},
			code: denied, msg: invalid,
		},
		{
			name: "tampered groups",
			token: func() string {
				return issuer.Tamper(main.Mint(map[string]any{"groups": []string{"readers"}}),
					func(c map[string]any) { c["groups"] = []string{"dba"} })
			},
			code: denied, msg: invalid,
		},
		{name: "missing subject", token: func() string { return main.Mint(map[string]any{"sub": nil}) }, code: denied, msg: invalid},
		{name: "empty subject", token: func() string { return main.Mint(map[string]any{"sub": ""}) }, code: denied, msg: invalid},
		{name: "numeric subject", token: func() string { return main.Mint(map[string]any{"sub": 42}) }, code: denied, msg: invalid},
		{
			name: "Entra claims: oid, groups + roles, appid",
			token: func() string {
				return entra.Mint(map[string]any{
					"sub": "pairwise-sub", "oid": "00000000-0000-0000-0000-0000000000aa", "uti": "x",
					"groups": []string{"g-agents", "g-shared"}, "roles": []string{"Sluice.Reader", "g-shared"},
					"appid": "11111111-2222-3333-4444-555555555555", "name": "Build Agent", "upn": "agent@contoso.com",
				})
			},
			want: func(tok string) *sluice.Identity {
				return &sluice.Identity{Subject: "00000000-0000-0000-0000-0000000000aa", Name: "Build Agent",
					Groups: []string{"g-agents", "g-shared", "Sluice.Reader"}, Client: "11111111-2222-3333-4444-555555555555",
					Method: sluice.AuthOIDC, Issuer: entra.URL(), TokenID: hashRef(tok), ExpiresAt: exp}
			},
		},
		{
			name: "Entra service principal: roles only, azp before appid, upn as name",
			token: func() string {
				return entra.Mint(map[string]any{"oid": "sp-1", "roles": "Sluice.Writer", "azp": "azp-app", "appid": "v1-app", "upn": "sp@contoso.com"})
			},
			want: func(tok string) *sluice.Identity {
				return &sluice.Identity{Subject: "sp-1", Name: "sp@contoso.com", Groups: []string{"Sluice.Writer"}, Client: "azp-app",
					Method: sluice.AuthOIDC, Issuer: entra.URL(), TokenID: hashRef(tok), ExpiresAt: exp}
			},
		},
		{
			name:  "Entra token without oid",
			token: func() string { return entra.Mint(map[string]any{"sub": "has-sub-only"}) },
			code:  denied, msg: invalid,
		},
		{
			name:  "algorithm outside the issuer's allow-list",
			token: func() string { return entra.Mint(map[string]any{"oid": "x"}, issuer.WithAlg("ES256")) },
			code:  denied, msg: invalid,
		},
		{name: "empty token", token: func() string { return "" }, code: denied, msg: "no token"},
		{name: "garbage", token: func() string { return "not-a-jwt" }, code: denied, msg: invalid},
		{name: "three empty segments", token: func() string { return ".." }, code: denied, msg: invalid},
		{
			name: "JWS JSON serialization",
			token: func() string {
				p := strings.Split(main.Mint(nil), ".")
				return `{"protected":"` + p[0] + `","payload":"` + p[1] + `","signature":"` + p[2] + `"}`
			},
			code: denied, msg: invalid,
		},
		{
			name:  "oversized token",
			token: func() string { return main.Mint(map[string]any{"pad": strings.Repeat("x", authn.MaxTokenBytes)}) },
			code:  denied, msg: invalid,
		},
		{
			name:  "service token while service tokens are disabled",
			token: func() string { return authn.ServiceTokenPrefix + main.Mint(nil) },
			code:  denied, msg: "service tokens are not enabled",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := watch.token(tt.token())
			id, err := auth.Authenticate(t.Context(), tok)
			watch.err(err)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("accepted, identity %+v", id)
				}
				wantErr(t, err, tt.code, tt.msg)
				t.Logf("cause: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if want := tt.want(tok); !reflect.DeepEqual(id, want) {
				t.Fatalf("identity\n got %+v\nwant %+v", id, want)
			}
		})
	}
	// The table ran at a fixed time after Open: the unknown and foreign key
	// ids must not have caused a single extra key set fetch.
	if n := main.JWKSFetches(); n != 1 {
		t.Errorf("main issuer key set fetched %d times, want 1 (at Open)", n)
	}
	watch.check(t)
}
