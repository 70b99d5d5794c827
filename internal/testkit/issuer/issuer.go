// Package issuer is a local OpenID Connect issuer for tests. It serves a
// discovery document and a key set over plain HTTP on 127.0.0.1 (a loopback
// issuer is allowed to use http), signs tokens with RSA, EC and Ed25519 keys,
// rotates its keys on demand, counts how often it is asked for its key set,
// and builds the hostile tokens that a verifier must refuse.
//
// It also runs the authorization code flow with PKCE (S256 only) for the
// clients and users a test registers, as a browser login would use it:
//
//	iss := issuer.Start(t)
//	iss.RegisterClient("console", "", "http://127.0.0.1:8080/callback")
//	iss.AddUser("alice", map[string]any{"email": "alice@example.com", "groups": []string{"dba"}})
//
// GET /authorize shows a login form (an input with id "username", a button
// with id "login" and one with id "deny"); submitting it redirects to the
// client with a one-time code, which POST /token exchanges for an ID token
// and an access token. See authorize.go and token.go.
package issuer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Defaults of the Issuer's exported fields.
const (
	DefaultAudience = "sluice"
	DefaultSubject  = "agent-1"
	DefaultTTL      = time.Hour
)

// Issuer is a running test issuer. Set the exported fields before minting;
// the methods are safe for concurrent use.
type Issuer struct {
	// Audience is the aud of minted tokens unless the claims set one.
	// Default DefaultAudience.
	Audience string
	// Subject is the sub of minted tokens unless the claims set one.
	// Default DefaultSubject.
	Subject string
	// Now is the clock for iat and exp, and for the expiry of authorization
	// codes. Default time.Now.
	Now func() time.Time
	// AccessTokenAudience is the aud of access tokens that the token
	// endpoint issues. Default: the Audience of minted tokens (so that an
	// access token from a login is accepted where Mint's tokens are); set
	// it to a client's id to get tokens meant for the client itself.
	AccessTokenAudience string

	srv *httptest.Server

	mu      sync.Mutex
	gen     int
	active  map[keyKind]*signingKey // the published keys, one per kind
	retired []*signingKey           // keys no longer published
	down    bool                    // serve 503 on discovery and JWKS
	clients map[string]*client      // by client id
	users   []*user                 // in the order they were added
	codes   map[string]*authCode    // issued authorization codes, by code

	lastTokenError string // the OAuth error of the last token request, "" after a success

	jwksFetches      atomic.Int64
	discoveryFetches atomic.Int64
	tokenRequests    atomic.Int64
}

// New returns an issuer with a fresh set of keys. It starts no server; call
// Start (or use the package-level Start in a test).
func New() *Issuer {
	i := &Issuer{
		clients: map[string]*client{},
		codes:   map[string]*authCode{},
	}
	i.active = newKeys(1)
	i.gen = 1
	return i
}

// Start returns a started issuer that is closed when t ends.
func Start(t testing.TB) *Issuer {
	t.Helper()
	i := New()
	i.Start()
	t.Cleanup(i.Close)
	return i
}

// Start starts the HTTP server on 127.0.0.1. It must be called once.
func (i *Issuer) Start() {
	mux := http.NewServeMux()
	i.routes(mux)
	i.srv = httptest.NewServer(mux)
}

// Close stops the server. It is idempotent.
func (i *Issuer) Close() {
	if i.srv != nil {
		i.srv.Close()
	}
}

// routes registers the issuer's endpoints.
func (i *Issuer) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("GET /jwks", i.serveJWKS)
	mux.HandleFunc("GET /authorize", i.serveAuthorize)
	mux.HandleFunc("POST /authorize", i.serveLogin)
	mux.HandleFunc("POST /token", i.serveToken)
}

// URL is the issuer identifier, e.g. http://127.0.0.1:41234; tokens carry it
// in iss.
func (i *Issuer) URL() string { return i.srv.URL }

// JWKSURL is the location of the key set.
func (i *Issuer) JWKSURL() string { return i.srv.URL + "/jwks" }

// JWKSFetches returns how many times the key set was requested.
func (i *Issuer) JWKSFetches() int64 { return i.jwksFetches.Load() }

// DiscoveryFetches returns how many times the discovery document was
// requested.
func (i *Issuer) DiscoveryFetches() int64 { return i.discoveryFetches.Load() }

// SetDown makes the discovery and key set endpoints answer 503 (true) or
// work again (false), to simulate an unreachable identity provider.
func (i *Issuer) SetDown(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.down = down
}

func (i *Issuer) isDown() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.down
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	i.discoveryFetches.Add(1)
	if i.isDown() {
		http.Error(w, "down for the test", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, map[string]any{
		"issuer":                                i.URL(),
		"jwks_uri":                              i.JWKSURL(),
		"authorization_endpoint":                i.URL() + "/authorize",
		"token_endpoint":                        i.URL() + "/token",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "PS256", "ES256", "EdDSA"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code"},
		"scopes_supported":                      []string{"openid", "profile", "email", "groups"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "name", "email", "groups"},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.jwksFetches.Add(1)
	if i.isDown() {
		http.Error(w, "down for the test", http.StatusServiceUnavailable)
		return
	}
	i.mu.Lock()
	var set jose.JSONWebKeySet
	for _, kind := range kinds {
		k := i.active[kind]
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.id, Use: "sig"})
	}
	i.mu.Unlock()
	writeJSON(w, set)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// Rotate publishes a new key of every kind and retires the old ones: they
// leave the key set, so tokens they signed stop verifying once a verifier
// refetches it.
func (i *Issuer) Rotate() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.gen++
	for _, kind := range kinds {
		i.retired = append(i.retired, i.active[kind])
	}
	i.active = newKeys(i.gen)
}

// KeyID returns the id of the active key that signs alg.
func (i *Issuer) KeyID(alg string) string {
	return i.key(alg).id
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}
