package authn

import (
	"encoding/json"
	"fmt"

	"github.com/sluicehq/sluice"
)

// IdentityFromClaims returns the identity a token's claims name under c's
// claim settings (SubjectClaim, GroupsClaims, ClientClaims and NameClaims,
// with their defaults), read exactly as for the issuer's access tokens: the
// same subject, groups, client and name. payload is the token's JSON
// claims. It checks no signature, issuer, audience or time: the caller has
// verified the token, as the web console does with the ID token of a
// login. Method, TokenID and ExpiresAt are left for the caller; Issuer is
// c.URL.
func (c Issuer) IdentityFromClaims(payload []byte) (*sluice.Identity, error) {
	c = c.withDefaults()
	var cl claims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return nil, fmt.Errorf("decode claims: %w", err)
	}
	sub, ok := cl.str(c.SubjectClaim)
	if !ok {
		return nil, fmt.Errorf("token has no string claim %q (the configured subject claim)", c.SubjectClaim)
	}
	return &sluice.Identity{
		Subject: sub,
		Name:    cl.first(c.NameClaims),
		Groups:  cl.union(c.GroupsClaims),
		Client:  cl.first(c.ClientClaims),
		Issuer:  c.URL,
	}, nil
}
