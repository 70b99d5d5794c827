package authn_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/authn"
)

func TestRecheck(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := newMemStore()
	ts := authn.NewServiceTokens(t.TempDir(), st)
	ts.Now = clk.Now
	a, err := authn.New(authn.Config{ServiceTokens: ts, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok, rec, err := ts.Issue(ctx, "bot", []string{"agents"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if reason, e := a.Recheck(ctx, id); reason != "" || e != nil {
		t.Fatalf("fresh token: %q %v", reason, e)
	}
	if err := ts.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if reason, e := a.Recheck(ctx, id); reason != sluice.EndRevoked || e == nil || e.SQLState() != "28P01" {
		t.Fatalf("revoked token: %q %v", reason, e)
	}
	oidc := &sluice.Identity{Subject: "alice", Method: sluice.AuthOIDC, ExpiresAt: clk.Now().Add(time.Minute)}
	if reason, _ := a.Recheck(ctx, oidc); reason != "" {
		t.Fatalf("valid OIDC identity: %q", reason)
	}
	clk.Advance(2 * time.Minute)
	if reason, e := a.Recheck(ctx, oidc); reason != sluice.EndExpired || e == nil {
		t.Fatalf("expired OIDC identity: %q %v", reason, e)
	}
}
