package issuer

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// authRequest is a validated authorization request.
type authRequest struct {
	client      *client
	redirectURI string
	state       string
	scope       string
	nonce       string
	challenge   string
}

// authError is a refused authorization request. When redirect is false the
// client or redirect URI is not trusted, so the error is shown on a page
// instead of being sent back (RFC 6749 section 4.1.2.1).
type authError struct {
	redirect    bool
	code        string // the OAuth error code, e.g. "invalid_request"
	description string
}

// authParams are the parameters the login form carries from the GET to the
// POST of /authorize.
var authParams = []string{
	"client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method",
}

// parseAuthRequest validates the parameters of an authorization request.
func (i *Issuer) parseAuthRequest(q url.Values) (authRequest, *authError) {
	page := func(desc string) *authError { return &authError{code: "invalid_request", description: desc} }
	back := func(code, desc string) *authError { return &authError{redirect: true, code: code, description: desc} }

	if len(q["client_id"]) > 1 || len(q["redirect_uri"]) > 1 {
		return authRequest{}, page("client_id and redirect_uri must be given once")
	}
	c := i.lookupClient(q.Get("client_id"))
	if c == nil {
		return authRequest{}, page("unknown client_id " + quoteOrEmpty(q.Get("client_id")))
	}
	req := authRequest{client: c, redirectURI: q.Get("redirect_uri")}
	if req.redirectURI == "" {
		return authRequest{}, page("redirect_uri is required")
	}
	if !slices.Contains(c.redirectURIs, req.redirectURI) {
		return authRequest{}, page("redirect_uri " + quoteOrEmpty(req.redirectURI) + " is not registered for client " + c.id)
	}
	req.state = q.Get("state")

	for _, name := range authParams {
		if len(q[name]) > 1 {
			return authRequest{}, back("invalid_request", name+" must be given once")
		}
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		return authRequest{}, back("invalid_request", "response_type is required")
	default:
		return authRequest{}, back("unsupported_response_type", "only response_type=code is supported, not "+rt)
	}
	req.scope = q.Get("scope")
	if !slices.Contains(strings.Fields(req.scope), "openid") {
		return authRequest{}, back("invalid_scope", "scope must include openid")
	}
	switch m := q.Get("code_challenge_method"); m {
	case "S256":
	case "":
		return authRequest{}, back("invalid_request", "PKCE is required: code_challenge_method=S256")
	default:
		return authRequest{}, back("invalid_request", "transform algorithm not supported: code_challenge_method "+m+", only S256")
	}
	req.challenge = q.Get("code_challenge")
	if !isS256Challenge(req.challenge) {
		return authRequest{}, back("invalid_request", "code_challenge must be the base64url SHA-256 of the code_verifier (43 characters)")
	}
	req.nonce = q.Get("nonce")
	return req, nil
}

// quoteOrEmpty quotes s for an error page, or says it is empty.
func quoteOrEmpty(s string) string {
	if s == "" {
		return "(empty)"
	}
	return `"` + s + `"`
}

// isS256Challenge reports whether s has the shape of an S256 code
// challenge: 43 base64url characters without padding.
func isS256Challenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for _, r := range s {
		if !isUnreserved(r) || r == '.' || r == '~' {
			return false
		}
	}
	return true
}

// isUnreserved reports whether r is an unreserved URI character, the
// alphabet of code verifiers (RFC 7636 section 4.1).
func isUnreserved(r rune) bool {
	return 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' ||
		r == '-' || r == '.' || r == '_' || r == '~'
}

// fail answers a refused authorization request: a redirect carrying the
// error when the redirect URI is trusted, else a 400 page.
func (i *Issuer) fail(w http.ResponseWriter, r *http.Request, q url.Values, e *authError) {
	if !e.redirect {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_ = errorPage.Execute(w, map[string]string{"Code": e.code, "Description": e.description})
		return
	}
	v := url.Values{"error": {e.code}, "error_description": {e.description}}
	if s := q.Get("state"); s != "" {
		v.Set("state", s)
	}
	http.Redirect(w, r, withQuery(q.Get("redirect_uri"), v), http.StatusSeeOther)
}

// withQuery returns uri with v added to its query.
func withQuery(uri string, v url.Values) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// serveAuthorize validates an authorization request and shows the login
// form.
func (i *Issuer) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if _, e := i.parseAuthRequest(q); e != nil {
		i.fail(w, r, q, e)
		return
	}
	i.showLogin(w, q, http.StatusOK, "")
}

// serveLogin handles the login form: it validates the request again, then
// redirects to the client with a new code for the chosen user, or with
// access_denied when the user pressed deny.
func (i *Issuer) serveLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	q := r.PostForm
	req, e := i.parseAuthRequest(q)
	if e != nil {
		i.fail(w, r, q, e)
		return
	}
	if q.Get("action") == "deny" {
		i.fail(w, r, q, &authError{redirect: true, code: "access_denied", description: "the user denied the request"})
		return
	}
	username := strings.TrimSpace(q.Get("username"))
	if i.lookupUser(username) == nil {
		i.showLogin(w, q, http.StatusUnauthorized, "unknown user "+quoteOrEmpty(username))
		return
	}
	now := i.now()
	code := i.issueCode(&authCode{
		clientID:    req.client.id,
		redirectURI: req.redirectURI,
		challenge:   req.challenge,
		nonce:       req.nonce,
		scope:       req.scope,
		username:    username,
		authTime:    now,
		expires:     now.Add(CodeTTL),
	})
	v := url.Values{"code": {code}}
	if req.state != "" {
		v.Set("state", req.state)
	}
	http.Redirect(w, r, withQuery(req.redirectURI, v), http.StatusSeeOther)
}

// loginData is what the login page shows.
type loginData struct {
	ClientID string
	Users    []string
	Username string // prefilled when there is exactly one user
	Error    string
	Hidden   []hiddenField
}

type hiddenField struct{ Name, Value string }

func (i *Issuer) showLogin(w http.ResponseWriter, q url.Values, status int, errMsg string) {
	d := loginData{ClientID: q.Get("client_id"), Users: i.usernames(), Error: errMsg}
	if len(d.Users) == 1 {
		d.Username = d.Users[0]
	}
	for _, name := range authParams {
		if v := q.Get(name); v != "" {
			d.Hidden = append(d.Hidden, hiddenField{name, v})
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, d)
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Test issuer: log in</title></head>
<body>
<h1>Log in to {{.ClientID}}</h1>
{{if .Error}}<p id="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/authorize">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<label for="username">User</label>
<input id="username" name="username" list="users" autocomplete="off" value="{{.Username}}" autofocus>
<datalist id="users">{{range .Users}}<option value="{{.}}">{{end}}</datalist>
<button type="submit" id="login" name="action" value="login">Log in</button>
<button type="submit" id="deny" name="action" value="deny">Deny</button>
</form>
<p>Test users:</p>
<ul id="user-list">{{range .Users}}<li>{{.}}</li>{{else}}<li>none: call AddUser</li>{{end}}</ul>
</body>
</html>
`))

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Test issuer: error</title></head>
<body>
<h1>Authorization request refused</h1>
<p id="error" role="alert">{{.Code}}: {{.Description}}</p>
</body>
</html>
`))
