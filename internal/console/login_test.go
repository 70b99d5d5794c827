package console

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/authn"
	"github.com/sluicehq/sluice/internal/testkit/issuer"
)

// oidcFixture is a console whose people log in at a local test issuer.
func oidcFixture(t *testing.T, secret string) (*fixture, *issuer.Issuer) {
	f := newFixture(t)
	iss := issuer.Start(t)
	callback := f.srv.URL + "/console/callback"
	iss.RegisterClient("console", secret, callback)
	iss.AddUser("alice", map[string]any{"sub": "u-alice", "name": "Alice", "email": "alice@example.com", "groups": []string{"dba", "staff"}})
	iss.AddUser("eve", map[string]any{"sub": "u-eve", "groups": []string{"staff"}})
	f.console.Approvers = append(f.console.Approvers, subjects(t, "subject:u-alice")...)
	f.console.OIDC = &OIDC{Issuer: iss.URL(), ClientID: "console", ClientSecret: secret, RedirectURL: callback,
		Scopes: []string{"openid", "profile", "email"}, Claims: authn.Issuer{SubjectClaim: "sub", GroupsClaims: []string{"groups"}}}
	return f, iss
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// issuerLogin follows the console's redirect to the issuer and logs in
// there as user (or presses deny), returning the issuer's redirect back.
func (b *browser) issuerLogin(start *page, user, action string) string {
	b.t.Helper()
	if start.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login start: %d\n%s", start.StatusCode, start.Body)
	}
	authz := b.get(start.Header.Get("Location"))
	if authz.StatusCode != 200 {
		b.t.Fatalf("authorize: %d\n%s", authz.StatusCode, authz.Body)
	}
	form := url.Values{"username": {user}, "action": {action}}
	for _, m := range hiddenInput.FindAllStringSubmatch(authz.Body, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	u, _ := url.Parse(start.Header.Get("Location"))
	u.RawQuery = ""
	resp := b.post(u.String(), form, "Origin", "", "Sec-Fetch-Site", "")
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("issuer login: %d\n%s", resp.StatusCode, resp.Body)
	}
	return resp.Header.Get("Location")
}

func TestOIDCLogin(t *testing.T) {
	for _, c := range []struct{ name, secret string }{{"confidential", "s3cret"}, {"public", ""}} {
		t.Run(c.name, func(t *testing.T) {
			f, iss := oidcFixture(t, c.secret)
			b := f.browser()
			lp := b.get("/console/login?next=" + url.QueryEscape("/console/reviews/history"))
			contains(t, lp, `data-testid="login-oidc"`, `href="/console/login/oidc?next=%2fconsole%2freviews%2fhistory"`)
			start := b.get("/console/login/oidc?next=" + url.QueryEscape("/console/reviews/history"))
			loc, _ := url.Parse(start.Header.Get("Location"))
			q := loc.Query()
			if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" ||
				q.Get("state") == "" || q.Get("client_id") != "console" {
				t.Fatalf("authorization request %s", loc)
			}
			back := b.issuerLogin(start, "alice", "login")
			cb := b.get(back)
			if cb.StatusCode != http.StatusSeeOther || cb.Header.Get("Location") != "/console/reviews/history" {
				t.Fatalf("callback: %d %s %q\n%s", cb.StatusCode, cb.Header.Get("Location"), iss.LastTokenError(), cb.Body)
			}
			if e := iss.LastTokenError(); e != "" {
				t.Fatalf("token endpoint: %s", e)
			}
			p := b.get("/console/reviews")
			contains(t, p, `data-subject="u-alice"`, "Alice (u-alice)", `data-testid="roles">approver<`)
			lacks(t, p, "dev-login-banner")
			// The identity is what the gateway's claim settings read, with
			// only the groups the configuration names.
			var sess *http.Cookie
			for _, ck := range b.client.Jar.Cookies(mustURL(t, f.srv.URL+"/console/")) {
				if ck.Name == sessionCookie {
					sess = ck
				}
			}
			v := f.console.viewer(withCookie(sess))
			if v == nil || v.ID.Subject != "u-alice" || strings.Join(v.ID.Groups, ",") != "dba" || v.ID.Method != sluice.AuthConsole ||
				v.ID.Issuer != iss.URL() {
				t.Fatalf("viewer %+v", v)
			}
			// The same callback again is refused: the flow was used once.
			if again := b.get(back); again.StatusCode != http.StatusBadRequest {
				t.Fatalf("replayed callback: %d", again.StatusCode)
			}
		})
	}
}

func TestOIDCCallbackRefusals(t *testing.T) {
	f, iss := oidcFixture(t, "s3cret")

	// A callback from another browser's flow: this one has no login state.
	b := f.browser()
	back := b.issuerLogin(b.get("/console/login/oidc"), "alice", "login")
	other := f.browser()
	if p := other.get(back); p.StatusCode != http.StatusBadRequest {
		t.Fatalf("callback without the login cookie: %d", p.StatusCode)
	}

	// A state that is not this browser's.
	b = f.browser()
	back = b.issuerLogin(b.get("/console/login/oidc"), "alice", "login")
	u, _ := url.Parse(back)
	q := u.Query()
	q.Set("state", "forged")
	u.RawQuery = q.Encode()
	if p := b.get(u.String()); p.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged state: %d", p.StatusCode)
	}

	// The person denies at the issuer.
	b = f.browser()
	back = b.issuerLogin(b.get("/console/login/oidc"), "alice", "deny")
	p := b.get(back)
	if p.StatusCode != http.StatusUnauthorized {
		t.Fatalf("denied at the issuer: %d", p.StatusCode)
	}
	contains(t, p, "did not log you in (access_denied)")

	// A code from someone else's flow: the PKCE verifier does not match.
	b1, b2 := f.browser(), f.browser()
	back1 := b1.issuerLogin(b1.get("/console/login/oidc"), "alice", "login")
	b2start := b2.get("/console/login/oidc")
	b2.issuerLogin(b2start, "alice", "login")
	loc2, _ := url.Parse(b2start.Header.Get("Location"))
	u1, _ := url.Parse(back1)
	q1 := u1.Query()
	q1.Set("state", loc2.Query().Get("state")) // b2's state, b1's code
	u1.RawQuery = q1.Encode()
	if p := b2.get(u1.String()); p.StatusCode != http.StatusUnauthorized || !strings.Contains(iss.LastTokenError(), "code_verifier") {
		t.Fatalf("stolen code: %d %q", p.StatusCode, iss.LastTokenError())
	}

	// A person who is neither approver nor auditor gets in but sees why
	// there is nothing for them.
	b = f.browser()
	if p := b.get(b.issuerLogin(b.get("/console/login/oidc"), "eve", "login")); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("eve: %d", p.StatusCode)
	}
	contains(t, b.get("/console/reviews"), `data-testid="no-access"`)
}

// fakeAccess answers for access tokens as the gateway would.
type fakeAccess struct{ id *sluice.Identity }

func (a fakeAccess) Authenticate(context.Context, string) (*sluice.Identity, error) { return a.id, nil }

func TestOIDCAccessTokenGroups(t *testing.T) {
	f, iss := oidcFixture(t, "s3cret")
	// The gateway's own authenticator accepts the login's access token
	// (audience "sluice"), whose subject is the ID token's.
	auth, err := authn.New(authn.Config{Issuers: []authn.Issuer{{URL: iss.URL(), Audiences: []string{issuer.DefaultAudience}}}})
	must(t, err)
	f.console.OIDC.AccessTokens = auth
	b := f.browser()
	if p := b.get(b.issuerLogin(b.get("/console/login/oidc"), "alice", "login")); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("login with an access token: %d\n%s", p.StatusCode, p.Body)
	}
	// An access token naming someone else refuses the login.
	f.console.OIDC.AccessTokens = fakeAccess{id: &sluice.Identity{Subject: "u-mallory", Method: sluice.AuthOIDC, Groups: []string{"security"}}}
	b = f.browser()
	if p := b.get(b.issuerLogin(b.get("/console/login/oidc"), "alice", "login")); p.StatusCode != http.StatusUnauthorized {
		t.Fatalf("mismatched access token: %d", p.StatusCode)
	}
	// One that matches adds its groups.
	f.console.OIDC.AccessTokens = fakeAccess{id: &sluice.Identity{Subject: "u-alice", Method: sluice.AuthOIDC, Groups: []string{"security"}}}
	b = f.browser()
	b.get(b.issuerLogin(b.get("/console/login/oidc"), "alice", "login"))
	contains(t, b.get("/console/reviews"), `data-testid="roles">auditor, approver<`)
}

func TestOIDCIssuerDown(t *testing.T) {
	f, iss := oidcFixture(t, "s3cret")
	iss.SetDown(true)
	p := f.browser().get("/console/login/oidc")
	if p.StatusCode != http.StatusBadGateway {
		t.Fatalf("issuer down: %d", p.StatusCode)
	}
	contains(t, p, "cannot be reached")
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "/console/reviews",
		"/console/sessions?x=1":     "/console/sessions?x=1",
		"https://evil.example/":     "/console/reviews",
		"//evil.example/console/":   "/console/reviews",
		"/console//evil.example":    "/console/reviews",
		"/console/\\evil":           "/console/reviews",
		"/console/login?next=x":     "/console/reviews",
		"/other":                    "/console/reviews",
		"/console/reviews/rv_1#top": "/console/reviews/rv_1#top",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
