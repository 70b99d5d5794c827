package httpup

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

const clientSecret = "client-secret-Zq9"

// tokenEndpoint is a fake OAuth2 token endpoint for the client credentials
// grant. It checks each request and issues token-1, token-2, ...
type tokenEndpoint struct {
	t         *testing.T
	scope     string // wanted scope parameter
	resource  string // wanted resource parameter, "" for none
	inParams  bool   // the client secret must come in the form body
	expiresIn int
	// status, when set, is the answer instead of a token; the body echoes
	// the client secret, as a careless server might.
	status int

	mu    sync.Mutex
	calls int
}

func (te *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	te.mu.Lock()
	te.calls++
	n := te.calls
	te.mu.Unlock()

	if te.status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(te.status)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":"bad secret %s"}`, clientSecret)
		return
	}
	if r.Method != http.MethodPost {
		te.t.Errorf("token request method %s", r.Method)
	}
	if err := r.ParseForm(); err != nil {
		te.t.Errorf("token request form: %v", err)
	}
	f := r.PostForm
	id, secret := f.Get("client_id"), f.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		if te.inParams {
			te.t.Error("client secret sent in the Authorization header, want the form body")
		}
		id, _ = url.QueryUnescape(user)
		secret, _ = url.QueryUnescape(pass)
	}
	checks := []struct{ name, got, want string }{
		{"grant_type", f.Get("grant_type"), "client_credentials"},
		{"client_id", id, "sluice-client"},
		{"client_secret", secret, clientSecret},
		{"scope", f.Get("scope"), te.scope},
		{"resource", f.Get("resource"), te.resource},
	}
	for _, c := range checks {
		if c.got != c.want {
			te.t.Errorf("token request %s = %q, want %q", c.name, c.got, c.want)
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": fmt.Sprintf("token-%d", n),
		"token_type":   "Bearer",
		"expires_in":   te.expiresIn,
	})
}

func (te *tokenEndpoint) count() int {
	te.mu.Lock()
	defer te.mu.Unlock()
	return te.calls
}

// oauthConfig returns an upstream config for base whose token endpoint is
// tokenURL.
func oauthConfig(base, tokenURL string) Config {
	return Config{
		Name:    "azure",
		BaseURL: base,
		Credential: Credential{OAuth2: &OAuth2{
			TokenURL:     tokenURL,
			ClientID:     "sluice-client",
			ClientSecret: clientSecret,
			Scopes:       []string{"https://management.azure.com/.default"},
		}},
	}
}

func TestOAuth2SharesOneToken(t *testing.T) {
	te := &tokenEndpoint{t: t, scope: "https://management.azure.com/.default", expiresIn: 3600}
	tokSrv := httptest.NewServer(te)
	t.Cleanup(tokSrv.Close)
	rec, srv := newRecorder(t)
	u := newUpstream(t, oauthConfig(srv.URL, tokSrv.URL+"/token"))

	const n = 8
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := u.Do(agentRequest(t, u, "/subscriptions"))
			if err != nil {
				t.Errorf("Do: %v", err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	do(t, u, agentRequest(t, u, "/subscriptions"))

	if got := te.count(); got != 1 {
		t.Errorf("token endpoint called %d times, want 1", got)
	}
	got := rec.received()
	if len(got) != n+1 {
		t.Fatalf("upstream got %d requests, want %d", len(got), n+1)
	}
	for _, h := range got {
		assertNoAgentSecrets(t, h, "X-Api-Key")
		if v := h.Values("Authorization"); len(v) != 1 || v[0] != "Bearer token-1" {
			t.Errorf("Authorization = %q, want [Bearer token-1]", v)
		}
	}
	if got := u.CredentialHeaders(); !slices.Equal(got, []string{"authorization"}) {
		t.Errorf("CredentialHeaders = %q", got)
	}
	if got := u.Secrets(); !slices.Equal(got, []string{clientSecret, "token-1"}) {
		t.Errorf("Secrets = %q, want the client secret and token-1", got)
	}
}

func TestOAuth2Entra(t *testing.T) {
	te := &tokenEndpoint{t: t, scope: "https://management.azure.com/.default", resource: "https://management.core.windows.net/", inParams: true, expiresIn: 3600}
	tokSrv := httptest.NewServer(te)
	t.Cleanup(tokSrv.Close)
	rec, srv := newRecorder(t)
	c := oauthConfig(srv.URL, tokSrv.URL+"/contoso/oauth2/v2.0/token")
	c.Credential.OAuth2.Tenant = "contoso"
	c.Credential.OAuth2.Resource = "https://management.core.windows.net/"
	u := newUpstream(t, c)

	do(t, u, agentRequest(t, u, "/subscriptions"))
	if got := te.count(); got != 1 {
		t.Errorf("token endpoint called %d times, want 1", got)
	}
	if got := rec.received(); len(got) != 1 || got[0].Get("Authorization") != "Bearer token-1" {
		t.Fatalf("upstream received %v", got)
	}
}

func TestOAuth2RefetchesExpiredToken(t *testing.T) {
	// A token valid for one second is inside the early-expiry margin from
	// the start, so every request needs a new one; no waiting involved.
	te := &tokenEndpoint{t: t, scope: "https://management.azure.com/.default", expiresIn: 1}
	tokSrv := httptest.NewServer(te)
	t.Cleanup(tokSrv.Close)
	rec, srv := newRecorder(t)
	u := newUpstream(t, oauthConfig(srv.URL, tokSrv.URL+"/token"))

	do(t, u, agentRequest(t, u, "/a"))
	do(t, u, agentRequest(t, u, "/b"))
	if got := te.count(); got != 2 {
		t.Errorf("token endpoint called %d times, want 2", got)
	}
	got := rec.received()
	if len(got) != 2 || got[0].Get("Authorization") != "Bearer token-1" || got[1].Get("Authorization") != "Bearer token-2" {
		t.Fatalf("upstream received %v, want token-1 then token-2", got)
	}
	if s := u.Secrets(); !slices.Contains(s, "token-2") || slices.Contains(s, "token-1") {
		t.Errorf("Secrets = %q, want the current token-2 only", s)
	}
}

func TestOAuth2TokenEndpointFailure(t *testing.T) {
	for _, entra := range []bool{false, true} {
		t.Run(fmt.Sprintf("entra=%v", entra), func(t *testing.T) {
			te := &tokenEndpoint{t: t, status: http.StatusUnauthorized}
			tokSrv := httptest.NewServer(te)
			t.Cleanup(tokSrv.Close)
			rec, srv := newRecorder(t)
			c := oauthConfig(srv.URL, tokSrv.URL+"/token")
			if entra {
				c.Credential.OAuth2.Tenant = "contoso"
			}
			u := newUpstream(t, c)

			resp, err := u.Do(agentRequest(t, u, "/a"))
			if err == nil {
				resp.Body.Close()
				t.Fatal("Do succeeded without a token")
			}
			if !errors.Is(err, ErrCredential) {
				t.Errorf("error %v does not wrap ErrCredential", err)
			}
			msg := err.Error()
			if strings.Contains(msg, clientSecret) {
				t.Errorf("error contains the client secret: %s", msg)
			}
			want := fmt.Sprintf(`connection "azure": could not obtain a credential: token endpoint at %s/token answered 401 Unauthorized (invalid_client)`, tokSrv.URL)
			if msg != want {
				t.Errorf("error = %q\nwant    %q", msg, want)
			}
			if n := len(rec.received()); n != 0 {
				t.Errorf("upstream got %d requests without a credential", n)
			}
		})
	}
}

func TestOAuth2TokenEndpointUnreachable(t *testing.T) {
	tokSrv := httptest.NewServer(http.NotFoundHandler())
	tokenURL := tokSrv.URL + "/token"
	tokSrv.Close()
	_, srv := newRecorder(t)
	u := newUpstream(t, oauthConfig(srv.URL, tokenURL))

	resp, err := u.Do(agentRequest(t, u, "/a"))
	if err == nil {
		resp.Body.Close()
		t.Fatal("Do succeeded without a token")
	}
	if !errors.Is(err, ErrCredential) || strings.Contains(err.Error(), clientSecret) {
		t.Errorf("error = %v, want ErrCredential without the secret", err)
	}
	if !strings.Contains(err.Error(), "token endpoint at "+tokenURL) {
		t.Errorf("error %q does not name the token endpoint", err)
	}
}

func TestOAuth2TokenEndpointTLS(t *testing.T) {
	te := &tokenEndpoint{t: t, scope: "https://management.azure.com/.default", expiresIn: 3600}
	tokSrv := httptest.NewTLSServer(te)
	t.Cleanup(tokSrv.Close)
	_, srv := newRecorder(t)

	t.Run("without CA file", func(t *testing.T) {
		u := newUpstream(t, oauthConfig(srv.URL, tokSrv.URL+"/token"))
		resp, err := u.Do(agentRequest(t, u, "/a"))
		if err == nil {
			resp.Body.Close()
			t.Fatal("token fetched from an untrusted endpoint")
		}
		if !errors.Is(err, ErrCredential) || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("error = %v, want ErrCredential naming the certificate", err)
		}
	})
	t.Run("with CA file", func(t *testing.T) {
		c := oauthConfig(srv.URL, tokSrv.URL+"/token")
		c.Credential.OAuth2.CAFile = writeCA(t, tokSrv)
		u := newUpstream(t, c)
		do(t, u, agentRequest(t, u, "/a"))
	})
	if got := te.count(); got != 1 {
		t.Errorf("token endpoint answered %d requests, want 1", got)
	}
}

func TestOAuth2TokenRedirectRefused(t *testing.T) {
	thief := &tokenEndpoint{t: t, scope: "https://management.azure.com/.default", expiresIn: 3600}
	thiefSrv := httptest.NewServer(thief)
	t.Cleanup(thiefSrv.Close)
	tokSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, thiefSrv.URL+"/token", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(tokSrv.Close)
	_, srv := newRecorder(t)
	c := oauthConfig(srv.URL, tokSrv.URL+"/token")
	c.Credential.OAuth2.Tenant = "contoso"
	u := newUpstream(t, c)

	resp, err := u.Do(agentRequest(t, u, "/a"))
	if err == nil {
		resp.Body.Close()
		t.Fatal("Do followed the token endpoint's redirect")
	}
	if !errors.Is(err, ErrCredential) || !strings.Contains(err.Error(), "answered 307 Temporary Redirect") {
		t.Errorf("error = %v", err)
	}
	if got := thief.count(); got != 0 {
		t.Errorf("redirect target got %d token requests", got)
	}
}
