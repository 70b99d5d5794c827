package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// keyKind is the type of a signing key.
type keyKind string

const (
	kindRSA     keyKind = "rsa"
	kindEC      keyKind = "ec"
	kindEd25519 keyKind = "ed25519"
)

// kinds lists the key kinds in the order the key set publishes them.
var kinds = []keyKind{kindRSA, kindEC, kindEd25519}

// signingKey is one of the issuer's private keys.
type signingKey struct {
	id   string
	kind keyKind
	priv crypto.Signer
}

// newKeys generates one key of every kind for generation gen.
func newKeys(gen int) map[keyKind]*signingKey {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, dk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	keys := map[keyKind]*signingKey{}
	for kind, priv := range map[keyKind]crypto.Signer{kindRSA: rk, kindEC: ek, kindEd25519: dk} {
		keys[kind] = &signingKey{id: keyID(kind, gen, priv.Public()), kind: kind, priv: priv}
	}
	return keys
}

// keyID names a key by kind, generation and a thumbprint prefix, e.g.
// "rsa-2-Xk3f9a0b".
func keyID(kind keyKind, gen int, pub crypto.PublicKey) string {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s-%d-%s", kind, gen, base64.RawURLEncoding.EncodeToString(tp)[:8])
}

// kindFor returns the key kind that signs alg.
func kindFor(alg string) keyKind {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return kindRSA
	case "ES256":
		return kindEC
	case "EdDSA":
		return kindEd25519
	}
	panic(fmt.Sprintf("issuer: no key for algorithm %q", alg))
}

// key returns the active key that signs alg.
func (i *Issuer) key(alg string) *signingKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.active[kindFor(alg)]
}

// RSAPublicKeyPEM returns the active RSA public key as a PKIX PEM block:
// what an attacker downloads from the key set and tries as an HMAC secret.
func (i *Issuer) RSAPublicKeyPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(i.key("RS256").priv.Public())
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Secrets returns encodings of every private key the issuer has held (PEM,
// base64 and hex of the PKCS #8 DER, and the base64url JWK private members),
// so that a test can assert none of them appears in logs or errors.
func (i *Issuer) Secrets() []string {
	i.mu.Lock()
	all := append([]*signingKey(nil), i.retired...)
	for _, kind := range kinds {
		all = append(all, i.active[kind])
	}
	i.mu.Unlock()
	var out []string
	for _, k := range all {
		der, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			panic(err)
		}
		out = append(out,
			string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
			base64.StdEncoding.EncodeToString(der),
			base64.RawURLEncoding.EncodeToString(der),
			hex.EncodeToString(der))
		out = append(out, jwkPrivateMembers(k.priv)...)
	}
	return out
}

// jwkPrivateMembers returns the base64url private values a JWK of priv would
// carry ("d", and for RSA the primes).
func jwkPrivateMembers(priv crypto.Signer) []string {
	enc := base64.RawURLEncoding.EncodeToString
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		return []string{enc(k.D.Bytes()), enc(k.Primes[0].Bytes()), enc(k.Primes[1].Bytes())}
	case *ecdsa.PrivateKey:
		b, err := k.Bytes()
		if err != nil {
			panic(err)
		}
		return []string{enc(b)}
	case ed25519.PrivateKey:
		return []string{enc(k.Seed()), hex.EncodeToString(k.Seed())}
	}
	return nil
}
