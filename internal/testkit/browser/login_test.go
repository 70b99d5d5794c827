package browser_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sluicehq/sluice/internal/testkit/browser"
	"github.com/sluicehq/sluice/internal/testkit/issuer"
)

// app is a web app that logs its users in at the test issuer with the
// authorization code flow and PKCE, as the console does.
type app struct {
	*httptest.Server
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier

	mu       sync.Mutex
	logins   map[string]pendingLogin // by state
	sessions map[string]string       // session cookie -> email
}

type pendingLogin struct{ verifier, nonce string }

func newApp(t *testing.T, iss *issuer.Issuer) *app {
	a := &app{logins: map[string]pendingLogin{}, sessions: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)

	p, err := oidc.NewProvider(t.Context(), iss.URL())
	if err != nil {
		t.Fatal(err)
	}
	a.conf = oauth2.Config{
		ClientID:     "console",
		ClientSecret: "console-secret",
		Endpoint:     p.Endpoint(),
		RedirectURL:  a.URL + "/callback",
		Scopes:       []string{oidc.ScopeOpenID, "email", "groups"},
	}
	a.verifier = p.Verifier(&oidc.Config{ClientID: "console"})
	iss.RegisterClient("console", "console-secret", a.conf.RedirectURL)
	return a
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie("session")
	a.mu.Lock()
	email := ""
	if err == nil {
		email = a.sessions[c.Value]
	}
	a.mu.Unlock()
	if email == "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	fmt.Fprintf(w, `<!doctype html><title>home</title><p id="whoami">Signed in as %s</p>`, html.EscapeString(email))
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	a.mu.Lock()
	a.logins[state] = pendingLogin{verifier: verifier, nonce: nonce}
	a.mu.Unlock()
	http.Redirect(w, r, a.conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusSeeOther)
}

func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	fail := func(msg string) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<!doctype html><title>login failed</title><p id="error">%s</p>`, html.EscapeString(msg))
	}
	q := r.URL.Query()
	a.mu.Lock()
	pl, ok := a.logins[q.Get("state")]
	delete(a.logins, q.Get("state"))
	a.mu.Unlock()
	switch {
	case !ok:
		fail("unknown state")
		return
	case q.Has("error"):
		fail(q.Get("error") + ": " + q.Get("error_description"))
		return
	}
	tok, err := a.conf.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(pl.verifier))
	if err != nil {
		fail("exchange: " + err.Error())
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(r.Context(), raw)
	if err != nil || idt.Nonce != pl.nonce {
		fail(fmt.Sprintf("id token: %v (nonce %q)", err, idt.Nonce))
		return
	}
	var claims struct {
		Email string `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil {
		fail(err.Error())
		return
	}
	session := oauth2.GenerateVerifier()
	a.mu.Lock()
	a.sessions[session] = claims.Email
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "session", Value: session, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func TestLoginAtIssuer(t *testing.T) {
	iss := issuer.Start(t)
	iss.AddUser("alice", map[string]any{"email": "alice@example.com", "groups": []string{"dba"}})
	iss.AddUser("bob", map[string]any{"email": "bob@example.com"})
	a := newApp(t, iss)
	b := browser.Start(t)

	p := b.NewPage(t)
	p.Goto(a.URL + "/")
	p.WaitURL(iss.URL() + "/authorize?")
	p.WaitText("#user-list", "bob")
	p.Fill("#username", "bob")
	p.Screenshot("issuer login")
	p.Click("#login")
	p.WaitURL(a.URL + "/")
	if got := p.Text("#whoami"); got != "Signed in as bob@example.com" {
		t.Fatalf("app says %q", got)
	}
	if n, e := iss.TokenRequests(), iss.LastTokenError(); n != 1 || e != "" {
		t.Fatalf("token requests %d, last error %q", n, e)
	}
	// The session sticks; no new login.
	p.Goto(a.URL + "/")
	p.WaitText("#whoami", "bob@example.com")

	// Another context has no session; pressing Enter submits the form, and
	// a wrong name gets the form back.
	p2 := b.NewPage(t)
	p2.Goto(a.URL + "/")
	p2.Fill("#username", "mallory")
	p2.Press("#username", "Enter")
	p2.WaitText("#error", `unknown user "mallory"`)
	p2.Fill("#username", "alice")
	p2.Press("#username", "Enter")
	p2.WaitText("#whoami", "alice@example.com")

	// Denying sends the error back to the app.
	p3 := b.NewPage(t)
	p3.Goto(a.URL + "/")
	p3.Click("#deny")
	p3.WaitText("#error", "access_denied")
	if !strings.HasPrefix(p3.URL(), a.URL+"/callback?") {
		t.Fatalf("denied login ends at %s", p3.URL())
	}
	if n := iss.TokenRequests(); n != 2 {
		t.Fatalf("token requests %d", n)
	}
}
