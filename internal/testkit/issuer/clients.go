package issuer

import (
	"crypto/rand"
	"encoding/base64"
	"maps"
	"slices"
	"time"
)

// CodeTTL is how long an authorization code can be exchanged after it was
// issued.
const CodeTTL = 60 * time.Second

// client is a registered OAuth client.
type client struct {
	id           string
	secret       string // "" for a public client
	redirectURIs []string
}

// confidential reports whether the client must authenticate at the token
// endpoint.
func (c *client) confidential() bool { return c.secret != "" }

// user is a test user who can log in at the authorization endpoint.
type user struct {
	username string
	claims   map[string]any // copied into ID and access tokens; sub defaults to username
}

// authCode is an issued authorization code and what it is bound to.
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string // the S256 code_challenge
	nonce       string
	scope       string
	username    string
	authTime    time.Time
	expires     time.Time
	used        bool
}

// RegisterClient registers an OAuth client that may use the authorization
// code flow. A client with an empty secret is public: it does not
// authenticate at the token endpoint (PKCE is its only proof). Redirect URIs
// must match exactly. Registering an id again replaces the client.
func (i *Issuer) RegisterClient(id, secret string, redirectURIs ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.clients[id] = &client{id: id, secret: secret, redirectURIs: slices.Clone(redirectURIs)}
}

// AddUser adds a user who can log in at the authorization endpoint. Their
// claims (sub, name, email, groups, ...) go into the ID and access tokens of
// their logins; sub defaults to username. Adding a username again replaces
// the user's claims.
func (i *Issuer) AddUser(username string, claims map[string]any) {
	i.mu.Lock()
	defer i.mu.Unlock()
	u := &user{username: username, claims: maps.Clone(claims)}
	if u.claims == nil {
		u.claims = map[string]any{}
	}
	if _, ok := u.claims["sub"]; !ok {
		u.claims["sub"] = username
	}
	for n, old := range i.users {
		if old.username == username {
			i.users[n] = u
			return
		}
	}
	i.users = append(i.users, u)
}

// TokenRequests returns how many requests the token endpoint received,
// refused ones included.
func (i *Issuer) TokenRequests() int { return int(i.tokenRequests.Load()) }

// LastTokenError returns the OAuth error of the last token request with its
// description, e.g. "invalid_grant: code_verifier does not match the
// code_challenge", or "" if the last token request succeeded (or there was
// none).
func (i *Issuer) LastTokenError() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.lastTokenError
}

// lookupClient returns the client with id, or nil.
func (i *Issuer) lookupClient(id string) *client {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.clients[id]
}

// lookupUser returns the user called username, or nil.
func (i *Issuer) lookupUser(username string) *user {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, u := range i.users {
		if u.username == username {
			return u
		}
	}
	return nil
}

// usernames lists the users in the order they were added.
func (i *Issuer) usernames() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	var out []string
	for _, u := range i.users {
		out = append(out, u.username)
	}
	return out
}

// issueCode stores c under a new random code and returns the code.
func (i *Issuer) issueCode(c *authCode) string {
	code := randomToken()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.codes[code] = c
	return code
}

// redeemCode returns what code is bound to and marks it used. A code used
// before comes back with used set, so that the caller can tell a replay
// from an unknown code (ok false).
func (i *Issuer) redeemCode(code string) (c authCode, ok bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	stored := i.codes[code]
	if stored == nil {
		return authCode{}, false
	}
	c = *stored
	stored.used = true
	return c, true
}

// randomToken returns 32 random bytes in base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
