package issuer

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
)

// tokenError is a refused token request (RFC 6749 section 5.2).
type tokenError struct {
	status      int
	code        string
	description string
	basic       bool // the client tried HTTP Basic: answer with WWW-Authenticate
}

func (e *tokenError) String() string { return e.code + ": " + e.description }

func badRequest(code, desc string) *tokenError {
	return &tokenError{status: http.StatusBadRequest, code: code, description: desc}
}

// serveToken exchanges an authorization code for an ID token and an access
// token, and records the outcome for TokenRequests and LastTokenError.
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	i.tokenRequests.Add(1)
	resp, terr := i.exchange(r)
	i.mu.Lock()
	i.lastTokenError = ""
	if terr != nil {
		i.lastTokenError = terr.String()
	}
	i.mu.Unlock()

	w.Header().Set("Pragma", "no-cache")
	if terr == nil {
		writeJSON(w, resp)
		return
	}
	if terr.basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="test issuer"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(terr.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": terr.code, "error_description": terr.description})
}

// exchange checks a token request and mints the tokens.
func (i *Issuer) exchange(r *http.Request) (map[string]any, *tokenError) {
	if err := r.ParseForm(); err != nil {
		return nil, badRequest("invalid_request", "cannot parse the form: "+err.Error())
	}
	form := r.PostForm
	for _, name := range []string{"grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret"} {
		if len(form[name]) > 1 {
			return nil, badRequest("invalid_request", name+" must be given once")
		}
	}
	c, terr := i.authenticateClient(r, form)
	if terr != nil {
		return nil, terr
	}
	if gt := form.Get("grant_type"); gt != "authorization_code" {
		return nil, badRequest("unsupported_grant_type", "only grant_type=authorization_code is supported, not "+quoteOrEmpty(gt))
	}
	code := form.Get("code")
	if code == "" {
		return nil, badRequest("invalid_request", "code is required")
	}
	ac, ok := i.redeemCode(code)
	switch {
	case !ok:
		return nil, badRequest("invalid_grant", "unknown authorization code")
	case ac.used:
		return nil, badRequest("invalid_grant", "authorization code was already used")
	case ac.clientID != c.id:
		return nil, badRequest("invalid_grant", "authorization code was issued to another client")
	case !i.now().Before(ac.expires):
		return nil, badRequest("invalid_grant", "authorization code expired")
	case form.Get("redirect_uri") != ac.redirectURI:
		return nil, badRequest("invalid_grant", "redirect_uri does not match the authorization request's")
	}
	verifier := form.Get("code_verifier")
	if verifier == "" {
		return nil, badRequest("invalid_request", "code_verifier is required")
	}
	if !isVerifier(verifier) {
		return nil, badRequest("invalid_request", "code_verifier must be 43 to 128 unreserved characters")
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(ac.challenge)) != 1 {
		return nil, badRequest("invalid_grant", "code_verifier does not match the code_challenge")
	}

	u := i.lookupUser(ac.username)
	id := maps.Clone(u.claims)
	id["aud"] = c.id
	id["azp"] = c.id
	id["auth_time"] = ac.authTime.Unix()
	if ac.nonce != "" {
		id["nonce"] = ac.nonce
	}
	access := maps.Clone(u.claims)
	access["aud"] = i.accessTokenAudience()
	access["client_id"] = c.id
	access["scope"] = ac.scope
	return map[string]any{
		"id_token":     i.Mint(id),
		"access_token": i.Mint(access),
		"token_type":   "Bearer",
		"expires_in":   int(DefaultTTL.Seconds()),
		"scope":        ac.scope,
	}, nil
}

// authenticateClient identifies the client of a token request, by HTTP
// Basic (client_secret_basic), by client_id and client_secret in the form
// (client_secret_post), or by client_id alone for a public client.
func (i *Issuer) authenticateClient(r *http.Request, form url.Values) (*client, *tokenError) {
	unauthorized := func(desc string, basic bool) *tokenError {
		return &tokenError{status: http.StatusUnauthorized, code: "invalid_client", description: desc, basic: basic}
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 section 2.3.1: both are form-encoded before Basic.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, unauthorized("malformed Basic credentials", true)
		}
		if form.Has("client_secret") {
			return nil, badRequest("invalid_request", "use one client authentication method, not Basic and client_secret")
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return nil, badRequest("invalid_request", "client_id differs from the Basic user")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id == "" {
		return nil, unauthorized("no client authentication", false)
	}
	c := i.lookupClient(id)
	if c == nil {
		return nil, unauthorized("unknown client "+quoteOrEmpty(id), basic)
	}
	if !c.confidential() {
		if secret != "" {
			return nil, unauthorized("client "+id+" is public and has no secret", basic)
		}
		return c, nil
	}
	if secret == "" {
		return nil, unauthorized("client "+id+" is confidential: authenticate with client_secret_basic or client_secret_post", basic)
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) != 1 {
		return nil, unauthorized("wrong client secret for "+id, basic)
	}
	return c, nil
}

// accessTokenAudience is the aud of access tokens from the token endpoint.
func (i *Issuer) accessTokenAudience() string {
	switch {
	case i.AccessTokenAudience != "":
		return i.AccessTokenAudience
	case i.Audience != "":
		return i.Audience
	}
	return DefaultAudience
}

// isVerifier reports whether s is a well-formed code verifier (RFC 7636
// section 4.1).
func isVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return !isUnreserved(r) }) < 0
}
