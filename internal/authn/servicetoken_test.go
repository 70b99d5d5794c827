package authn_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/authn"
)

// stSetup is an authenticator with service tokens enabled on a temporary
// data directory and an in-memory store.
type stSetup struct {
	clock *clock
	dir   string
	store *memStore
	st    *authn.ServiceTokens
	auth  *authn.Authenticator
	watch *leakWatch
}

func newSTSetup(t *testing.T, watch *leakWatch) *stSetup {
	t.Helper()
	s := &stSetup{clock: newClock(), dir: t.TempDir(), store: newMemStore(), watch: watch}
	s.st = authn.NewServiceTokens(s.dir, s.store)
	s.st.Now = s.clock.Now
	auth, err := authn.New(authn.Config{ServiceTokens: s.st, Logger: watch.logger(), Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.auth = auth
	watch.secret(keySecrets(t, s.dir)...)
	return s
}

// readKey reads the Ed25519 key from a data directory.
func readKey(t *testing.T, dir string) ed25519.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "keys", "service-token.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("key file is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(ed25519.PrivateKey)
}

// keySecrets returns the encodings of a data directory's key that must never
// leak: the PEM file, the DER and the seed in the usual encodings.
func keySecrets(t *testing.T, dir string) []string {
	t.Helper()
	pemData, err := os.ReadFile(filepath.Join(dir, "keys", "service-token.key"))
	if err != nil {
		t.Fatal(err)
	}
	k := readKey(t, dir)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return []string{
		string(pemData),
		base64.StdEncoding.EncodeToString(der),
		base64.RawURLEncoding.EncodeToString(k.Seed()),
		base64.StdEncoding.EncodeToString(k.Seed()),
		hex.EncodeToString(k.Seed()),
		string(k.Seed()),
	}
}

// sign makes a service token by hand: the prefix and a compact JWS over
// claims, signed with key using alg and naming kid.
func sign(t *testing.T, key any, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	c, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return authn.ServiceTokenPrefix + c
}

// claimsFor returns the claims Issue would put in a token for rec.
func claimsFor(rec *sluice.ServiceToken) map[string]any {
	return map[string]any{
		"iss": "sluice", "sub": rec.Subject, "groups": rec.Groups, "jti": rec.ID,
		"iat": rec.IssuedAt.Unix(), "nbf": rec.IssuedAt.Unix(), "exp": rec.ExpiresAt.Unix(),
	}
}

func (s *stSetup) issue(t *testing.T) (string, *sluice.ServiceToken) {
	t.Helper()
	tok, rec, err := s.st.Issue(t.Context(), "ci-bot", []string{"ai-agents", "ci", "ai-agents"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s.watch.token(tok), rec
}

func (s *stSetup) kid(t *testing.T) string {
	t.Helper()
	kid, err := s.st.KeyID()
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

// TestServiceTokens runs service tokens, good and hostile, through the
// authenticator, with a leak watch over the whole table.
func TestServiceTokens(t *testing.T) {
	watch := &leakWatch{}
	const denied = sluice.EUnauthenticated
	tests := []struct {
		name   string
		token  func(t *testing.T, s *stSetup) string // runs at t0
		before func(s *stSetup)                      // runs between minting and verifying
		want   bool                                  // accepted, with the identity of the issued record
		code   string
		msg    string
	}{
		{name: "issue then verify", want: true},
		{name: "within leeway after expiry", before: func(s *stSetup) { s.clock.Advance(time.Hour + 20*time.Second) }, want: true},
		{name: "expired", before: func(s *stSetup) { s.clock.Advance(time.Hour + 31*time.Second) }, code: denied, msg: "token expired"},
		{name: "not yet valid", before: func(s *stSetup) { s.clock.Advance(-2 * time.Minute) }, code: denied, msg: "token is not valid yet"},
		{
			name: "revoked",
			token: func(t *testing.T, s *stSetup) string {
				tok, rec := s.issue(t)
				if _, err := s.auth.Authenticate(t.Context(), tok); err != nil {
					t.Fatalf("before revocation: %v", err)
				}
				if err := s.st.Revoke(t.Context(), rec.ID); err != nil {
					t.Fatal(err)
				}
				return tok
			},
			code: denied, msg: "token revoked",
		},
		{
			name: "signed by another data directory's key",
			token: func(t *testing.T, s *stSetup) string {
				other := authn.NewServiceTokens(t.TempDir(), s.store)
				other.Now = s.clock.Now
				tok, _, err := other.Issue(t.Context(), "ci-bot", nil, time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				s.watch.secret(keySecrets(t, other.DataDir)...)
				return tok
			},
			code: denied, msg: invalid,
		},
		{
			name: "another key naming this key's id",
			token: func(t *testing.T, s *stSetup) string {
				_, rec := s.issue(t)
				_, priv, _ := ed25519.GenerateKey(rand.Reader)
				return sign(t, priv, jose.EdDSA, s.kid(t), claimsFor(rec))
			},
			code: denied, msg: invalid,
		},
		{
			name: "HS256 keyed with the public key",
			token: func(t *testing.T, s *stSetup) string {
				_, rec := s.issue(t)
				pub := readKey(t, s.dir).Public().(ed25519.PublicKey)
				return sign(t, []byte(pub), jose.HS256, s.kid(t), claimsFor(rec))
			},
			code: denied, msg: invalid,
		},
		{
			name: "ES256",
			token: func(t *testing.T, s *stSetup) string {
				_, rec := s.issue(t)
				ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				return sign(t, ec, jose.ES256, s.kid(t), claimsFor(rec))
			},
			code: denied, msg: invalid,
		},
		{
			name: "alg none",
			token: func(t *testing.T, s *stSetup) string {
				_, rec := s.issue(t)
				h, _ := json.Marshal(map[string]any{"alg": "none", "kid": s.kid(t)})
				p, _ := json.Marshal(claimsFor(rec))
				enc := base64.RawURLEncoding.EncodeToString
				return authn.ServiceTokenPrefix + enc(h) + "." + enc(p) + "."
			},
			code: denied, msg: invalid,
		},
		{
			name: "tampered groups",
			token: func(t *testing.T, s *stSetup) string {
				tok, rec := s.issue(t)
				parts := strings.Split(tok, ".")
				c := claimsFor(rec)
				c["groups"] = []string{"dba"}
				p, _ := json.Marshal(c)
				return parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
			},
			code: denied, msg: invalid,
		},
		{
			name: "no store record",
			token: func(t *testing.T, s *stSetup) string {
				_, rec := s.issue(t)
				c := claimsFor(rec)
				c["jti"] = "never-issued"
				return sign(t, readKey(t, s.dir), jose.EdDSA, s.kid(t), c)
			},
			code: denied, msg: invalid,
		},
		{
			name: "subject differs from the store record",
			token: func(t *testing.T, s *stSetup) string {
				_, rec := s.issue(t)
				c := claimsFor(rec)
				c["sub"] = "admin"
				return sign(t, readKey(t, s.dir), jose.EdDSA, s.kid(t), c)
			},
			code: denied, msg: invalid,
		},
		{
			name: "issuer other than sluice",
			token: func(t *testing.T, s *stSetup) string {
				_, rec := s.issue(t)
				c := claimsFor(rec)
				c["iss"] = "https://idp.example"
				return sign(t, readKey(t, s.dir), jose.EdDSA, s.kid(t), c)
			},
			code: denied, msg: invalid,
		},
		{
			name: "missing exp",
			token: func(t *testing.T, s *stSetup) string {
				_, rec := s.issue(t)
				c := claimsFor(rec)
				delete(c, "exp")
				return sign(t, readKey(t, s.dir), jose.EdDSA, s.kid(t), c)
			},
			code: denied, msg: invalid,
		},
		{name: "prefix only", token: func(*testing.T, *stSetup) string { return authn.ServiceTokenPrefix }, code: denied, msg: invalid},
		{
			name: "without the prefix it is not a service token",
			token: func(t *testing.T, s *stSetup) string {
				tok, _ := s.issue(t)
				return strings.TrimPrefix(tok, authn.ServiceTokenPrefix)
			},
			code: denied, msg: invalid,
		},
		{
			name:   "store unavailable",
			before: func(s *stSetup) { s.store.setFailGet(errors.New("database is locked")) },
			code:   sluice.EUnavailable, msg: "cannot check the token now, try again later",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSTSetup(t, watch)
			var tok string
			var rec *sluice.ServiceToken
			if tt.token != nil {
				tok = watch.token(tt.token(t, s))
			} else {
				tok, rec = s.issue(t)
			}
			if tt.before != nil {
				tt.before(s)
			}
			id, err := s.auth.Authenticate(t.Context(), tok)
			watch.err(err)
			if !tt.want {
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
			want := &sluice.Identity{Subject: "ci-bot", Groups: []string{"ai-agents", "ci"}, Method: sluice.AuthServiceToken,
				Issuer: "sluice", TokenID: rec.ID, ExpiresAt: t0.Add(time.Hour)}
			if !reflect.DeepEqual(id, want) {
				t.Fatalf("identity\n got %+v\nwant %+v", id, want)
			}
		})
	}
	watch.check(t)
}

// TestServiceTokenFormat pins the token format and the store record.
func TestServiceTokenFormat(t *testing.T) {
	s := newSTSetup(t, &leakWatch{})
	tok, rec := s.issue(t)
	raw, ok := strings.CutPrefix(tok, "sluice_st_")
	if !ok {
		t.Fatalf("token lacks the prefix")
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("want a compact JWS, got %d segments", len(parts))
	}
	var header, claims map[string]any
	for i, v := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	wantHeader := map[string]any{"alg": "EdDSA", "kid": s.kid(t), "typ": "JWT"}
	if !reflect.DeepEqual(header, wantHeader) {
		t.Errorf("header %v, want %v", header, wantHeader)
	}
	wantClaims := map[string]any{
		"iss": "sluice", "sub": "ci-bot", "groups": []any{"ai-agents", "ci"}, "jti": rec.ID,
		"iat": float64(t0.Unix()), "nbf": float64(t0.Unix()), "exp": float64(t0.Add(time.Hour).Unix()),
	}
	if !reflect.DeepEqual(claims, wantClaims) {
		t.Errorf("claims %v, want %v", claims, wantClaims)
	}
	if len(rec.ID) != 26 {
		t.Errorf("token id %q: want 26 base32 characters", rec.ID)
	}
	wantRec := &sluice.ServiceToken{ID: rec.ID, Subject: "ci-bot", Groups: []string{"ai-agents", "ci"}, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	stored, err := s.store.GetToken(t.Context(), rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec, wantRec) || !reflect.DeepEqual(stored, wantRec) {
		t.Errorf("record %+v, stored %+v, want %+v", rec, stored, wantRec)
	}
	// The key id is the RFC 7638 thumbprint of the public key.
	jwk := jose.JSONWebKey{Key: readKey(t, s.dir).Public()}
	tp, _ := jwk.Thumbprint(0x5) // crypto.SHA256
	if got := base64.RawURLEncoding.EncodeToString(tp); got != s.kid(t) {
		t.Errorf("kid %q, want thumbprint %q", s.kid(t), got)
	}
}

// TestServiceTokenKeyFile: the key is created once, 0600 in a 0700
// directory, shared by every instance on the data directory (the CLI issues,
// serve verifies), and refused when others can read it.
func TestServiceTokenKeyFile(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()

	// Concurrent first use by several instances yields one key.
	var wg sync.WaitGroup
	kids := make([]string, 8)
	for i := range kids {
		wg.Go(func() {
			kid, err := authn.NewServiceTokens(dir, st).KeyID()
			if err != nil {
				t.Error(err)
			}
			kids[i] = kid
		})
	}
	wg.Wait()
	for _, k := range kids {
		if k != kids[0] || k == "" {
			t.Fatalf("instances disagree on the key: %q", kids)
		}
	}
	path := filepath.Join(dir, "keys", "service-token.key")
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %04o, want %04o", p, fi.Mode().Perm(), want)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want only the key", len(entries))
	}

	cli := authn.NewServiceTokens(dir, st)
	tok, _, err := cli.Issue(t.Context(), "ci-bot", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	serve := authn.NewServiceTokens(dir, st)
	if _, err := serve.Verify(t.Context(), tok); err != nil {
		t.Fatalf("a token issued by one instance must verify in another on the same data directory: %v", err)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	err = authn.NewServiceTokens(dir, st).Open(t.Context())
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a group-readable key file must be refused, got %v", err)
	}
}

func TestServiceTokenIssueInvalid(t *testing.T) {
	s := newSTSetup(t, &leakWatch{})
	tests := []struct {
		name    string
		subject string
		groups  []string
		ttl     time.Duration
	}{
		{"empty subject", "", nil, time.Hour},
		{"subject with spaces around", " bot", nil, time.Hour},
		{"subject with a control character", "bot\n", nil, time.Hour},
		{"long subject", strings.Repeat("a", 257), nil, time.Hour},
		{"empty group", "bot", []string{""}, time.Hour},
		{"zero ttl", "bot", nil, 0},
		{"negative ttl", "bot", nil, -time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, rec, err := s.st.Issue(t.Context(), tt.subject, tt.groups, tt.ttl)
			if sluice.ErrorCode(err) != sluice.EInvalid || tok != "" || rec != nil {
				t.Fatalf("got %q, %v, %v; want an EInvalid error", tok, rec, err)
			}
		})
	}
	if recs, _ := s.st.List(t.Context()); len(recs) != 0 {
		t.Fatalf("invalid issues left %d records", len(recs))
	}
}

func TestServiceTokenRevokeAndList(t *testing.T) {
	s := newSTSetup(t, &leakWatch{})
	_, first := s.issue(t)
	s.clock.Advance(time.Minute)
	_, second := s.issue(t)
	s.clock.Advance(time.Minute)
	if err := s.st.Revoke(t.Context(), first.ID); err != nil {
		t.Fatal(err)
	}
	err := s.st.Revoke(t.Context(), "no-such-token")
	if sluice.ErrorCode(err) != sluice.ENotFound {
		t.Fatalf("revoking an unknown id: %v, want ENotFound", err)
	}
	recs, err := s.st.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].ID != second.ID || recs[1].ID != first.ID {
		t.Fatalf("list %+v: want newest first", recs)
	}
	if !recs[0].RevokedAt.IsZero() || !recs[1].RevokedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("revoked at %v and %v", recs[0].RevokedAt, recs[1].RevokedAt)
	}
}
