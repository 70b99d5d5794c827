package authn_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/authn"
	"github.com/sluicehq/sluice/internal/testkit/issuer"
)

const invalid = "token is not valid"

// TestKeyRotation: after the issuer rotates, a token with the new kid
// verifies once the rate limit allows a refetch, and a token signed with the
// retired key stops verifying.
func TestKeyRotation(t *testing.T) {
	s := newOIDCSetup(t, func(c *authn.Issuer) { c.MinRefresh = time.Minute })
	if n := s.iss.JWKSFetches(); n != 1 {
		t.Fatalf("key set fetched %d times at Open, want 1", n)
	}
	old := s.iss.Mint(nil)
	if _, err := s.authenticate(t, old); err != nil {
		t.Fatalf("token before rotation: %v", err)
	}

	s.iss.Rotate()
	s.watch.secret(s.iss.Secrets()...)
	fresh := s.iss.Mint(nil)

	// Within MinRefresh of the last fetch the unknown kid cannot trigger a
	// fetch, so the new token is refused for now.
	_, err := s.authenticate(t, fresh)
	wantErr(t, err, sluice.EUnauthenticated, invalid)
	if n := s.iss.JWKSFetches(); n != 1 {
		t.Fatalf("key set fetched %d times within MinRefresh, want 1", n)
	}

	s.clock.Advance(time.Minute)
	id, err := s.authenticate(t, fresh)
	if err != nil {
		t.Fatalf("token with the new kid after MinRefresh: %v", err)
	}
	if id.Subject != issuer.DefaultSubject {
		t.Fatalf("subject %q", id.Subject)
	}
	if n := s.iss.JWKSFetches(); n != 2 {
		t.Fatalf("key set fetched %d times, want 2", n)
	}

	// The retired key left the key set with the refetch.
	_, err = s.authenticate(t, old)
	wantErr(t, err, sluice.EUnauthenticated, invalid)
	if n := s.iss.JWKSFetches(); n != 2 {
		t.Fatalf("key set fetched %d times after the retired kid, want 2", n)
	}
	s.watch.check(t)
}

// TestKeySetMaxAge: a key the issuer withdrew stops verifying after the
// cache's maximum age even if no token ever names an unknown kid.
func TestKeySetMaxAge(t *testing.T) {
	s := newOIDCSetup(t, nil)
	s.clock.Advance(30 * time.Minute)
	old := s.iss.Mint(nil)
	if _, err := s.authenticate(t, old); err != nil {
		t.Fatal(err)
	}
	s.iss.Rotate()
	s.watch.secret(s.iss.Secrets()...)
	if _, err := s.authenticate(t, old); err != nil {
		t.Fatalf("cached key refused before the cache aged: %v", err)
	}
	s.clock.Advance(31 * time.Minute) // cache now older than an hour
	_, err := s.authenticate(t, old)
	wantErr(t, err, sluice.EUnauthenticated, invalid)
	if n := s.iss.JWKSFetches(); n != 2 {
		t.Fatalf("key set fetched %d times, want 2", n)
	}
	s.watch.check(t)
}

// TestJWKSRefetchRateLimited sprays unknown kids, concurrently and in
// sequence: each MinRefresh window allows exactly one fetch, shared by the
// concurrent callers.
func TestJWKSRefetchRateLimited(t *testing.T) {
	s := newOIDCSetup(t, func(c *authn.Issuer) { c.MinRefresh = time.Minute })
	spray := func(concurrent bool) {
		var wg sync.WaitGroup
		for range 50 {
			tok := s.iss.UnknownKidToken(nil)
			run := func() {
				_, err := s.authenticate(t, tok)
				wantErr(t, err, sluice.EUnauthenticated, invalid)
			}
			if concurrent {
				wg.Go(run)
			} else {
				run()
			}
		}
		wg.Wait()
	}

	spray(true) // right after Open's fetch: no fetch allowed
	if n := s.iss.JWKSFetches(); n != 1 {
		t.Fatalf("after a spray within MinRefresh of Open: %d fetches, want 1", n)
	}
	s.clock.Advance(time.Minute)
	spray(true)
	if n := s.iss.JWKSFetches(); n != 2 {
		t.Fatalf("after a concurrent spray: %d fetches, want 2", n)
	}
	spray(false)
	if n := s.iss.JWKSFetches(); n != 2 {
		t.Fatalf("after a sequential spray in the same window: %d fetches, want 2", n)
	}
	s.clock.Advance(59 * time.Second)
	spray(false)
	if n := s.iss.JWKSFetches(); n != 2 {
		t.Fatalf("59 s later: %d fetches, want 2", n)
	}
	s.clock.Advance(time.Second)
	spray(false)
	if n := s.iss.JWKSFetches(); n != 3 {
		t.Fatalf("a full MinRefresh later: %d fetches, want 3", n)
	}
	// Good tokens keep verifying from the cache throughout.
	if _, err := s.authenticate(t, s.iss.Mint(nil)); err != nil {
		t.Fatal(err)
	}
	if n := s.iss.JWKSFetches(); n != 3 {
		t.Fatalf("a good token caused a fetch: %d, want 3", n)
	}
	s.watch.check(t)
}

// TestDiscoveryFailure: an issuer that is down at Open does not stop the
// gateway; the failure is logged once, its tokens get EUnavailable, discovery
// is retried lazily at most once per MinRefresh, and its tokens verify once
// it is back. Other issuers work throughout.
func TestDiscoveryFailure(t *testing.T) {
	clk := newClock()
	watch := &leakWatch{}
	down, up := issuer.Start(t), issuer.Start(t)
	for _, i := range []*issuer.Issuer{down, up} {
		i.Now = clk.Now
		watch.secret(i.Secrets()...)
	}
	down.SetDown(true)
	auth, err := authn.New(authn.Config{
		Issuers: []authn.Issuer{
			{URL: down.URL(), Audiences: []string{"sluice"}},
			{URL: up.URL(), Audiences: []string{"sluice"}},
		},
		Logger: watch.logger(),
		Now:    clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.Open(t.Context()); err != nil {
		t.Fatalf("Open must not fail for an unreachable issuer: %v", err)
	}
	try := func(i *issuer.Issuer) error {
		tok := watch.token(i.Mint(nil))
		_, err := auth.Authenticate(t.Context(), tok)
		watch.err(err)
		return err
	}
	warnings := func() int { return strings.Count(watch.logs.String(), "OIDC discovery failed") }

	for range 5 {
		wantErr(t, try(down), sluice.EUnavailable, "token issuer is unavailable, try again later")
		if err := try(up); err != nil {
			t.Fatalf("the reachable issuer's token: %v", err)
		}
	}
	if n := down.DiscoveryFetches(); n != 1 {
		t.Fatalf("discovery fetched %d times within MinRefresh, want 1", n)
	}
	clk.Advance(time.Minute)
	wantErr(t, try(down), sluice.EUnavailable, "token issuer is unavailable, try again later")
	if n := down.DiscoveryFetches(); n != 2 {
		t.Fatalf("discovery fetched %d times after MinRefresh, want 2", n)
	}
	if n := warnings(); n != 1 {
		t.Fatalf("discovery failure logged %d times, want once:\n%s", n, watch.logs.String())
	}

	down.SetDown(false)
	wantErr(t, try(down), sluice.EUnavailable, "token issuer is unavailable, try again later") // still rate limited
	clk.Advance(time.Minute)
	if err := try(down); err != nil {
		t.Fatalf("after the issuer came back: %v", err)
	}
	if !strings.Contains(watch.logs.String(), "OIDC discovery succeeded after earlier failures") {
		t.Errorf("recovery not logged:\n%s", watch.logs.String())
	}
	watch.check(t)
}

// TestJWKSDown: discovery works but the key set cannot be fetched; tokens
// get EUnavailable (the issuer is down, not the token bad) until it can.
func TestJWKSDown(t *testing.T) {
	clk := newClock()
	watch := &leakWatch{}
	iss := issuer.Start(t)
	iss.Now = clk.Now
	watch.secret(iss.Secrets()...)
	auth, err := authn.New(authn.Config{
		Issuers: []authn.Issuer{{URL: iss.URL(), JWKSURL: iss.URL() + "/no-such-jwks", Audiences: []string{"sluice"}}},
		Logger:  watch.logger(),
		Now:     clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	tok := watch.token(iss.Mint(nil))
	_, err = auth.Authenticate(t.Context(), tok)
	watch.err(err)
	wantErr(t, err, sluice.EUnavailable, "token issuer is unavailable, try again later")
	if n := iss.DiscoveryFetches(); n != 0 {
		t.Errorf("discovery fetched %d times although JWKSURL is set", n)
	}
	if n := strings.Count(watch.logs.String(), "cannot fetch the issuer's key set"); n != 1 {
		t.Errorf("key set failure logged %d times, want 1", n)
	}
	watch.check(t)
}

// TestNotOpened: an Authenticator that was never opened discovers an issuer
// on its first token.
func TestNotOpened(t *testing.T) {
	clk := newClock()
	iss := issuer.Start(t)
	iss.Now = clk.Now
	auth, err := authn.New(authn.Config{Issuers: []authn.Issuer{{URL: iss.URL(), Audiences: []string{"sluice"}}}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(t.Context(), iss.Mint(nil)); err != nil {
		t.Fatal(err)
	}
	if d, j := iss.DiscoveryFetches(), iss.JWKSFetches(); d != 1 || j != 1 {
		t.Fatalf("discovery %d, key set %d fetches; want 1 and 1", d, j)
	}
}

// TestCanceledContext: a caller whose context ends while the key set is
// being fetched gets ECanceled.
func TestCanceledContext(t *testing.T) {
	clk := newClock()
	iss := issuer.Start(t)
	iss.Now = clk.Now
	auth, err := authn.New(authn.Config{Issuers: []authn.Issuer{{URL: iss.URL(), Audiences: []string{"sluice"}}}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = auth.Authenticate(ctx, iss.Mint(nil))
	wantErr(t, err, sluice.ECanceled, "authentication canceled")
}
