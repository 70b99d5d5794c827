package issuer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// MintOption changes how Mint signs a token.
type MintOption func(*mintOptions)

type mintOptions struct {
	alg    string
	kid    *string
	header map[string]any
}

// WithAlg signs with alg instead of RS256: RS256/384/512 and PS256/384/512
// use the RSA key, ES256 the EC key, EdDSA the Ed25519 key.
func WithAlg(alg string) MintOption { return func(o *mintOptions) { o.alg = alg } }

// WithKeyID puts kid in the header instead of the signing key's id (an empty
// kid omits it).
func WithKeyID(kid string) MintOption { return func(o *mintOptions) { o.kid = &kid } }

// WithHeader adds a protected header parameter.
func WithHeader(name string, v any) MintOption {
	return func(o *mintOptions) {
		if o.header == nil {
			o.header = map[string]any{}
		}
		o.header[name] = v
	}
}

// Claims returns the default claims (iss, aud, sub, iat, exp one hour after
// iat) overlaid with claims; a nil value in claims removes that claim.
func (i *Issuer) Claims(claims map[string]any) map[string]any {
	now := i.now()
	aud, sub := i.Audience, i.Subject
	if aud == "" {
		aud = DefaultAudience
	}
	if sub == "" {
		sub = DefaultSubject
	}
	out := map[string]any{
		"iss": i.URL(),
		"aud": aud,
		"sub": sub,
		"iat": now.Unix(),
		"exp": now.Add(DefaultTTL).Unix(),
	}
	for k, v := range claims {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// Mint returns a compact JWT carrying Claims(claims), signed with the active
// key for the chosen algorithm (RS256 unless WithAlg) and naming that key in
// kid unless WithKeyID says otherwise.
func (i *Issuer) Mint(claims map[string]any, opts ...MintOption) string {
	o := mintOptions{alg: "RS256"}
	for _, opt := range opts {
		opt(&o)
	}
	k := i.key(o.alg)
	kid := k.id
	if o.kid != nil {
		kid = *o.kid
	}
	so := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		so = so.WithHeader("kid", kid)
	}
	for name, v := range o.header {
		so = so.WithHeader(jose.HeaderKey(name), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(o.alg), Key: k.priv}, so)
	if err != nil {
		panic(err)
	}
	payload, err := json.Marshal(i.Claims(claims))
	if err != nil {
		panic(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return s
}

// UnknownKidToken returns a token properly signed with the RSA key but
// naming a random key id the key set does not hold.
func (i *Issuer) UnknownKidToken(claims map[string]any) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return i.Mint(claims, WithKeyID("unknown-"+hex.EncodeToString(b)))
}

// NoneToken returns an unsigned token with alg "none" and Claims(claims).
func (i *Issuer) NoneToken(claims map[string]any) string {
	return Raw(map[string]any{"alg": "none", "typ": "JWT"}, i.Claims(claims), nil)
}

// HS256WithPublicKey returns the algorithm-confusion attack: an HS256 token
// whose HMAC secret is the issuer's RSA public key PEM, naming the RSA key's
// id, for a verifier that would feed the public key to HMAC.
func (i *Issuer) HS256WithPublicKey(claims map[string]any) string {
	header := map[string]any{"alg": "HS256", "typ": "JWT", "kid": i.KeyID("RS256")}
	input := encodeSegment(header) + "." + encodeSegment(i.Claims(claims))
	mac := hmac.New(sha256.New, i.RSAPublicKeyPEM())
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Raw assembles a compact JWS from a header, a payload and signature bytes,
// signing nothing: the building block for hostile tokens.
func Raw(header, payload map[string]any, sig []byte) string {
	return encodeSegment(header) + "." + encodeSegment(payload) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Tamper returns token with its payload decoded, changed by edit and
// re-encoded, keeping the original header and signature.
func Tamper(token string, edit func(claims map[string]any)) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		panic("issuer: Tamper needs a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		panic(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		panic(err)
	}
	claims = maps.Clone(claims)
	edit(claims)
	return parts[0] + "." + encodeSegment(claims) + "." + parts[2]
}

func encodeSegment(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
