package httpup

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	oauth := func() *OAuth2 {
		return &OAuth2{TokenURL: "https://login.example.com/token", ClientID: "id", ClientSecret: "top-secret"}
	}
	tests := []struct {
		name string
		c    Config
		want string // substring of the error; "" means valid
	}{
		{"minimal", Config{BaseURL: "https://api.example.com"}, ""},
		{"loopback http", Config{BaseURL: "http://127.0.0.1:8080/base"}, ""},
		{"localhost http", Config{BaseURL: "http://localhost:8080"}, ""},
		{"ipv6 loopback http", Config{BaseURL: "http://[::1]:8080"}, ""},
		{"header", Config{BaseURL: "https://a.example", Credential: Credential{Header: "x-api-key", Value: "k"}}, ""},
		{"bearer", Config{BaseURL: "https://a.example", Credential: Credential{Bearer: "b"}}, ""},
		{"basic", Config{BaseURL: "https://a.example", Credential: Credential{BasicUser: "u", BasicPassword: "p"}}, ""},
		{"oauth2", Config{BaseURL: "https://a.example", Credential: Credential{OAuth2: oauth()}}, ""},
		{"oauth2 tenant", Config{BaseURL: "https://a.example", Credential: Credential{OAuth2: &OAuth2{Tenant: "contoso.onmicrosoft.com", ClientID: "id", ClientSecret: "s"}}}, ""},
		{"oauth2 loopback token url", Config{BaseURL: "https://a.example", Credential: Credential{OAuth2: &OAuth2{TokenURL: "http://127.0.0.1:9/token", ClientID: "id", ClientSecret: "s"}}}, ""},

		{"base missing", Config{}, "base_url: required"},
		{"base relative", Config{BaseURL: "/api"}, "base_url: \"/api\" is not an absolute URL"},
		{"base scheme", Config{BaseURL: "ftp://a.example"}, "base_url: \"ftp://a.example\" must use https"},
		{"base plain http", Config{BaseURL: "http://a.example"}, "base_url: \"http://a.example\" must use https (http is allowed only on loopback)"},
		{"base user info", Config{BaseURL: "https://u:hunter2@a.example"}, "base_url: must not contain user info"},
		{"base query", Config{BaseURL: "https://a.example/?x=1"}, "base_url: \"https://a.example/?x=1\" must not have a query or fragment"},
		{"base dots", Config{BaseURL: "https://a.example/a/../b"}, "must not contain . or .. path segments"},
		{"negative timeout", Config{BaseURL: "https://a.example", Timeout: -1}, "timeout: must not be negative"},
		{"two kinds", Config{BaseURL: "https://a.example", Credential: Credential{Bearer: "b", OAuth2: oauth()}},
			"credential: set only one of header, bearer, basic, oauth2 (bearer and oauth2 are set)"},
		{"header without value", Config{BaseURL: "https://a.example", Credential: Credential{Header: "x-api-key"}}, "credential.value: required"},
		{"value without header", Config{BaseURL: "https://a.example", Credential: Credential{Value: "v"}}, "credential.header: required"},
		{"bad header name", Config{BaseURL: "https://a.example", Credential: Credential{Header: "x api", Value: "v"}}, "credential.header: \"x api\" is not a valid header name"},
		{"hop header", Config{BaseURL: "https://a.example", Credential: Credential{Header: "Connection", Value: "v"}}, "credential.header: \"Connection\" cannot carry a credential"},
		{"value with newline", Config{BaseURL: "https://a.example", Credential: Credential{Header: "x-k", Value: "a\r\nX-Evil: 1"}}, "credential.value: contains a control character"},
		{"bearer with newline", Config{BaseURL: "https://a.example", Credential: Credential{Bearer: "a\nb"}}, "credential.bearer: contains a control character"},
		{"basic without user", Config{BaseURL: "https://a.example", Credential: Credential{BasicPassword: "p"}}, "credential.basic.user: required"},
		{"basic user colon", Config{BaseURL: "https://a.example", Credential: Credential{BasicUser: "a:b", BasicPassword: "p"}}, "credential.basic.user: must not contain a colon"},
		{"oauth2 no endpoint", Config{BaseURL: "https://a.example", Credential: Credential{OAuth2: &OAuth2{ClientID: "id", ClientSecret: "s"}}}, "credential.oauth2.token_url: required (or set tenant for Entra ID)"},
		{"oauth2 plain http", Config{BaseURL: "https://a.example", Credential: Credential{OAuth2: &OAuth2{TokenURL: "http://login.example.com/token", ClientID: "id", ClientSecret: "s"}}}, "credential.oauth2.token_url: \"http://login.example.com/token\" must use https"},
		{"oauth2 bad tenant", Config{BaseURL: "https://a.example", Credential: Credential{OAuth2: &OAuth2{Tenant: "../evil", ClientID: "id", ClientSecret: "s"}}}, "credential.oauth2.tenant: \"../evil\" is not a tenant ID or domain"},
		{"oauth2 no client", Config{BaseURL: "https://a.example", Credential: Credential{OAuth2: &OAuth2{TokenURL: "https://l.example/t"}}}, "credential.oauth2.client_id: required"},
		{"oauth2 no secret", Config{BaseURL: "https://a.example", Credential: Credential{OAuth2: &OAuth2{TokenURL: "https://l.example/t", ClientID: "id"}}}, "credential.oauth2.client_secret: required"},
		{"oauth2 bad scope", Config{BaseURL: "https://a.example", Credential: Credential{OAuth2: &OAuth2{TokenURL: "https://l.example/t", ClientID: "id", ClientSecret: "s", Scopes: []string{"a b"}}}}, "credential.oauth2.scopes[0]: must be one non-empty scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("Validate accepted the config, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("Validate = %q, want it to contain %q", err, tt.want)
			}
			if err != nil {
				for _, secret := range []string{"hunter2", "top-secret", "X-Evil"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q contains a secret", err)
					}
				}
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Config{Timeout: -1, Credential: Credential{Header: "x-k"}}.Validate()
	if err == nil {
		t.Fatal("Validate accepted the config")
	}
	for _, want := range []string{"base_url:", "timeout:", "credential.value:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestTenantTokenURL(t *testing.T) {
	o := &OAuth2{Tenant: "contoso.onmicrosoft.com"}
	if got, want := o.tokenURL(), "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"; got != want {
		t.Errorf("tokenURL = %s, want %s", got, want)
	}
	if !o.entra() {
		t.Error("tenant is not treated as Entra ID")
	}
	o = &OAuth2{Tenant: "contoso", TokenURL: "https://login.example.com/token"}
	if got := o.tokenURL(); got != o.TokenURL {
		t.Errorf("tokenURL = %s, want the explicit TokenURL", got)
	}
	if (&OAuth2{TokenURL: "https://idp.example.com/token"}).entra() {
		t.Error("generic endpoint treated as Entra ID")
	}
	if !(&OAuth2{TokenURL: "https://login.microsoftonline.com/t/oauth2/token"}).entra() {
		t.Error("Entra endpoint without tenant not recognised")
	}
}
