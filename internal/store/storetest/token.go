package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

var tokenTests = []test{
	{"RoundTrip", testTokenRoundTrip},
	{"CreateDuplicate", testTokenCreateDuplicate},
	{"Unknown", testTokenUnknown},
	{"RevokeKeepsFirst", testTokenRevokeKeepsFirst},
	{"ListNewestFirst", testTokenList},
}

// token returns a service token with every field but RevokedAt set.
func token(id string, issued time.Time) *sluice.ServiceToken {
	return &sluice.ServiceToken{
		ID:        id,
		Subject:   "ci-deploy",
		Groups:    []string{"ai-agents", "ci"},
		IssuedAt:  issued,
		ExpiresAt: issued.Add(30 * 24 * time.Hour),
	}
}

// mustCreateToken creates tok or fails the test.
func mustCreateToken(t *testing.T, st store.Store, tok *sluice.ServiceToken) {
	t.Helper()
	if err := st.CreateToken(context.Background(), tok); err != nil {
		t.Fatalf("CreateToken(%s): %v", tok.ID, err)
	}
}

// mustGetToken returns the token with the given id or fails the test.
func mustGetToken(t *testing.T, st store.Store, id string) *sluice.ServiceToken {
	t.Helper()
	tok, err := st.GetToken(context.Background(), id)
	if err != nil {
		t.Fatalf("GetToken(%s): %v", id, err)
	}
	return tok
}

func testTokenRoundTrip(t *testing.T, st store.Store) {
	full := token("t-full", at(0))
	minimal := &sluice.ServiceToken{ID: "t-min", Subject: "bot", IssuedAt: at(time.Second)}
	mustCreateToken(t, st, full)
	mustCreateToken(t, st, minimal)
	equalToken(t, mustGetToken(t, st, "t-full"), full)
	got := mustGetToken(t, st, "t-min")
	equalToken(t, got, minimal)
	if !got.ExpiresAt.IsZero() || !got.RevokedAt.IsZero() {
		t.Errorf("minimal token has ExpiresAt %v and RevokedAt %v, want both zero", got.ExpiresAt, got.RevokedAt)
	}
}

func testTokenCreateDuplicate(t *testing.T, st store.Store) {
	first := token("t1", at(0))
	mustCreateToken(t, st, first)
	second := token("t1", at(time.Hour))
	second.Subject = "mallory"
	if err := st.CreateToken(context.Background(), second); err == nil {
		t.Fatal("CreateToken with a duplicate id succeeded, want an error")
	}
	equalToken(t, mustGetToken(t, st, "t1"), first)
}

func testTokenUnknown(t *testing.T, st store.Store) {
	ctx := context.Background()
	mustCreateToken(t, st, token("t1", at(0)))
	if tok, err := st.GetToken(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetToken(unknown) = %v, %v; want ErrNotFound", tok, err)
	}
	if err := st.RevokeToken(ctx, "nope", at(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeToken(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := st.GetToken(ctx, "T1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetToken(T1) = %v, want ErrNotFound (ids are case-sensitive)", err)
	}
}

func testTokenRevokeKeepsFirst(t *testing.T, st store.Store) {
	ctx := context.Background()
	tok, other := token("t1", at(0)), token("t2", at(time.Second))
	mustCreateToken(t, st, tok)
	mustCreateToken(t, st, other)

	if err := st.RevokeToken(ctx, "t1", at(time.Hour)); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	tok.RevokedAt = at(time.Hour)
	equalToken(t, mustGetToken(t, st, "t1"), tok)

	if err := st.RevokeToken(ctx, "t1", at(2*time.Hour)); err != nil {
		t.Fatalf("RevokeToken twice: %v", err)
	}
	equalToken(t, mustGetToken(t, st, "t1"), tok)
	equalToken(t, mustGetToken(t, st, "t2"), other)
}

func testTokenList(t *testing.T, st store.Store) {
	ctx := context.Background()
	got, err := st.ListTokens(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("ListTokens on an empty store = %d tokens, %v; want none", len(got), err)
	}
	want := map[string]*sluice.ServiceToken{}
	for _, c := range []struct {
		id     string
		minute int
	}{{"t2", 2}, {"t4", 4}, {"t1", 1}, {"t3", 3}} {
		tok := token(c.id, at(time.Duration(c.minute)*time.Minute))
		mustCreateToken(t, st, tok)
		want[c.id] = tok
	}
	if err := st.RevokeToken(ctx, "t3", at(time.Hour)); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	want["t3"].RevokedAt = at(time.Hour)

	got, err = st.ListTokens(ctx)
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	var ids []string
	for _, tok := range got {
		ids = append(ids, tok.ID)
		equalToken(t, tok, want[tok.ID])
	}
	if w := []string{"t4", "t3", "t2", "t1"}; !slices.Equal(ids, w) {
		t.Errorf("ListTokens = %v, want %v (newest first, revoked included)", ids, w)
	}
}
