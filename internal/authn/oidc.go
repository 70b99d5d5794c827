package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/sluicehq/sluice"
)

// oidcIssuer verifies the tokens of one configured issuer. Discovery runs at
// Open or, if that failed, lazily on a later token, at most once per
// MinRefresh. It is safe for concurrent use.
type oidcIssuer struct {
	cfg    Issuer // with defaults applied
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	algs   []jose.SignatureAlgorithm

	discovery *throttle

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier // nil until discovery succeeded
	keys     *keySet
	lastErr  error // of the last failed discovery
	failing  bool  // the last discovery failed and was logged
}

func newOIDCIssuer(cfg Issuer, client *http.Client, log *slog.Logger, now func() time.Time) *oidcIssuer {
	cfg = cfg.withDefaults()
	o := &oidcIssuer{cfg: cfg, client: client, log: log, now: now}
	for _, a := range cfg.Algorithms {
		o.algs = append(o.algs, jose.SignatureAlgorithm(a))
	}
	o.discovery = &throttle{interval: cfg.MinRefresh, timeout: fetchTimeout, now: now}
	return o
}

// open discovers the issuer and warms the key cache. Failures are logged
// (once) and remembered, never returned: the gateway serves other issuers
// and retries this one on its next token.
func (o *oidcIssuer) open(ctx context.Context) {
	if _, err := o.ready(ctx); err != nil {
		return
	}
	o.mu.Lock()
	ks := o.keys
	o.mu.Unlock()
	_ = ks.refresh.do(ctx, ks.fetch) // logs its own failure
}

// ready returns the verifier, running discovery first if it has not
// succeeded yet and the rate limit allows.
func (o *oidcIssuer) ready(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	if v := o.current(); v != nil {
		return v, nil
	}
	err := o.discovery.do(ctx, o.discover)
	if v := o.current(); v != nil {
		return v, nil
	}
	if errors.Is(err, errThrottled) {
		o.mu.Lock()
		err = fmt.Errorf("discovery failed recently, next attempt after %s: %w", o.cfg.MinRefresh, o.lastErr)
		o.mu.Unlock()
	}
	if e := ctxError(err); e != nil {
		return nil, e
	}
	return nil, unavailable(msgUnavailable, fmt.Errorf("issuer %s: %w", o.cfg.URL, err))
}

func (o *oidcIssuer) current() *oidc.IDTokenVerifier {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.verifier
}

// discover fetches the discovery document (unless JWKSURL is configured) and
// builds the verifier. It runs under o.discovery.
func (o *oidcIssuer) discover(ctx context.Context) error {
	jwksURL, err := o.jwksURL(ctx)
	o.mu.Lock()
	wasFailing := o.failing
	if err == nil {
		o.keys = newKeySet(jwksURL, o.client, o.cfg.Algorithms, o.cfg.MinRefresh, o.log, o.now)
		o.verifier = oidc.NewVerifier(o.cfg.URL, o.keys, &oidc.Config{
			SupportedSigningAlgs: o.cfg.Algorithms,
			SkipClientIDCheck:    true, // several audiences: checked in verify
			SkipExpiryCheck:      true, // exp and nbf with the configured leeway: checked in verify
			Now:                  o.now,
		})
		o.failing, o.lastErr = false, nil
	} else {
		o.failing, o.lastErr = true, err
	}
	o.mu.Unlock()
	switch {
	case err != nil && !wasFailing:
		o.log.Warn("authn: OIDC discovery failed; tokens from this issuer are refused until a retry succeeds",
			"issuer", o.cfg.URL, "retry_after", o.cfg.MinRefresh, "err", err)
	case err == nil && wasFailing:
		o.log.Info("authn: OIDC discovery succeeded after earlier failures", "issuer", o.cfg.URL)
	}
	return err
}

// jwksURL returns the configured key set URL or discovers it.
func (o *oidcIssuer) jwksURL(ctx context.Context) (string, error) {
	if o.cfg.JWKSURL != "" {
		return o.cfg.JWKSURL, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.client), o.cfg.URL)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	var doc struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := p.Claims(&doc); err != nil {
		return "", fmt.Errorf("discovery document: %w", err)
	}
	if doc.JWKSURL == "" {
		return "", errors.New("discovery document has no jwks_uri")
	}
	if err := checkSecureURL(doc.JWKSURL); err != nil {
		return "", fmt.Errorf("discovered jwks_uri %q: %w", doc.JWKSURL, err)
	}
	return doc.JWKSURL, nil
}

// verify checks a token whose unverified iss named this issuer and whose alg
// is alg, and returns the caller's identity.
func (o *oidcIssuer) verify(ctx context.Context, token string, alg jose.SignatureAlgorithm) (*sluice.Identity, error) {
	// The allow-list is checked before any key is looked up.
	if !slices.Contains(o.algs, alg) {
		return nil, deny(msgInvalid, fmt.Errorf("signature algorithm %q is not allowed for issuer %s", alg, o.cfg.URL))
	}
	v, err := o.ready(ctx)
	if err != nil {
		return nil, err
	}
	var keyErr error
	idt, err := v.Verify(context.WithValue(ctx, keyErrSlot{}, &keyErr), token)
	if err != nil {
		return nil, o.verifyError(ctx, err, keyErr)
	}

	var reg registered
	if err := idt.Claims(&reg); err != nil {
		return nil, deny(msgInvalid, fmt.Errorf("decode claims: %w", err))
	}
	if err := checkTimes(&reg, o.now(), o.cfg.Leeway); err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(reg.Audience, func(a string) bool { return slices.Contains(o.cfg.Audiences, a) }) {
		return nil, deny(msgAudience, fmt.Errorf("token audience %s is not among the configured %q", quoteTrunc(reg.Audience), o.cfg.Audiences))
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		return nil, deny(msgInvalid, fmt.Errorf("decode claims: %w", err))
	}
	sub, ok := c.str(o.cfg.SubjectClaim)
	if !ok {
		return nil, deny(msgInvalid, fmt.Errorf("token has no string claim %q (the configured subject claim)", o.cfg.SubjectClaim))
	}
	return &sluice.Identity{
		Subject:   sub,
		Name:      c.first(o.cfg.NameClaims),
		Groups:    c.union(o.cfg.GroupsClaims),
		Client:    c.first(o.cfg.ClientClaims),
		Method:    sluice.AuthOIDC,
		Issuer:    o.cfg.URL,
		TokenID:   tokenRef(reg.ID, token),
		ExpiresAt: reg.Expiry.Time,
	}, nil
}

// verifyError turns a failure of IDTokenVerifier.Verify into the caller's
// error. keyErr is what the key set recorded, if the failure was its.
func (o *oidcIssuer) verifyError(ctx context.Context, err, keyErr error) error {
	if e := ctxError(ctx.Err()); e != nil {
		return e
	}
	var unav *keysUnavailableError
	switch {
	case errors.As(keyErr, &unav):
		return unavailable(msgUnavailable, fmt.Errorf("issuer %s: %w", o.cfg.URL, keyErr))
	case keyErr != nil:
		return deny(msgInvalid, fmt.Errorf("issuer %s: %w", o.cfg.URL, keyErr))
	}
	return deny(msgInvalid, fmt.Errorf("issuer %s: %w", o.cfg.URL, err))
}

// quoteTrunc quotes claim values for an internal message, cutting each to a
// length that keeps log lines short.
func quoteTrunc(vals []string) string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if len(v) > 80 {
			v = v[:80] + "..."
		}
		out = append(out, v)
	}
	b, _ := json.Marshal(out)
	return string(b)
}
