package issuer_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sluicehq/sluice/internal/testkit/issuer"
)

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func segment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssuer(t *testing.T) {
	iss := issuer.Start(t)
	if !strings.HasPrefix(iss.URL(), "http://127.0.0.1:") {
		t.Fatalf("issuer URL %q is not on 127.0.0.1", iss.URL())
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, iss.URL()+"/.well-known/openid-configuration", &doc)
	if doc.Issuer != iss.URL() || doc.JWKSURI != iss.JWKSURL() {
		t.Fatalf("discovery %+v", doc)
	}
	var set jose.JSONWebKeySet
	getJSON(t, iss.JWKSURL(), &set)
	if len(set.Keys) != 3 {
		t.Fatalf("key set has %d keys, want rsa, ec and ed25519", len(set.Keys))
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatalf("key %s is not public", k.KeyID)
		}
	}
	if d, j := iss.DiscoveryFetches(), iss.JWKSFetches(); d != 1 || j != 1 {
		t.Fatalf("counters %d, %d", d, j)
	}

	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA"} {
		tok := iss.Mint(map[string]any{"groups": []string{"g"}, "aud": nil}, issuer.WithAlg(alg))
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
		if err != nil {
			t.Fatal(err)
		}
		keys := set.Key(iss.KeyID(alg))
		if len(keys) != 1 {
			t.Fatalf("%s: kid %q not in the key set", alg, iss.KeyID(alg))
		}
		if _, err := jws.Verify(keys[0]); err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		c := segment(t, tok, 1)
		if c["iss"] != iss.URL() || c["sub"] != issuer.DefaultSubject || c["aud"] != nil || c["exp"] == nil || c["iat"] == nil {
			t.Fatalf("%s: claims %v", alg, c)
		}
	}

	if h := segment(t, iss.NoneToken(nil), 0); h["alg"] != "none" {
		t.Fatalf("none header %v", h)
	}
	if h := segment(t, iss.HS256WithPublicKey(nil), 0); h["alg"] != "HS256" || h["kid"] != iss.KeyID("RS256") {
		t.Fatalf("hs256 header %v", h)
	}
	if h := segment(t, iss.UnknownKidToken(nil), 0); h["kid"] == iss.KeyID("RS256") {
		t.Fatalf("unknown kid header %v", h)
	}
	tok := iss.Mint(nil)
	tampered := issuer.Tamper(tok, func(c map[string]any) { c["sub"] = "admin" })
	if segment(t, tampered, 1)["sub"] != "admin" || strings.Split(tampered, ".")[2] != strings.Split(tok, ".")[2] {
		t.Fatal("Tamper must change the payload and keep the signature")
	}

	old := iss.KeyID("RS256")
	iss.Rotate()
	getJSON(t, iss.JWKSURL(), &set)
	if len(set.Key(old)) != 0 || len(set.Key(iss.KeyID("RS256"))) != 1 {
		t.Fatalf("after Rotate the key set must hold the new key and not the old")
	}

	iss.SetDown(true)
	if code := getJSON(t, iss.JWKSURL(), &set); code != http.StatusServiceUnavailable {
		t.Fatalf("down key set answered %d", code)
	}
	if j := iss.JWKSFetches(); j != 3 {
		t.Fatalf("key set fetches %d, want 3", j)
	}
}
