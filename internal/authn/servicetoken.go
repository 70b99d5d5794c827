package authn

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

// Service token constants.
const (
	// ServiceTokenPrefix starts every service token, so that it is
	// recognisable in a config file or a secret scanner and is told apart
	// from an OIDC token without parsing.
	ServiceTokenPrefix = "sluice_st_"
	// ServiceTokenIssuer is the iss claim of service tokens and the Issuer
	// of their identities.
	ServiceTokenIssuer = "sluice"
	// maxSubjectLen caps the subject of a service token.
	maxSubjectLen = 256
)

// TokenStore is the subset of store.Store that service tokens use.
type TokenStore interface {
	CreateToken(ctx context.Context, t *sluice.ServiceToken) error
	GetToken(ctx context.Context, id string) (*sluice.ServiceToken, error)
	ListTokens(ctx context.Context) ([]*sluice.ServiceToken, error)
	RevokeToken(ctx context.Context, id string, at time.Time) error
}

var _ TokenStore = (store.Store)(nil)

// ServiceTokens issues, verifies, lists and revokes sluice service tokens.
// The signing key is read from DataDir/keys/service-token.key, and created
// there (mode 0600 in a 0700 directory) on first use if it is missing; every
// process that verifies tokens must share that file. The store holds a record
// of each token, consulted on every verification so that revocation takes
// effect at once. Set the fields before first use; afterwards it is safe for
// concurrent use.
type ServiceTokens struct {
	// DataDir is the gateway's data directory. Required.
	DataDir string
	// Store records issued tokens. Required.
	Store TokenStore
	// Leeway is the clock skew tolerated on exp and nbf. Default 30 s,
	// maximum 60 s.
	Leeway time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time

	mu  sync.Mutex
	key *signingKey
}

// NewServiceTokens returns ServiceTokens for a data directory and store. It
// does no I/O; the key is loaded by Open or on first use.
func NewServiceTokens(dataDir string, st TokenStore) *ServiceTokens {
	return &ServiceTokens{DataDir: dataDir, Store: st}
}

// Validate reports the first problem with the settings. It does no I/O.
func (s *ServiceTokens) Validate() error {
	if s.DataDir == "" {
		return errors.New("service tokens: data directory is required")
	}
	if s.Store == nil {
		return errors.New("service tokens: store is required")
	}
	if err := checkLeeway(s.Leeway); err != nil {
		return fmt.Errorf("service tokens: %w", err)
	}
	return nil
}

// Open loads the signing key, creating it if it does not exist. Calling it is
// optional (Issue and Verify load the key on first use) but lets the gateway
// report a bad key file at start.
func (s *ServiceTokens) Open(ctx context.Context) error {
	_, err := s.signingKey()
	return err
}

// KeyID returns the id of the signing key, loading or creating the key.
func (s *ServiceTokens) KeyID() (string, error) {
	k, err := s.signingKey()
	if err != nil {
		return "", err
	}
	return k.kid, nil
}

func (s *ServiceTokens) signingKey() (*signingKey, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key == nil {
		k, err := loadOrCreateKey(s.DataDir)
		if err != nil {
			return nil, err
		}
		s.key = k
	}
	return s.key, nil
}

func (s *ServiceTokens) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *ServiceTokens) leeway() time.Duration {
	if s.Leeway == 0 {
		return DefaultLeeway
	}
	return s.Leeway
}

// serviceClaims is the payload of a service token.
type serviceClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Groups    []string `json:"groups,omitempty"`
	ID        string   `json:"jti"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	Expiry    int64    `json:"exp"`
}

// Issue mints a token for subject with groups, valid for ttl from now, and
// records it in the store. The token is returned once and never stored; the
// record carries its id. Invalid arguments give an EInvalid *sluice.Error.
func (s *ServiceTokens) Issue(ctx context.Context, subject string, groups []string, ttl time.Duration) (token string, rec *sluice.ServiceToken, err error) {
	if err := checkName("subject", subject); err != nil {
		return "", nil, err
	}
	var gs []string
	for _, g := range groups {
		if err := checkName("group", g); err != nil {
			return "", nil, err
		}
		if !slices.Contains(gs, g) {
			gs = append(gs, g)
		}
	}
	if ttl < time.Second {
		return "", nil, sluice.Errorf(sluice.EInvalid, "token lifetime must be at least 1s, got %s", ttl)
	}
	key, err := s.signingKey()
	if err != nil {
		return "", nil, err
	}
	id, err := newTokenID()
	if err != nil {
		return "", nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	rec = &sluice.ServiceToken{ID: id, Subject: subject, Groups: gs, IssuedAt: now, ExpiresAt: now.Add(ttl).Truncate(time.Second)}
	payload, err := json.Marshal(serviceClaims{
		Issuer: ServiceTokenIssuer, Subject: subject, Groups: gs, ID: id,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: rec.ExpiresAt.Unix(),
	})
	if err != nil {
		return "", nil, fmt.Errorf("encode service token: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key.priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), key.kid))
	if err != nil {
		return "", nil, fmt.Errorf("service token signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", nil, fmt.Errorf("sign service token: %w", err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		return "", nil, fmt.Errorf("encode service token: %w", err)
	}
	if err := s.Store.CreateToken(ctx, rec); err != nil {
		return "", nil, fmt.Errorf("record service token: %w", err)
	}
	return ServiceTokenPrefix + compact, rec, nil
}

// Verify checks a service token (with its prefix) and returns the caller's
// identity: the signature (EdDSA with this data directory's key only), the
// claims, exp and nbf with leeway, and the store record, which must exist,
// belong to the same subject and not be revoked. Failures are
// EUnauthenticated, except a store that cannot answer (EUnavailable).
func (s *ServiceTokens) Verify(ctx context.Context, token string) (*sluice.Identity, error) {
	raw, ok := strings.CutPrefix(token, ServiceTokenPrefix)
	if !ok {
		return nil, deny(msgInvalid, errors.New("service token prefix missing"))
	}
	key, err := s.signingKey()
	if err != nil {
		return nil, unavailable(msgStoreDown, fmt.Errorf("service token key: %w", err))
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, deny(msgInvalid, fmt.Errorf("parse service token: %w", err))
	}
	if len(jws.Signatures) != 1 {
		return nil, deny(msgInvalid, errors.New("service token must carry exactly one signature"))
	}
	if kid := jws.Signatures[0].Header.KeyID; kid != key.kid {
		return nil, deny(msgInvalid, fmt.Errorf("service token signed by key %q, this gateway's key is %q", trunc(kid), key.kid))
	}
	payload, err := jws.Verify(key.pub)
	if err != nil {
		return nil, deny(msgInvalid, fmt.Errorf("service token signature: %w", err))
	}
	var reg registered
	if err := json.Unmarshal(payload, &reg); err != nil {
		return nil, deny(msgInvalid, fmt.Errorf("decode service token claims: %w", err))
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, deny(msgInvalid, fmt.Errorf("decode service token claims: %w", err))
	}
	sub, _ := c.str("sub")
	switch {
	case reg.Issuer != ServiceTokenIssuer:
		return nil, deny(msgInvalid, fmt.Errorf("service token iss is %q", trunc(reg.Issuer)))
	case sub == "":
		return nil, deny(msgInvalid, errors.New("service token has no subject"))
	case reg.ID == "":
		return nil, deny(msgInvalid, errors.New("service token has no jti"))
	}
	if err := checkTimes(&reg, s.now(), s.leeway()); err != nil {
		return nil, err
	}
	rec, err := s.Store.GetToken(ctx, reg.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, deny(msgInvalid, fmt.Errorf("service token %s has no store record", reg.ID))
	case err != nil:
		if e := ctxError(err); e != nil {
			return nil, e
		}
		return nil, unavailable(msgStoreDown, fmt.Errorf("look up service token %s: %w", reg.ID, err))
	case !rec.RevokedAt.IsZero():
		return nil, deny(msgRevoked, fmt.Errorf("service token %s revoked at %s", reg.ID, rec.RevokedAt.Format(time.RFC3339)))
	case rec.Subject != sub:
		return nil, deny(msgInvalid, fmt.Errorf("service token %s: subject differs from its store record", reg.ID))
	}
	return &sluice.Identity{
		Subject:   sub,
		Groups:    c.union([]string{"groups"}),
		Method:    sluice.AuthServiceToken,
		Issuer:    ServiceTokenIssuer,
		TokenID:   reg.ID,
		ExpiresAt: reg.Expiry.Time,
	}, nil
}

// Revoke marks a token revoked now. Verification refuses it from then on.
// An unknown id gives an ENotFound *sluice.Error.
func (s *ServiceTokens) Revoke(ctx context.Context, id string) error {
	if s.Store == nil {
		return errors.New("service tokens: store is required")
	}
	err := s.Store.RevokeToken(ctx, id, s.now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return sluice.Errorf(sluice.ENotFound, "no service token with id %q", id).WithCause(err)
	}
	if err != nil {
		return fmt.Errorf("revoke service token: %w", err)
	}
	return nil
}

// List returns the records of all issued tokens, newest first.
func (s *ServiceTokens) List(ctx context.Context) ([]*sluice.ServiceToken, error) {
	if s.Store == nil {
		return nil, errors.New("service tokens: store is required")
	}
	recs, err := s.Store.ListTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("list service tokens: %w", err)
	}
	return recs, nil
}

// tokenIDEncoding is lower-case base32 without padding: 26 characters for
// 128 bits, easy to read out and paste into `sluice token revoke`.
var tokenIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newTokenID returns a random token id with 128 bits of entropy.
func newTokenID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	return tokenIDEncoding.EncodeToString(b), nil
}

// checkName validates a subject or group name for a service token.
func checkName(what, s string) error {
	if s == "" {
		return sluice.Errorf(sluice.EInvalid, "%s must not be empty", what)
	}
	if len(s) > maxSubjectLen {
		return sluice.Errorf(sluice.EInvalid, "%s is longer than %d bytes", what, maxSubjectLen)
	}
	if strings.TrimSpace(s) != s || strings.ContainsFunc(s, unicode.IsControl) {
		return sluice.Errorf(sluice.EInvalid, "%s %q has surrounding spaces or control characters", what, s)
	}
	return nil
}

// trunc shortens an untrusted value for an internal message.
func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
