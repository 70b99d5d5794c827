// Package authn turns a bearer token into a verified sluice.Identity.
//
// Two kinds of token are accepted. Access tokens from OpenID Connect issuers
// (Entra ID, Okta, Keycloak, ...) are verified against the issuer's published
// keys, which are discovered, cached and refetched at a bounded rate when a
// token names a key the cache does not hold. Service tokens are minted by
// sluice itself (`sluice token issue`): a recognisable prefix followed by a
// compact JWS signed with an Ed25519 key kept in the data directory, backed by
// a record in the state store so that revocation takes effect at once.
//
// Every failure is a *sluice.Error whose Message is safe to show the caller
// and whose Cause carries the internal detail for the operator's log. Neither
// ever contains the token or key material.
package authn
