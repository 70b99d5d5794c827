package authn_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/authn"
	"github.com/sluicehq/sluice/internal/testkit/issuer"
)

// fuzzIssuerURL is the issuer the fuzz authenticator trusts. It is fixed
// (its keys come from a local test issuer through JWKSURL) so that the seed
// tokens in testdata/fuzz name it in iss and reach signature checking.
const fuzzIssuerURL = "https://issuer.fuzz.example"

// FuzzAuthenticate feeds arbitrary strings to an authenticator that trusts an
// OIDC issuer and has service tokens enabled. Nothing may panic, nothing may
// be accepted (the fuzzer cannot forge a signature), every failure must be
// EUnauthenticated, and no error may repeat the token.
func FuzzAuthenticate(f *testing.F) {
	clk := newClock()
	iss := issuer.Start(f)
	st := authn.NewServiceTokens(f.TempDir(), newMemStore())
	st.Now = clk.Now
	auth, err := authn.New(authn.Config{
		Issuers: []authn.Issuer{{
			URL: fuzzIssuerURL, JWKSURL: iss.JWKSURL(), Audiences: []string{"sluice"},
			SubjectClaim: "oid", GroupsClaims: []string{"groups", "roles"},
		}},
		ServiceTokens: st,
		Logger:        (&leakWatch{}).logger(),
		Now:           clk.Now,
	})
	if err != nil {
		f.Fatal(err)
	}
	if err := auth.Open(f.Context()); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", " ", "a.b.c", "..", authn.ServiceTokenPrefix, authn.ServiceTokenPrefix + "a.b.c", "Bearer x.y.z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := auth.Authenticate(t.Context(), tok)
		if err == nil {
			t.Fatalf("accepted a fuzzed token: %+v", id)
		}
		if code := sluice.ErrorCode(err); code != sluice.EUnauthenticated {
			t.Fatalf("code %s (%v), want %s", code, err, sluice.EUnauthenticated)
		}
		if len(tok) >= 32 && strings.Contains(err.Error(), tok) {
			t.Fatalf("the error repeats the token")
		}
	})
}
