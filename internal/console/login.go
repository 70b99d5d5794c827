package console

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sluicehq/sluice"
)

// providerCache holds the issuer's discovered configuration. Discovery
// runs on the first login and, after a failure, at most every
// rediscoverAfter.
type providerCache struct {
	mu       sync.Mutex
	p        *oidc.Provider
	failedAt time.Time
	err      error
}

const rediscoverAfter = 10 * time.Second

func (s *Server) httpClient() *http.Client {
	if s.OIDC.HTTPClient != nil {
		return s.OIDC.HTTPClient
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// provider returns the issuer's discovered configuration.
func (s *Server) provider(ctx context.Context) (*oidc.Provider, error) {
	c := &s.oidcCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p != nil {
		return c.p, nil
	}
	if c.err != nil && s.now().Sub(c.failedAt) < rediscoverAfter {
		return nil, c.err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, s.httpClient()), s.OIDC.Issuer)
	if err != nil {
		c.err, c.failedAt = fmt.Errorf("discover issuer %s: %w", s.OIDC.Issuer, err), s.now()
		return nil, c.err
	}
	c.p, c.err = p, nil
	return p, nil
}

// oauthConfig is the client's configuration. A public client sends its id
// in the form; a confidential one authenticates with client_secret_basic
// unless the issuer supports only client_secret_post (one try, so that a
// refused code is never sent twice).
func (s *Server) oauthConfig(p *oidc.Provider) *oauth2.Config {
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	var meta struct {
		Methods []string `json:"token_endpoint_auth_methods_supported"`
	}
	_ = p.Claims(&meta)
	if s.OIDC.ClientSecret == "" ||
		len(meta.Methods) > 0 && !slices.Contains(meta.Methods, "client_secret_basic") && slices.Contains(meta.Methods, "client_secret_post") {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{ClientID: s.OIDC.ClientID, ClientSecret: s.OIDC.ClientSecret, Endpoint: ep,
		RedirectURL: s.OIDC.RedirectURL, Scopes: s.OIDC.Scopes}
}

// loginMessages are the notes the login page shows for ?msg=, so that
// no text from the URL is ever shown.
var loginMessages = map[string]string{
	"logged_out": "You are logged out.",
	"expired":    "Your session has ended; log in again.",
}

// loginPage shows the ways to log in.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if v := s.viewer(r); v != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	ls := s.loginState(r)
	s.setLogin(w, r, ls)
	s.showLogin(w, r, http.StatusOK, ls, next, "", loginMessages[r.URL.Query().Get("msg")])
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, ls *loginState, next, errMsg, flash string) {
	devOK, devWhy := s.devAllowed(r)
	s.render(w, r, status, "login", &pageData{Title: "Log in", Error: errMsg, Flash: flash, Data: map[string]any{
		"OIDC": s.OIDC != nil, "Dev": s.DevLogin, "DevOK": devOK, "DevWhy": devWhy, "Next": next,
		"CSRF": s.sealer.token("login", ls.CSRF),
	}})
}

// loginState returns the browser's login state, or a fresh one.
func (s *Server) loginState(r *http.Request) *loginState {
	var ls loginState
	if c, err := r.Cookie(s.cookieName(r, loginCookie)); err == nil {
		if s.sealer.open("login", c.Value, &ls) == nil && s.now().Before(time.Unix(ls.Expires, 0)) && ls.CSRF != "" {
			return &ls
		}
	}
	return &loginState{CSRF: randomID(18)}
}

func (s *Server) setLogin(w http.ResponseWriter, r *http.Request, ls *loginState) {
	exp := s.now().Add(loginTTL)
	ls.Expires = exp.Unix()
	v, err := s.sealer.seal("login", ls)
	if err != nil {
		s.log().Error("console: seal login cookie", "err", err)
		return
	}
	s.setCookie(w, r, loginCookie, v, exp)
}

// loginOIDC starts the authorization code flow: a fresh state, nonce and
// PKCE verifier go into the login cookie, and the browser to the issuer.
func (s *Server) loginOIDC(w http.ResponseWriter, r *http.Request) {
	if s.OIDC == nil {
		s.fail(w, r, nil, http.StatusNotFound, "OIDC login is not configured (console.oidc).")
		return
	}
	ls := s.loginState(r)
	ls.Next = safeNext(r.URL.Query().Get("next"))
	p, err := s.provider(r.Context())
	if err != nil {
		s.log().Warn("console: OIDC login unavailable", "err", err)
		s.showLogin(w, r, http.StatusBadGateway, ls, ls.Next, "The identity provider cannot be reached; try again shortly.", "")
		return
	}
	ls.State, ls.Nonce, ls.Verifier = randomID(24), randomID(24), oauth2.GenerateVerifier()
	s.setLogin(w, r, ls)
	u := s.oauthConfig(p).AuthCodeURL(ls.State, oauth2.S256ChallengeOption(ls.Verifier), oidc.Nonce(ls.Nonce))
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// callback completes the authorization code flow: it checks the state
// against the login cookie, redeems the code with the PKCE verifier,
// verifies the ID token and its nonce, and starts a session for the
// identity it names.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	if s.OIDC == nil {
		s.fail(w, r, nil, http.StatusNotFound, "OIDC login is not configured (console.oidc).")
		return
	}
	q := r.URL.Query()
	ls := s.loginState(r)
	next := safeNext(ls.Next)
	state, nonce, verifier := ls.State, ls.Nonce, ls.Verifier
	// The flow is used once, whatever happens next.
	ls.State, ls.Nonce, ls.Verifier, ls.Next = "", "", "", ""
	s.setLogin(w, r, ls)
	refuse := func(status int, msg string, cause error) {
		s.log().Info("console: OIDC login refused", "remote", r.RemoteAddr, "reason", msg, "err", cause)
		s.showLogin(w, r, status, ls, next, msg, "")
	}
	if state == "" {
		refuse(http.StatusBadRequest, "This login is not the one this browser started, or it took too long. Log in again.", nil)
		return
	}
	if subtle.ConstantTimeCompare([]byte(state), []byte(q.Get("state"))) != 1 {
		refuse(http.StatusBadRequest, "The login's state does not match this browser's. Log in again.", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		refuse(http.StatusUnauthorized, "The identity provider did not log you in ("+oneLine(e, 60)+").", errors.New(q.Get("error_description")))
		return
	}
	p, err := s.provider(r.Context())
	if err != nil {
		refuse(http.StatusBadGateway, "The identity provider cannot be reached; try again shortly.", err)
		return
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(r.Context(), s.httpClient()), 15*time.Second)
	defer cancel()
	tok, err := s.oauthConfig(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		refuse(http.StatusUnauthorized, "The identity provider did not accept the login's code. Log in again.", err)
		return
	}
	id, err := s.identityFrom(ctx, p, tok, nonce)
	if err != nil {
		refuse(http.StatusUnauthorized, "The login could not be verified. Log in again.", err)
		return
	}
	if err := s.startSession(w, r, id, false); err != nil {
		refuse(http.StatusInternalServerError, "The session could not be started.", err)
		return
	}
	s.clearLogin(w, r)
	s.log().Info("console: login", "subject", id.Subject, "groups", id.Groups, "method", "oidc")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// identityFrom verifies the ID token of tok (signature, issuer, audience,
// expiry, nonce) and reads the person's identity from it with the
// gateway's claim settings; an access token the gateway accepts adds its
// groups.
func (s *Server) identityFrom(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, nonce string) (*sluice.Identity, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the token response has no id_token")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: s.OIDC.ClientID, Now: s.now}).Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verify ID token: %w", err)
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, errors.New("the ID token's nonce is not the login's")
	}
	var claims json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("ID token claims: %w", err)
	}
	ci := s.OIDC.Claims
	ci.URL = s.OIDC.Issuer
	id, err := ci.IdentityFromClaims(claims)
	if err != nil {
		return nil, err
	}
	id.Method = sluice.AuthConsole
	if s.OIDC.AccessTokens != nil && tok.AccessToken != "" {
		at, err := s.OIDC.AccessTokens.Authenticate(ctx, tok.AccessToken)
		if err == nil && at.Method == sluice.AuthOIDC {
			if at.Subject != id.Subject {
				return nil, fmt.Errorf("the access token's subject %q is not the ID token's %q", at.Subject, id.Subject)
			}
			for _, g := range at.Groups {
				if !slices.Contains(id.Groups, g) {
					id.Groups = append(id.Groups, g)
				}
			}
		}
	}
	return id, nil
}

func (s *Server) clearLogin(w http.ResponseWriter, r *http.Request) {
	s.setCookie(w, r, loginCookie, "", time.Time{})
}

// devAllowed reports whether the development login may be used for r:
// configured, and both the listener and the client on loopback.
func (s *Server) devAllowed(r *http.Request) (bool, string) {
	if !s.DevLogin {
		return false, ""
	}
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !isLoopbackAddr(local) {
		return false, "The development login works only on a loopback listener (listen.http on 127.0.0.1 or ::1)."
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err != nil || !isLoopbackIP(host) {
		return false, "The development login works only for a browser on this machine."
	}
	return true, ""
}

func isLoopbackAddr(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loginDev logs in as the subject and groups the form names. It is for
// demos: refused unless configured, on a loopback listener, for a
// loopback client, with the login form's token.
func (s *Server) loginDev(w http.ResponseWriter, r *http.Request) {
	if !s.DevLogin {
		s.fail(w, r, nil, http.StatusNotFound, "The development login is not enabled (console.dev_login).")
		return
	}
	if ok, why := s.devAllowed(r); !ok {
		s.log().Warn("console: development login refused", "remote", r.RemoteAddr, "reason", why)
		s.fail(w, r, nil, http.StatusForbidden, why)
		return
	}
	if err := s.crossSite.Check(r); err != nil {
		s.fail(w, r, nil, http.StatusForbidden, "This request came from another site and was refused.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, nil, http.StatusBadRequest, "The form could not be read.")
		return
	}
	ls := s.loginState(r)
	next := safeNext(r.PostFormValue("next"))
	if !s.sealer.checkToken("login", ls.CSRF, r.PostFormValue("csrf")) {
		s.setLogin(w, r, ls)
		s.showLogin(w, r, http.StatusForbidden, ls, next, "The login form's security token is missing or stale; try again.", "")
		return
	}
	subject := strings.TrimSpace(r.PostFormValue("subject"))
	var groups []string
	for _, g := range strings.FieldsFunc(r.PostFormValue("groups"), func(c rune) bool { return c == ',' || unicode.IsSpace(c) }) {
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	if subject == "" || len(subject) > 200 || strings.IndexFunc(subject, unicode.IsControl) >= 0 || len(groups) > 50 {
		s.setLogin(w, r, ls)
		s.showLogin(w, r, http.StatusBadRequest, ls, next, "Give a subject (at most 200 characters) and at most 50 groups.", "")
		return
	}
	id := &sluice.Identity{Subject: subject, Groups: groups, Method: sluice.AuthConsole, Issuer: "development-login"}
	if err := s.startSession(w, r, id, true); err != nil {
		s.fail(w, r, nil, http.StatusInternalServerError, "The session could not be started.")
		return
	}
	s.clearLogin(w, r)
	s.log().Warn("console: development login", "subject", subject, "groups", groups)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session: its id is remembered as logged out until it
// would have expired, and the cookie is deleted.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := s.logouts.add(v.sess.ID, v.sess.Expires); err != nil {
		s.log().Error("console: record logout", "err", err)
	}
	s.setCookie(w, r, sessionCookie, "", time.Time{})
	http.Redirect(w, r, "/console/login?msg=logged_out", http.StatusSeeOther)
}

// safeNext returns next if it is a console page on this server, else the
// inbox: a login never redirects elsewhere.
func safeNext(next string) string {
	const home = "/console/reviews"
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "/console/login") ||
		strings.ContainsAny(next, "\\\r\n") || strings.Contains(next, "//") {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return home
	}
	return next
}

// oneLine squeezes whitespace and cuts s to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
