package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sluicehq/sluice"
)

// MaxTokenBytes is the longest token Authenticate looks at. Entra tokens
// with many groups run to a few KiB; anything near this is an attack.
const MaxTokenBytes = 32 << 10

// Config configures an Authenticator.
type Config struct {
	// Issuers are the trusted OpenID Connect issuers. Their URLs must differ.
	Issuers []Issuer
	// ServiceTokens verifies sluice service tokens; nil disables them. It
	// keeps its own clock (ServiceTokens.Now).
	ServiceTokens *ServiceTokens
	// HTTPClient fetches discovery documents and key sets. Default: a client
	// with a 10 s timeout that follows at most 5 redirects, and only to
	// https (or loopback http) URLs.
	HTTPClient *http.Client
	// Logger receives discovery and key set problems. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Authenticator turns bearer tokens into identities. It is safe for
// concurrent use once New has returned.
type Authenticator struct {
	issuers  map[string]*oidcIssuer // by URL, exactly as tokens carry it in iss
	order    []*oidcIssuer
	algs     []jose.SignatureAlgorithm // union of the issuers' allow-lists
	services *ServiceTokens
	now      func() time.Time

	openOnce sync.Once
	openErr  error
}

// New validates cfg and returns an Authenticator. It does no I/O: Open
// discovers the issuers, and an Authenticator that was never opened
// discovers each issuer on its first token.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: fetchTimeout, CheckRedirect: secureRedirect}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Authenticator{issuers: make(map[string]*oidcIssuer), services: cfg.ServiceTokens, now: cfg.Now}
	for _, ic := range cfg.Issuers {
		if err := ic.Validate(); err != nil {
			return nil, err
		}
		if _, dup := a.issuers[ic.URL]; dup {
			return nil, fmt.Errorf("issuer %q is configured twice", ic.URL)
		}
		o := newOIDCIssuer(ic, cfg.HTTPClient, cfg.Logger, cfg.Now)
		a.issuers[ic.URL] = o
		a.order = append(a.order, o)
		for _, alg := range o.algs {
			if !slices.Contains(a.algs, alg) {
				a.algs = append(a.algs, alg)
			}
		}
	}
	if s := cfg.ServiceTokens; s != nil {
		if err := s.Validate(); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Open discovers every issuer and fetches its key set, concurrently, and
// loads the service token key. An issuer that cannot be reached is logged
// and retried on its next token; only a service token key that cannot be
// read or created is an error. Open runs once; later calls return the first
// result.
func (a *Authenticator) Open(ctx context.Context) error {
	a.openOnce.Do(func() {
		var wg sync.WaitGroup
		for _, o := range a.order {
			wg.Go(func() { o.open(ctx) })
		}
		wg.Wait()
		if a.services != nil {
			a.openErr = a.services.Open(ctx)
		}
	})
	return a.openErr
}

// Authenticate verifies token and returns the identity it proves. Tokens
// starting with ServiceTokenPrefix are service tokens; everything else is
// an OIDC JWT. Failures are *sluice.Error values: EUnauthenticated for a bad
// token, EUnavailable when the issuer or the store cannot be reached to
// check it, ECanceled or ETimeout when ctx ends. Their Message is for the
// caller; their Cause is for the log; neither holds the token.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*sluice.Identity, error) {
	switch {
	case token == "":
		return nil, deny(msgNoToken, nil)
	case ctx.Err() != nil:
		return nil, ctxError(ctx.Err())
	case len(token) > MaxTokenBytes:
		return nil, deny(msgInvalid, fmt.Errorf("token is %d bytes, more than the limit of %d", len(token), MaxTokenBytes))
	case strings.HasPrefix(token, ServiceTokenPrefix):
		if a.services == nil {
			return nil, deny(msgServiceDisabled, errors.New("a service token was presented but service tokens are disabled"))
		}
		return a.services.Verify(ctx, token)
	}
	return a.authenticateOIDC(ctx, token)
}

// authenticateOIDC routes a JWT to the issuer its unverified iss names,
// which then verifies it completely.
func (a *Authenticator) authenticateOIDC(ctx context.Context, token string) (*sluice.Identity, error) {
	if len(a.order) == 0 {
		return nil, deny(msgInvalid, errors.New("not a service token, and no OIDC issuer is configured"))
	}
	// Parsing checks alg against the union of the allow-lists; the issuer
	// checks its own list before any key lookup.
	jws, err := jose.ParseSignedCompact(token, a.algs)
	if err != nil {
		return nil, deny(msgInvalid, fmt.Errorf("parse token: %w", err))
	}
	if len(jws.Signatures) != 1 {
		return nil, deny(msgInvalid, errors.New("token must carry exactly one signature"))
	}
	var unverified struct {
		Issuer string `json:"iss"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified); err != nil {
		return nil, deny(msgInvalid, fmt.Errorf("decode token payload: %w", err))
	}
	o, ok := a.issuers[unverified.Issuer]
	if !ok {
		return nil, deny(msgUnknownIssuer, fmt.Errorf("token issuer %q is not configured", trunc(unverified.Issuer)))
	}
	return o.verify(ctx, token, jose.SignatureAlgorithm(jws.Signatures[0].Header.Algorithm))
}

// secureRedirect refuses a redirect to an insecure URL, so that an issuer's
// https discovery or key set cannot be downgraded by a redirect.
func secureRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if err := checkSecureURL(req.URL.String()); err != nil {
		return fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), err)
	}
	return nil
}

// Recheck tells whether a session authenticated as id may go on: it returns
// the end reason and the error to show the client when the credential has
// expired or, for a service token, was revoked since; "" and nil while the
// credential is still good. A store that cannot answer keeps the session
// (its failure is logged by the caller's next authentication).
func (a *Authenticator) Recheck(ctx context.Context, id *sluice.Identity) (string, *sluice.Error) {
	if !id.ExpiresAt.IsZero() && a.now().After(id.ExpiresAt) {
		return sluice.EndExpired, &sluice.Error{Code: sluice.EUnauthenticated, SQLStateCode: "28P01",
			Message: "the token of this session expired; reconnect with a fresh token"}
	}
	if id.Method == sluice.AuthServiceToken && a.services != nil && id.TokenID != "" {
		t, err := a.services.Store.GetToken(ctx, id.TokenID)
		if err == nil && !t.RevokedAt.IsZero() {
			return sluice.EndRevoked, &sluice.Error{Code: sluice.EUnauthenticated, SQLStateCode: "28P01",
				Message: "the token of this session was revoked"}
		}
	}
	return "", nil
}
