package azblob_test

import (
	"reflect"
	"strings"
	"testing"

	exportazblob "github.com/sluicehq/sluice/internal/export/azblob"
)

func TestParseURL(t *testing.T) {
	const cs = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
	tests := []struct {
		name string
		url  string
		env  map[string]string
		want exportazblob.Config
	}{
		{
			name: "shared key, production endpoint, prefix gets a slash",
			url:  "azure://acct/audit/sluice/prod-1",
			env:  map[string]string{"AZURE_STORAGE_KEY": "a2V5"},
			want: exportazblob.Config{ContainerURL: "https://acct.blob.core.windows.net/audit", Prefix: "sluice/prod-1/", AccountName: "acct", AccountKey: "a2V5"},
		},
		{
			name: "prefix with slash, SAS",
			url:  "azure://acct/audit/sluice/prod-1/",
			env:  map[string]string{"AZURE_STORAGE_SAS_TOKEN": "sv=1&sig=x"},
			want: exportazblob.Config{ContainerURL: "https://acct.blob.core.windows.net/audit", Prefix: "sluice/prod-1/", SAS: "sv=1&sig=x"},
		},
		{
			name: "no prefix",
			url:  "azure://acct/audit",
			env:  map[string]string{"AZURE_STORAGE_SAS_TOKEN": "sv=1&sig=x"},
			want: exportazblob.Config{ContainerURL: "https://acct.blob.core.windows.net/audit", SAS: "sv=1&sig=x"},
		},
		{
			name: "Azurite default endpoint",
			url:  "azure://devstoreaccount1/audit/p",
			env:  map[string]string{"AZURE_STORAGE_KEY": "a2V5"},
			want: exportazblob.Config{ContainerURL: "http://127.0.0.1:10000/devstoreaccount1/audit", Prefix: "p/", AccountName: "devstoreaccount1", AccountKey: "a2V5"},
		},
		{
			name: "endpoint from environment, account appended",
			url:  "azure://devstoreaccount1/audit/p",
			env:  map[string]string{"AZURE_STORAGE_KEY": "a2V5", "AZURE_STORAGE_ENDPOINT": "http://127.0.0.1:4321"},
			want: exportazblob.Config{ContainerURL: "http://127.0.0.1:4321/devstoreaccount1/audit", Prefix: "p/", AccountName: "devstoreaccount1", AccountKey: "a2V5"},
		},
		{
			name: "endpoint parameter wins over environment",
			url:  "azure://devstoreaccount1/audit/p?endpoint=http%3A%2F%2Flocalhost%3A5555%2Fdevstoreaccount1%2F",
			env:  map[string]string{"AZURE_STORAGE_KEY": "a2V5", "AZURE_STORAGE_ENDPOINT": "http://127.0.0.1:4321"},
			want: exportazblob.Config{ContainerURL: "http://localhost:5555/devstoreaccount1/audit", Prefix: "p/", AccountName: "devstoreaccount1", AccountKey: "a2V5"},
		},
		{
			name: "private endpoint host",
			url:  "azure://acct/audit?endpoint=https://acct.privatelink.blob.core.windows.net/",
			env:  map[string]string{"AZURE_STORAGE_KEY": "a2V5"},
			want: exportazblob.Config{ContainerURL: "https://acct.privatelink.blob.core.windows.net/audit", AccountName: "acct", AccountKey: "a2V5"},
		},
		{
			name: "connection string wins and gives the endpoint",
			url:  "azure://devstoreaccount1/audit/p",
			env:  map[string]string{"AZURE_STORAGE_CONNECTION_STRING": cs, "AZURE_STORAGE_KEY": "a2V5", "AZURE_STORAGE_ENDPOINT": "http://127.0.0.1:4321"},
			want: exportazblob.Config{ConnectionString: cs, Container: "audit", Prefix: "p/"},
		},
		{
			name: "key wins over SAS",
			url:  "azure://acct/audit",
			env:  map[string]string{"AZURE_STORAGE_KEY": "a2V5", "AZURE_STORAGE_SAS_TOKEN": "sv=1&sig=x"},
			want: exportazblob.Config{ContainerURL: "https://acct.blob.core.windows.net/audit", AccountName: "acct", AccountKey: "a2V5"},
		},
		{
			name: "Entra from the environment",
			url:  "azure://acct/audit",
			env:  map[string]string{"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s"},
			want: exportazblob.Config{ContainerURL: "https://acct.blob.core.windows.net/audit", Entra: &exportazblob.Entra{TenantID: "t", ClientID: "c", ClientSecret: "s"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := exportazblob.ParseURLEnv(tt.url, func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	key := map[string]string{"AZURE_STORAGE_KEY": "a2V5"}
	tests := []struct {
		name, url string
		env       map[string]string
		want      string
	}{
		{"scheme", "https://acct/audit", key, "scheme must be azure"},
		{"no account", "azure:///audit", key, "names no account"},
		{"bad account", "azure://Acct_1/audit", key, "lowercase letters and digits"},
		{"no container", "azure://acct", key, "names no container"},
		{"no container, slash", "azure://acct/", key, "names no container"},
		{"bad container", "azure://acct/Audit", key, "container name"},
		{"credentials in URL", "azure://user:pw@acct/audit", key, "must not hold credentials"},
		{"unknown parameter", "azure://acct/audit?sig=abc", key, `unknown parameter "sig"`},
		{"no credential", "azure://acct/audit", nil, "no credential"},
		{"partial Entra", "azure://acct/audit", map[string]string{"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}, "no credential"},
		{"endpoint not http", "azure://acct/audit?endpoint=ftp://x", key, "not an http(s) URL"},
		{"endpoint with query", "azure://acct/audit?endpoint=" + "http%3A%2F%2F127.0.0.1%3A1%2F%3Fsig%3Dsecret", key, "bare blob service URL"},
		{"endpoint for another account", "azure://acct/audit?endpoint=http://127.0.0.1:1/devstoreaccount1", key, `for account "devstoreaccount1"`},
		{"connection string for another account", "azure://acct/audit", map[string]string{"AZURE_STORAGE_CONNECTION_STRING": "AccountName=other;AccountKey=a2V5"}, `is for account "other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := exportazblob.ParseURLEnv(tt.url, func(k string) string { return tt.env[k] })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "a2V5") || strings.Contains(err.Error(), ":pw@") {
				t.Fatalf("error holds a secret: %v", err)
			}
		})
	}
}
