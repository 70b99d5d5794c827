package httpup

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCredentialKinds(t *testing.T) {
	tests := []struct {
		name       string
		cred       Credential
		header     string // header that must carry the credential
		want       string // its only value
		credHeader []string
		secrets    []string
	}{
		{
			name: "none",
		},
		{
			name:       "header",
			cred:       Credential{Header: "x-api-key", Value: "sluice-key"},
			header:     "X-Api-Key",
			want:       "sluice-key",
			credHeader: []string{"x-api-key"},
			secrets:    []string{"sluice-key"},
		},
		{
			name:       "bearer",
			cred:       Credential{Bearer: "sluice-bearer"},
			header:     "Authorization",
			want:       "Bearer sluice-bearer",
			credHeader: []string{"authorization"},
			secrets:    []string{"sluice-bearer"},
		},
		{
			name:       "basic",
			cred:       Credential{BasicUser: "svc", BasicPassword: "sluice-pw"},
			header:     "Authorization",
			want:       "Basic " + base64.StdEncoding.EncodeToString([]byte("svc:sluice-pw")),
			credHeader: []string{"authorization"},
			secrets:    []string{"sluice-pw", base64.StdEncoding.EncodeToString([]byte("svc:sluice-pw"))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, srv := newRecorder(t)
			u := newUpstream(t, Config{Name: "api", BaseURL: srv.URL + "/base", Credential: tt.cred})
			req := agentRequest(t, u, "/v1/items")
			do(t, u, req)

			got := rec.received()
			if len(got) != 1 {
				t.Fatalf("upstream got %d requests, want 1", len(got))
			}
			h := got[0]
			if tt.header == "X-Api-Key" {
				assertNoAgentSecrets(t, h)
			} else {
				// A header is stripped only when it carries sluice's
				// credential; the proxy removes the agent's own token.
				assertNoAgentSecrets(t, h, "X-Api-Key")
				if v := h.Values("X-Api-Key"); len(v) != 1 || v[0] != "agent-key" {
					t.Errorf("X-Api-Key = %q, want it forwarded", v)
				}
			}
			if tt.header != "" {
				if v := h.Values(tt.header); len(v) != 1 || v[0] != tt.want {
					t.Errorf("%s = %q, want [%q]", tt.header, v, tt.want)
				}
			}
			if tt.header != "Authorization" {
				if v := h.Values("Authorization"); len(v) != 0 {
					t.Errorf("Authorization = %q, want none", v)
				}
			}
			if rec.paths[0] != "/base/v1/items" {
				t.Errorf("path %q, want /base/v1/items", rec.paths[0])
			}
			if got := u.CredentialHeaders(); !slices.Equal(got, tt.credHeader) {
				t.Errorf("CredentialHeaders = %q, want %q", got, tt.credHeader)
			}
			if got := u.Secrets(); !slices.Equal(got, tt.secrets) {
				t.Errorf("Secrets = %q, want %q", got, tt.secrets)
			}
			// The caller's request is left as it was.
			if req.Header.Get("Authorization") != "Bearer agent-token" || req.Header.Get("Connection") == "" {
				t.Errorf("Do modified the caller's request headers: %v", req.Header)
			}
		})
	}
}

func TestTLSVerification(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewTLSServer(rec)
	t.Cleanup(srv.Close)

	t.Run("without CA file", func(t *testing.T) {
		u := newUpstream(t, Config{Name: "api", BaseURL: srv.URL, Credential: Credential{Bearer: "sluice-bearer"}})
		resp, err := u.Do(agentRequest(t, u, "/x"))
		if err == nil {
			resp.Body.Close()
			t.Fatal("Do succeeded against an untrusted certificate")
		}
		var verr *tls.CertificateVerificationError
		if !errors.As(err, &verr) {
			t.Errorf("error %v is not a certificate verification error", err)
		}
		if strings.Contains(err.Error(), "sluice-bearer") {
			t.Errorf("error leaks the bearer token: %v", err)
		}
	})
	t.Run("with CA file", func(t *testing.T) {
		u := newUpstream(t, Config{Name: "api", BaseURL: srv.URL, CAFile: writeCA(t, srv), Credential: Credential{Bearer: "sluice-bearer"}})
		do(t, u, agentRequest(t, u, "/x"))
		got := rec.received()
		if len(got) != 1 || got[0].Get("Authorization") != "Bearer sluice-bearer" {
			t.Fatalf("upstream received %v", got)
		}
	})
}

func TestRedirectNotFollowed(t *testing.T) {
	rec, other := newRecorder(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/stolen", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	u := newUpstream(t, Config{Name: "api", BaseURL: srv.URL, Credential: Credential{Bearer: "sluice-bearer"}})
	resp, err := u.Do(agentRequest(t, u, "/x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d, want 302 passed through", resp.StatusCode)
	}
	if n := len(rec.received()); n != 0 {
		t.Errorf("redirect target got %d requests", n)
	}
}

// closeRecorder is a request body that records whether it was closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestDoRefusesOtherTarget(t *testing.T) {
	rec, other := newRecorder(t)
	_, srv := newRecorder(t)
	u := newUpstream(t, Config{Name: "api", BaseURL: srv.URL, Credential: Credential{Bearer: "sluice-bearer"}})
	body := &closeRecorder{Reader: strings.NewReader("x")}
	req, err := http.NewRequest(http.MethodPost, other.URL+"/x", body)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := u.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("Do sent a request to another host")
	}
	if n := len(rec.received()); n != 0 {
		t.Errorf("other host got %d requests", n)
	}
	if !body.closed {
		t.Error("request body not closed on error")
	}
}

func TestRoundTripperWithClient(t *testing.T) {
	rec, srv := newRecorder(t)
	u := newUpstream(t, Config{Name: "api", BaseURL: srv.URL, Credential: Credential{Header: "X-Api-Key", Value: "sluice-key"}})
	target, err := u.URL("/a", "q=1")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: u}).Get(target.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := rec.received(); len(got) != 1 || got[0].Get("X-Api-Key") != "sluice-key" {
		t.Fatalf("upstream received %v", got)
	}
}

func TestNewCAFileErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ca := range []string{filepath.Join(dir, "missing.pem"), notPEM} {
		if _, err := New(Config{Name: "api", BaseURL: "https://example.com", CAFile: ca}); err == nil {
			t.Errorf("New accepted CA file %s", ca)
		}
		o := &OAuth2{TokenURL: "https://example.com/token", ClientID: "id", ClientSecret: "s", CAFile: ca}
		if _, err := New(Config{Name: "api", BaseURL: "https://example.com", Credential: Credential{OAuth2: o}}); err == nil {
			t.Errorf("New accepted OAuth2 CA file %s", ca)
		}
	}
}
