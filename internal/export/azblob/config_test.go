package azblob_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/export"
	exportazblob "github.com/sluicehq/sluice/internal/export/azblob"
)

const (
	secretKey    = "c2VjcmV0IGtleSBzZWNyZXQga2V5IHNlY3JldCBrZXk="
	secretSig    = "SECRETsig%2Bsig%3D"
	secretSAS    = "sv=2024-08-04&sr=c&sp=rcwl&se=2030-01-01T00%3A00%3A00Z&sig=" + secretSig
	secretClient = "client-secret-value-123"
)

func TestOpenValidation(t *testing.T) {
	const u = "https://acct.blob.core.windows.net/audit"
	entra := &exportazblob.Entra{TenantID: "t", ClientID: "c", ClientSecret: secretClient}
	tests := []struct {
		name string
		c    exportazblob.Config
		want string // in the error
	}{
		{"no credential", exportazblob.Config{ContainerURL: u}, "no credential"},
		{"two credentials", exportazblob.Config{ContainerURL: u, AccountName: "acct", AccountKey: secretKey, SAS: secretSAS}, "AccountKey, SAS"},
		{"no URL", exportazblob.Config{AccountName: "acct", AccountKey: secretKey}, "ContainerURL is required"},
		{"URL with query", exportazblob.Config{ContainerURL: u + "?" + secretSAS, SAS: secretSAS}, "ContainerURL must not have a query"},
		{"URL without container", exportazblob.Config{ContainerURL: "https://acct.blob.core.windows.net/", SAS: secretSAS}, "names no container"},
		{"URL scheme", exportazblob.Config{ContainerURL: "ftp://x/y", SAS: secretSAS}, "http or https"},
		{"URL user", exportazblob.Config{ContainerURL: "https://u:" + secretClient + "@x/y", SAS: secretSAS}, "user information"},
		{"key without name", exportazblob.Config{ContainerURL: u, AccountKey: secretKey}, "AccountName is required"},
		{"bad account name", exportazblob.Config{ContainerURL: u, AccountName: "Bad_Name", AccountKey: secretKey}, "AccountName"},
		{"key not base64", exportazblob.Config{ContainerURL: u, AccountName: "acct", AccountKey: "not base64 " + secretClient}, "AccountKey is not a base64"},
		{"SAS without sig", exportazblob.Config{ContainerURL: u, SAS: "sv=2024&sp=r"}, "no signature"},
		{"SAS with account name", exportazblob.Config{ContainerURL: u, AccountName: "acct", SAS: secretSAS}, "AccountName is only used with AccountKey"},
		{"connection string without container", exportazblob.Config{ConnectionString: "AccountName=a;AccountKey=" + secretKey}, "Container is required"},
		{"connection string and URL", exportazblob.Config{ConnectionString: "AccountName=a;AccountKey=" + secretKey, Container: "audit", ContainerURL: u}, "ContainerURL must be empty"},
		{"connection string malformed", exportazblob.Config{ConnectionString: "garbage " + secretClient, Container: "audit"}, "ConnectionString is malformed"},
		{"bad container", exportazblob.Config{ConnectionString: "AccountName=a;AccountKey=" + secretKey, Container: "Audit_Log"}, "Container"},
		{"container without connection string", exportazblob.Config{ContainerURL: u, SAS: secretSAS, Container: "audit"}, "only used with ConnectionString"},
		{"entra without tenant", exportazblob.Config{ContainerURL: u, Entra: &exportazblob.Entra{ClientID: "c", ClientSecret: secretClient}}, "Entra.TenantID"},
		{"entra without secret", exportazblob.Config{ContainerURL: u, Entra: &exportazblob.Entra{TenantID: "t", ClientID: "c"}}, "Entra.ClientSecret"},
		{"entra over http", exportazblob.Config{ContainerURL: "http://127.0.0.1:1/devstoreaccount1/audit", Entra: entra}, "must be https"},
		{"negative try timeout", exportazblob.Config{ContainerURL: u, SAS: secretSAS, TryTimeout: -1}, "TryTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := exportazblob.Open(t.Context(), tt.c)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error with %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open: %v, want %q in it", err, tt.want)
			}
			for _, s := range []string{secretKey, secretSig, secretClient, "SECRETsig"} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error holds a secret: %v", err)
				}
			}
		})
	}
}

func TestOpenValid(t *testing.T) {
	// Open makes no request without CreateContainer, so these need no server.
	const u = "https://acct.blob.core.windows.net/audit"
	for _, c := range []exportazblob.Config{
		{ContainerURL: u, AccountName: "acct", AccountKey: secretKey},
		{ContainerURL: u, SAS: "?" + secretSAS},
		{ContainerURL: u, Entra: &exportazblob.Entra{TenantID: "tenant", ClientID: "client", ClientSecret: secretClient}},
		{ConnectionString: "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + secretKey + ";EndpointSuffix=core.windows.net", Container: "audit"},
	} {
		s, err := exportazblob.Open(t.Context(), c)
		if err != nil {
			t.Fatalf("Open(%+v): %v", c, err)
		}
		s.Close()
	}
}

func TestRedact(t *testing.T) {
	c := exportazblob.Config{
		ConnectionString: "AccountName=a;AccountKey=" + secretKey + ";SharedAccessSignature=" + secretSAS,
		AccountKey:       secretKey,
		SAS:              secretSAS,
		Entra:            &exportazblob.Entra{ClientSecret: secretClient},
	}
	for _, in := range []string{
		`Put "https://a.blob.core.windows.net/c/x?` + secretSAS + `": dial tcp: refused`,
		"signature sig=" + secretSig + " did not match",
		"decoded SECRETsig+sig= leaked",
		"key " + secretKey + " and secret " + secretClient,
	} {
		out := exportazblob.Redact(c, in)
		for _, s := range []string{secretKey, secretSig, "SECRETsig", secretClient} {
			if strings.Contains(out, s) {
				t.Errorf("Redact(%q) = %q still holds %q", in, out, s)
			}
		}
	}
	const plain = "dial tcp 127.0.0.1:1: connect: connection refused"
	if got := exportazblob.Redact(c, plain); got != plain {
		t.Errorf("Redact changed a text without secrets: %q", got)
	}
}

func TestStatusErrorIs(t *testing.T) {
	tests := []struct {
		e              exportazblob.StatusError
		exists, absent bool
	}{
		{exportazblob.StatusError{Op: "put", StatusCode: 409, Code: "BlobAlreadyExists"}, true, false},
		{exportazblob.StatusError{Op: "put", StatusCode: 412, Code: "ConditionNotMet"}, true, false},
		{exportazblob.StatusError{Op: "put", StatusCode: 412}, true, false},
		{exportazblob.StatusError{Op: "put", StatusCode: 409, Code: "BlobImmutableDueToPolicy"}, true, false},
		{exportazblob.StatusError{Op: "put", StatusCode: 409, Code: "BlobImmutableDueToLegalHold"}, true, false},
		{exportazblob.StatusError{Op: "put", StatusCode: 409, Code: "LeaseIdMissing"}, false, false},
		{exportazblob.StatusError{Op: "put", StatusCode: 404, Code: "ContainerNotFound"}, false, true},
		{exportazblob.StatusError{Op: "put", StatusCode: 403, Code: "AuthenticationFailed"}, false, false},
		{exportazblob.StatusError{Op: "get", StatusCode: 412, Code: "ConditionNotMet"}, false, false},
		{exportazblob.StatusError{Op: "get", StatusCode: 404, Code: "BlobNotFound"}, false, true},
	}
	for _, tt := range tests {
		err := error(&tt.e)
		if got := errors.Is(err, export.ErrExists); got != tt.exists {
			t.Errorf("%v: Is(ErrExists) = %v, want %v", err, got, tt.exists)
		}
		if got := errors.Is(err, fs.ErrNotExist); got != tt.absent {
			t.Errorf("%v: Is(fs.ErrNotExist) = %v, want %v", err, got, tt.absent)
		}
	}
}
