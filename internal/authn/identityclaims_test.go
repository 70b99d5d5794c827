package authn_test

import (
	"slices"
	"testing"

	"github.com/sluicehq/sluice/internal/authn"
)

func TestIdentityFromClaims(t *testing.T) {
	payload := []byte(`{"sub":"pairwise","oid":"0000-aaaa","preferred_username":"alice@example.com",
		"groups":["g1","g2"],"roles":"approver","azp":"console-app"}`)
	id, err := authn.Issuer{URL: "https://login.example/t/v2.0", SubjectClaim: "oid", GroupsClaims: []string{"groups", "roles"}}.
		IdentityFromClaims(payload)
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "0000-aaaa" || id.Name != "alice@example.com" || !slices.Equal(id.Groups, []string{"g1", "g2", "approver"}) ||
		id.Client != "console-app" || id.Issuer != "https://login.example/t/v2.0" {
		t.Fatalf("identity %+v", id)
	}
	// Defaults: sub and groups.
	id, err = authn.Issuer{URL: "https://x"}.IdentityFromClaims(payload)
	if err != nil || id.Subject != "pairwise" || !slices.Equal(id.Groups, []string{"g1", "g2"}) {
		t.Fatalf("defaults: %+v %v", id, err)
	}
	if _, err := (authn.Issuer{SubjectClaim: "email"}).IdentityFromClaims(payload); err == nil {
		t.Fatal("a missing subject claim was accepted")
	}
	if _, err := (authn.Issuer{}).IdentityFromClaims([]byte(`[1]`)); err == nil {
		t.Fatal("a non-object payload was accepted")
	}
}
