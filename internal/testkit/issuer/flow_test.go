package issuer_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sluicehq/sluice/internal/testkit/issuer"
)

const callback = "http://127.0.0.1:9/callback"

// noRedirect is an HTTP client that returns redirects instead of following
// them, as the tests look at where the issuer sends the browser.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// setup starts an issuer with a confidential client "console", a public
// client "cli" and two users, and returns an OAuth config for "console".
func setup(t *testing.T) (*issuer.Issuer, *oidc.Provider, oauth2.Config) {
	t.Helper()
	iss := issuer.Start(t)
	iss.RegisterClient("console", "s3cret", callback, "http://127.0.0.1:9/other")
	iss.RegisterClient("cli", "", callback)
	iss.AddUser("alice", map[string]any{"name": "Alice", "email": "alice@example.com", "groups": []string{"dba", "oncall"}})
	iss.AddUser("bob", map[string]any{"sub": "user-bob", "email": "bob@example.com"})
	p, err := oidc.NewProvider(t.Context(), iss.URL())
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{
		ClientID:     "console",
		ClientSecret: "s3cret",
		Endpoint:     p.Endpoint(),
		RedirectURL:  callback,
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
	}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	return iss, p, conf
}

// get fetches u without following a redirect.
func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// submit posts the login form for the authorization request authURL as the
// form on the login page would, with the given username and button, and
// returns the redirect it answers with.
func submit(t *testing.T, iss *issuer.Issuer, authURL, username, action string) *url.URL {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	form := u.Query()
	form.Set("username", username)
	form.Set("action", action)
	resp, err := noRedirect.PostForm(iss.URL()+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login answered %s, want a redirect:\n%s", resp.Status, body)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// login runs the browser's part of the flow for conf as username and
// returns the code.
func login(t *testing.T, iss *issuer.Issuer, conf oauth2.Config, username string, opts ...oauth2.AuthCodeOption) string {
	t.Helper()
	authURL := conf.AuthCodeURL("state-1", opts...)
	if resp, body := get(t, authURL); resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize answered %s:\n%s", resp.Status, body)
	}
	loc := submit(t, iss, authURL, username, "login")
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != conf.RedirectURL {
		t.Fatalf("redirected to %s, want %s", loc, conf.RedirectURL)
	}
	if loc.Query().Get("state") != "state-1" || loc.Query().Get("code") == "" || loc.Query().Has("error") {
		t.Fatalf("redirect %s lacks code or state", loc)
	}
	return loc.Query().Get("code")
}

// oauthError returns the error code of a refused exchange.
func oauthError(t *testing.T, err error) string {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("exchange error %v is not a RetrieveError", err)
	}
	return re.ErrorCode
}

func TestAuthorizationCodeFlow(t *testing.T) {
	iss, p, conf := setup(t)
	ctx := t.Context()

	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-1", oidc.Nonce("nonce-1"), oauth2.S256ChallengeOption(verifier))
	resp, page := get(t, authURL)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("authorize answered %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`id="username"`, `id="login"`, `id="deny"`, "<li>alice</li>", "<li>bob</li>", "Log in to console"} {
		if !strings.Contains(page, want) {
			t.Errorf("login page lacks %s:\n%s", want, page)
		}
	}
	loc := submit(t, iss, authURL, "alice", "login")
	code := loc.Query().Get("code")
	if loc.Query().Get("state") != "state-1" || code == "" {
		t.Fatalf("redirect %s", loc)
	}

	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.Expiry.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("token type %q, expiry %s", tok.TokenType, tok.Expiry)
	}
	if n, e := iss.TokenRequests(), iss.LastTokenError(); n != 1 || e != "" {
		t.Fatalf("token requests %d, last error %q", n, e)
	}

	rawID, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: "console"}).Verify(ctx, rawID)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Name     string   `json:"name"`
		Email    string   `json:"email"`
		Groups   []string `json:"groups"`
		Azp      string   `json:"azp"`
		AuthTime int64    `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "alice" || idt.Nonce != "nonce-1" || idt.Issuer != iss.URL() ||
		claims.Name != "Alice" || claims.Email != "alice@example.com" || strings.Join(claims.Groups, ",") != "dba,oncall" ||
		claims.Azp != "console" || claims.AuthTime == 0 {
		t.Fatalf("id token %+v, claims %+v", idt, claims)
	}

	// The access token is for the audience sluice checks, by default.
	at, err := p.Verifier(&oidc.Config{ClientID: issuer.DefaultAudience}).Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	var atClaims struct {
		ClientID string   `json:"client_id"`
		Scope    string   `json:"scope"`
		Groups   []string `json:"groups"`
	}
	if err := at.Claims(&atClaims); err != nil {
		t.Fatal(err)
	}
	if at.Subject != "alice" || atClaims.ClientID != "console" || atClaims.Scope != "openid profile email" || len(atClaims.Groups) != 2 {
		t.Fatalf("access token %+v, claims %+v", at, atClaims)
	}

	// A code is good once.
	_, err = conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if oauthError(t, err) != "invalid_grant" || !strings.Contains(iss.LastTokenError(), "already used") {
		t.Fatalf("reused code: %v (%s)", err, iss.LastTokenError())
	}
	if n := iss.TokenRequests(); n != 2 {
		t.Fatalf("token requests %d", n)
	}
}

func TestClientAuthentication(t *testing.T) {
	iss, p, conf := setup(t)
	ctx := t.Context()
	iss.AccessTokenAudience = "console-api"

	// client_secret_post, and a user whose sub is not the username.
	post := conf
	post.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	v := oauth2.GenerateVerifier()
	tok, err := post.Exchange(ctx, login(t, iss, post, "bob", oauth2.S256ChallengeOption(v)), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	at, err := p.Verifier(&oidc.Config{ClientID: "console-api"}).Verify(ctx, tok.AccessToken)
	if err != nil || at.Subject != "user-bob" {
		t.Fatalf("access token %v, %v", at, err)
	}

	// A public client authenticates with nothing but its id and PKCE.
	public := conf
	public.ClientID, public.ClientSecret = "cli", ""
	public.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	v = oauth2.GenerateVerifier()
	tok, err = public.Exchange(ctx, login(t, iss, public, "alice", oauth2.S256ChallengeOption(v)), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verifier(&oidc.Config{ClientID: "cli"}).Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		edit   func(*oauth2.Config)
		status int
	}{
		{"wrong secret basic", func(c *oauth2.Config) { c.ClientSecret = "nope" }, http.StatusUnauthorized},
		{"wrong secret post", func(c *oauth2.Config) {
			c.ClientSecret = "nope"
			c.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		}, http.StatusUnauthorized},
		{"no secret for a confidential client", func(c *oauth2.Config) {
			c.ClientSecret = ""
			c.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		}, http.StatusUnauthorized},
		{"secret for a public client", func(c *oauth2.Config) { c.ClientID = "cli" }, http.StatusUnauthorized},
		{"unknown client", func(c *oauth2.Config) { c.ClientID = "who" }, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			code := login(t, iss, conf, "alice", oauth2.S256ChallengeOption(v))
			c := conf
			tc.edit(&c)
			_, err := c.Exchange(ctx, code, oauth2.VerifierOption(v))
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != tc.status {
				t.Fatalf("exchange: %v", err)
			}
		})
	}
}

func TestTokenRefusals(t *testing.T) {
	iss, _, conf := setup(t)
	ctx := t.Context()
	var offset atomic.Int64 // added to the issuer's clock
	iss.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }

	for _, tc := range []struct {
		name    string
		code    func(verifier string) string
		opts    func(verifier string) []oauth2.AuthCodeOption
		edit    func(*oauth2.Config)
		want    string // OAuth error code
		message string // in LastTokenError
	}{
		{
			name: "wrong verifier",
			opts: func(string) []oauth2.AuthCodeOption {
				return []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}
			},
			want:    "invalid_grant",
			message: "code_verifier does not match",
		},
		{
			name:    "no verifier",
			opts:    func(string) []oauth2.AuthCodeOption { return nil },
			want:    "invalid_request",
			message: "code_verifier is required",
		},
		{
			name:    "short verifier",
			opts:    func(string) []oauth2.AuthCodeOption { return []oauth2.AuthCodeOption{oauth2.VerifierOption("short")} },
			want:    "invalid_request",
			message: "43 to 128",
		},
		{
			name:    "other redirect_uri",
			edit:    func(c *oauth2.Config) { c.RedirectURL = "http://127.0.0.1:9/other" },
			want:    "invalid_grant",
			message: "redirect_uri does not match",
		},
		{
			name:    "unknown code",
			code:    func(string) string { return "made-up" },
			want:    "invalid_grant",
			message: "unknown authorization code",
		},
		{
			name: "expired code",
			code: func(v string) string {
				code := login(t, iss, conf, "alice", oauth2.S256ChallengeOption(v))
				offset.Store(int64(issuer.CodeTTL))
				return code
			},
			want:    "invalid_grant",
			message: "expired",
		},
		{
			name: "code of another client",
			code: func(v string) string {
				other := conf
				other.ClientID = "cli"
				return login(t, iss, other, "alice", oauth2.S256ChallengeOption(v))
			},
			want:    "invalid_grant",
			message: "another client",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offset.Store(0)
			v := oauth2.GenerateVerifier()
			var code string
			if tc.code != nil {
				code = tc.code(v)
			} else {
				code = login(t, iss, conf, "alice", oauth2.S256ChallengeOption(v))
			}
			opts := []oauth2.AuthCodeOption{oauth2.VerifierOption(v)}
			if tc.opts != nil {
				opts = tc.opts(v)
			}
			c := conf
			if tc.edit != nil {
				tc.edit(&c)
			}
			before := iss.TokenRequests()
			_, err := c.Exchange(ctx, code, opts...)
			if got := oauthError(t, err); got != tc.want || !strings.Contains(iss.LastTokenError(), tc.message) {
				t.Fatalf("got %s (%s), want %s (%s)", got, iss.LastTokenError(), tc.want, tc.message)
			}
			if n := iss.TokenRequests(); n != before+1 {
				t.Fatalf("token requests went from %d to %d", before, n)
			}
			if tc.code == nil {
				// A refused exchange burns the code all the same.
				offset.Store(0)
				_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v))
				if oauthError(t, err) != "invalid_grant" || !strings.Contains(iss.LastTokenError(), "already used") {
					t.Fatalf("second try: %v (%s)", err, iss.LastTokenError())
				}
			}
		})
	}

	// Only the authorization code grant exists.
	resp, err := http.PostForm(iss.URL()+"/token", url.Values{"grant_type": {"password"}, "client_id": {"cli"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(iss.LastTokenError(), "unsupported_grant_type") {
		t.Fatalf("password grant: %s (%s)", resp.Status, iss.LastTokenError())
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	iss, _, conf := setup(t)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	valid := func() url.Values {
		return url.Values{
			"client_id":             {"console"},
			"redirect_uri":          {callback},
			"response_type":         {"code"},
			"scope":                 {"openid email"},
			"state":                 {"s"},
			"code_challenge":        {challenge},
			"code_challenge_method": {"S256"},
		}
	}
	for _, tc := range []struct {
		name string
		edit func(url.Values)
		want string // the error code in the redirect, or "page" for a 400 page
		desc string // in the error description
	}{
		{"valid", func(url.Values) {}, "", ""},
		{"unknown client", func(q url.Values) { q.Set("client_id", "who") }, "page", "unknown client_id"},
		{"no client", func(q url.Values) { q.Del("client_id") }, "page", "unknown client_id"},
		{"unregistered redirect_uri", func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9/evil") }, "page", "not registered"},
		{"redirect_uri prefix", func(q url.Values) { q.Set("redirect_uri", callback+"/x") }, "page", "not registered"},
		{"redirect_uri with query", func(q url.Values) { q.Set("redirect_uri", callback+"?x=1") }, "page", "not registered"},
		{"no redirect_uri", func(q url.Values) { q.Del("redirect_uri") }, "page", "redirect_uri is required"},
		{"two redirect_uris", func(q url.Values) { q.Add("redirect_uri", callback) }, "page", "once"},
		{"implicit flow", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type", "only response_type=code"},
		{"no response_type", func(q url.Values) { q.Del("response_type") }, "invalid_request", "response_type is required"},
		{"no openid scope", func(q url.Values) { q.Set("scope", "email") }, "invalid_scope", "openid"},
		{"no PKCE", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request", "PKCE is required"},
		{"no challenge method", func(q url.Values) { q.Del("code_challenge_method") }, "invalid_request", "PKCE is required"},
		{"plain", func(q url.Values) {
			q.Set("code_challenge_method", "plain")
			q.Set("code_challenge", oauth2.GenerateVerifier())
		}, "invalid_request", "transform algorithm not supported"},
		{"no challenge", func(q url.Values) { q.Del("code_challenge") }, "invalid_request", "code_challenge must be"},
		{"malformed challenge", func(q url.Values) { q.Set("code_challenge", challenge[:42]+"=") }, "invalid_request", "code_challenge must be"},
		{"two states", func(q url.Values) { q.Add("state", "t") }, "invalid_request", "state must be given once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := valid()
			tc.edit(q)
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				var resp *http.Response
				var err error
				if method == http.MethodGet {
					resp, err = noRedirect.Get(iss.URL() + "/authorize?" + q.Encode())
				} else {
					form := url.Values{"username": {"alice"}}
					for k, v := range q {
						form[k] = v
					}
					resp, err = noRedirect.PostForm(iss.URL()+"/authorize", form)
				}
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case tc.want == "" && method == http.MethodGet:
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("%s: %s\n%s", method, resp.Status, body)
					}
				case tc.want == "":
					loc, _ := resp.Location()
					if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" {
						t.Fatalf("%s: %s to %v", method, resp.Status, loc)
					}
				case tc.want == "page":
					if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(string(body), tc.desc) {
						t.Fatalf("%s: %s, location %q\n%s", method, resp.Status, resp.Header.Get("Location"), body)
					}
				default:
					loc, err := resp.Location()
					if resp.StatusCode != http.StatusSeeOther || err != nil {
						t.Fatalf("%s: %s\n%s", method, resp.Status, body)
					}
					lq := loc.Query()
					if !strings.HasPrefix(loc.String(), callback+"?") || lq.Get("error") != tc.want ||
						!strings.Contains(lq.Get("error_description"), tc.desc) || lq.Get("state") != q.Get("state") || lq.Has("code") {
						t.Fatalf("%s: redirected to %s", method, loc)
					}
				}
			}
		})
	}

	// The user can refuse, and an unknown user gets the form again.
	authURL := conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	if loc := submit(t, iss, authURL, "alice", "deny"); loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "s" {
		t.Fatalf("deny redirected to %s", loc)
	}
	u, _ := url.Parse(authURL)
	form := u.Query()
	form.Set("username", "mallory")
	resp, err := noRedirect.PostForm(iss.URL()+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `unknown user &#34;mallory&#34;`) || !strings.Contains(string(body), `id="username"`) {
		t.Fatalf("unknown user: %s\n%s", resp.Status, body)
	}
	if iss.TokenRequests() != 0 {
		t.Fatal("no token request was made")
	}
}
