package authn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

const (
	// maxJWKSBytes caps the size of a key set response.
	maxJWKSBytes = 1 << 20
	// keyMaxAge is how long a fetched key set is trusted before the next
	// verification refetches it, so that a key the issuer withdrew stops
	// being accepted even if no token ever names an unknown key.
	keyMaxAge = time.Hour
	// fetchTimeout bounds one discovery or key set request.
	fetchTimeout = 10 * time.Second
)

// Errors of a key set, recorded in keyErrSlot so that the caller can tell
// them apart after go-oidc has flattened them into strings.
var (
	errUnknownKey   = errors.New("no key in the issuer's key set matches the token's key id and algorithm")
	errBadSignature = errors.New("signature does not verify")
)

// keysUnavailableError says the key set could not be fetched, so a token
// naming an unknown key could not be checked.
type keysUnavailableError struct{ err error }

func (e *keysUnavailableError) Error() string { return "fetch key set: " + e.err.Error() }
func (e *keysUnavailableError) Unwrap() error { return e.err }

// keyErrSlot is the context key under which the caller of
// IDTokenVerifier.Verify passes a *error for VerifySignature to fill in.
type keyErrSlot struct{}

// keySet is an oidc.KeySet backed by an issuer's JWKS endpoint. It caches the
// keys, refetches them when a token names a key the cache does not hold (at
// most once per throttle interval, with concurrent callers sharing one fetch)
// and when the cache is older than keyMaxAge. It is safe for concurrent use.
type keySet struct {
	url     string
	client  *http.Client
	algs    []jose.SignatureAlgorithm // the issuer's allow-list
	log     *slog.Logger
	now     func() time.Time
	refresh *throttle

	mu        sync.RWMutex
	keys      []jose.JSONWebKey
	fetchedAt time.Time // of the last successful fetch
	lastErr   error     // of the last failed fetch
	failing   bool      // the last fetch failed and was logged
}

var _ oidc.KeySet = (*keySet)(nil)

func newKeySet(url string, client *http.Client, algs []string, minRefresh time.Duration,
	log *slog.Logger, now func() time.Time) *keySet {
	ks := &keySet{url: url, client: client, log: log, now: now}
	for _, a := range algs {
		ks.algs = append(ks.algs, jose.SignatureAlgorithm(a))
	}
	ks.refresh = &throttle{interval: minRefresh, timeout: fetchTimeout, now: now}
	return ks
}

// VerifySignature parses a compact JWS, checks its algorithm against the
// allow-list before looking up any key, verifies the signature with the key
// the header names and returns the payload. When ctx carries a keyErrSlot, the
// typed error is also stored there.
func (ks *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := ks.verify(ctx, jwt)
	if err != nil {
		if slot, ok := ctx.Value(keyErrSlot{}).(*error); ok {
			*slot = err
		}
	}
	return payload, err
}

func (ks *keySet) verify(ctx context.Context, jwt string) ([]byte, error) {
	// ParseSignedCompact rejects an alg outside the allow-list.
	jws, err := jose.ParseSignedCompact(jwt, ks.algs)
	if err != nil {
		return nil, fmt.Errorf("parse token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("token must carry exactly one signature")
	}
	h := jws.Signatures[0].Header
	alg, kid := jose.SignatureAlgorithm(h.Algorithm), h.KeyID

	if !ks.stale() {
		if payload, found, err := ks.try(jws, kid, alg); found {
			return payload, err
		}
	}
	ferr := ks.refresh.do(ctx, ks.fetch)
	if payload, found, err := ks.try(jws, kid, alg); found {
		return payload, err
	}
	if ferr != nil && !errors.Is(ferr, errThrottled) {
		return nil, &keysUnavailableError{err: ferr}
	}
	if err := ks.neverFetched(); err != nil {
		// Throttled, and no fetch has worked yet: the issuer is down, not
		// the token bad.
		return nil, &keysUnavailableError{err: err}
	}
	return nil, errUnknownKey
}

// stale reports whether the cache is empty or older than keyMaxAge.
func (ks *keySet) stale() bool {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.fetchedAt.IsZero() || ks.now().Sub(ks.fetchedAt) > keyMaxAge
}

// neverFetched returns the last fetch error if no fetch has succeeded yet.
func (ks *keySet) neverFetched() error {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	if ks.fetchedAt.IsZero() && ks.lastErr != nil {
		return ks.lastErr
	}
	return nil
}

// try verifies jws with the cached keys that match kid (any key when the
// token has no kid) and can verify alg. found is false when there is no such
// key, which is the only case that warrants a refetch.
func (ks *keySet) try(jws *jose.JSONWebSignature, kid string, alg jose.SignatureAlgorithm) (payload []byte, found bool, err error) {
	ks.mu.RLock()
	keys := ks.keys
	ks.mu.RUnlock()
	for i := range keys {
		k := &keys[i]
		if (kid != "" && k.KeyID != kid) || !keyFits(k, alg) {
			continue
		}
		found = true
		if payload, err := jws.Verify(k); err == nil {
			return payload, true, nil
		}
	}
	if found {
		return nil, true, errBadSignature
	}
	return nil, false, nil
}

// fetch downloads the key set and replaces the cache. It logs the first of a
// run of failures and the recovery after it, and nothing in between.
func (ks *keySet) fetch(ctx context.Context) error {
	keys, err := ks.download(ctx)
	ks.mu.Lock()
	wasFailing := ks.failing
	if err == nil {
		ks.keys, ks.fetchedAt, ks.lastErr, ks.failing = keys, ks.now(), nil, false
	} else {
		ks.lastErr, ks.failing = err, true
	}
	ks.mu.Unlock()
	switch {
	case err != nil && !wasFailing:
		ks.log.Warn("authn: cannot fetch the issuer's key set; tokens signed with keys not yet cached are refused until it succeeds",
			"jwks_url", ks.url, "err", err)
	case err == nil && wasFailing:
		ks.log.Info("authn: key set fetched again", "jwks_url", ks.url, "keys", len(keys))
	case err == nil:
		ks.log.Debug("authn: key set fetched", "jwks_url", ks.url, "keys", len(keys))
	}
	return err
}

func (ks *keySet) download(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", ks.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read key set: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("key set is larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}
